import { createHash } from 'node:crypto';
import type { Db } from '../db/pool.js';
import { findMedia as findMediaRow } from '../db/queries/media.js';
import { completeUpload as completeUploadRow, findUpload, insertUpload, type UploadRow } from '../db/queries/uploads.js';
import { objectKeyFor } from '../storage/object-key.js';
import type { ObjectFacts, Store } from '../storage/store.js';
import { checkUploadApplication } from './applications.js';
import type { Principal } from './principal.js';
import { Conflict, Forbidden, InvalidRequest, MediaNotFound, NotFound } from './errors.js';
import { isSid, newSid } from './ids.js';
import { mediaFromRow, parseContentType, parseFilename, parseKind, type Media } from './media.js';

/**
 * Direct uploads: the bytes go from the client to the store with a URL signed for one
 * PUT of exactly the declared size and type, never through the service; completing the
 * upload checks what the store holds and creates the media as an upload through the
 * service does (its protection read from the switch at that moment).
 */
export interface UploadDeps {
  db: Db;
  store: Store;
  clock: () => Date;
  mediaMaxBytes: number;
  /** how long an upload URL lives (UPLOAD_URL_TTL_SECONDS) */
  uploadUrlTtlSeconds: number;
}

export interface UploadRequest {
  kind: unknown;
  contentType: string;
  sizeBytes: number;
  filename: string | undefined;
  sha256: string | undefined;
  applicationId: string | undefined;
}

export interface StartedUpload {
  uploadId: string;
  url: string;
  method: 'PUT';
  /** the headers the PUT must carry, exactly */
  headers: Record<string, string>;
  expiresAt: Date;
}

export async function startUpload(deps: UploadDeps, principal: Principal, accountSid: string, request: UploadRequest): Promise<StartedUpload> {
  const kind = parseKind(request.kind);
  const contentType = parseContentType(request.contentType);
  const filename = parseFilename(request.filename);
  if (!Number.isSafeInteger(request.sizeBytes) || request.sizeBytes < 1) throw new InvalidRequest('size_bytes must be a whole number of bytes, at least 1');
  if (request.sizeBytes > deps.mediaMaxBytes) throw new InvalidRequest(`size_bytes is over the limit of ${deps.mediaMaxBytes} bytes (MEDIA_MAX_BYTES)`);
  const sha256 = request.sha256?.toLowerCase();
  if (sha256 !== undefined && !/^[0-9a-f]{64}$/.test(sha256)) throw new InvalidRequest('sha256 must be 64 hexadecimal digits');
  const applicationId = request.applicationId?.toLowerCase() ?? null;
  if (applicationId !== null) await checkUploadApplication(deps.db, accountSid, applicationId, principal);

  const uploadId = newSid('UP');
  const mediaSid = newSid('ME');
  const objectKey = objectKeyFor(accountSid, mediaSid);
  const signedAt = deps.clock();
  const expiresAt = new Date((Math.floor(signedAt.getTime() / 1000) + deps.uploadUrlTtlSeconds) * 1000);
  const signed = await deps.store.signUpload({ key: objectKey, contentType, sizeBytes: request.sizeBytes, sha256, signedAt, ttlSeconds: deps.uploadUrlTtlSeconds });
  await insertUpload(
    deps.db,
    {
      upload_id: uploadId,
      account_sid: accountSid,
      media_sid: mediaSid,
      object_key: objectKey,
      kind,
      content_type: contentType,
      size_bytes: request.sizeBytes,
      filename,
      sha256: sha256 ?? null,
      application_id: applicationId,
      url_expires_at: expiresAt,
    },
    { upload_id: uploadId, media_sid: mediaSid, size_bytes: request.sizeBytes, content_type: contentType, created_by: principal.credentialSid },
  );
  return { uploadId, url: signed.url, method: 'PUT', headers: signed.headers, expiresAt };
}

/**
 * Creates the media from what the store holds, once. Completing again answers the same
 * media. An object that is not there yet, or not of the declared size, type or sha256,
 * is a 409 and nothing is created; one that does not match is also removed (the URL may
 * still be used again until it expires). The store is asked outside any transaction, and
 * the media is created in one statement that completes the upload only if no other
 * completion did: two round trips to PostgreSQL instead of six, and no connection held
 * while the store answers (docs/performance.md, "Direct uploads").
 */
export async function completeUpload(deps: UploadDeps, principal: Principal, accountSid: string, uploadId: string): Promise<{ media: Media; created: boolean }> {
  if (!isSid(uploadId, 'UP')) throw new NotFound('no such upload');
  const upload = await findUpload(deps.db, accountSid, uploadId);
  if (!upload) throw new NotFound('no such upload');
  // An application completes the uploads it may: its own, or those of no application.
  if (principal.type === 'application' && upload.application_id !== null && upload.application_id !== principal.credentialSid) {
    throw new Forbidden('this upload belongs to another application');
  }
  if (upload.completed_at) return { media: await completedMedia(deps.db, upload), created: false };

  const facts = await deps.store.stat(upload.object_key);
  if (!facts) throw new Conflict('the object has not been uploaded: PUT it to the upload URL first');
  const problem = await mismatch(deps.store, upload, facts);
  if (problem) {
    await deps.store.delete(upload.object_key);
    throw new Conflict(`the uploaded object does not match the upload: ${problem}; it was removed`);
  }
  const row = await completeUploadRow(deps.db, accountSid, uploadId, facts.sha256 ?? null);
  if (row) return { media: mediaFromRow(row), created: true };
  // Another completion came first (its media, answered as completing again does), or the
  // upload is gone: its account deleted, or gc removed it once its URL expired.
  const now = await findUpload(deps.db, accountSid, uploadId);
  if (!now?.completed_at) throw new NotFound('no such upload');
  return { media: await completedMedia(deps.db, now), created: false };
}

async function completedMedia(db: Db, upload: UploadRow): Promise<Media> {
  const row = await findMediaRow(db, upload.account_sid, upload.media_sid);
  // Completed, then deleted (or past retention) since.
  if (!row) throw new MediaNotFound();
  return mediaFromRow(row);
}

/** What differs between the upload as declared and the object the store holds, or undefined. */
async function mismatch(store: Store, upload: UploadRow, facts: ObjectFacts): Promise<string | undefined> {
  if (facts.sizeBytes !== upload.size_bytes) return `${facts.sizeBytes} bytes, not ${upload.size_bytes}`;
  if (facts.contentType !== undefined && facts.contentType !== upload.content_type) return `Content-Type ${facts.contentType}, not ${upload.content_type}`;
  if (upload.sha256 === null) return undefined;
  // The store's own checksum where it keeps one (S3 checked the PUT against it);
  // otherwise the bytes are read back once, the only time they pass through the service.
  const sha256 = facts.sha256 ?? (await digestOf(store, upload.object_key));
  return sha256 === upload.sha256 ? undefined : 'its sha256 differs from the declared one';
}

async function digestOf(store: Store, key: string): Promise<string | undefined> {
  const body = await store.read(key);
  if (!body) return undefined;
  const hash = createHash('sha256');
  for await (const chunk of body) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
