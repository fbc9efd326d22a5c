import { Readable } from 'node:stream';
import type { Db } from '../db/pool.js';
import {
  deleteMedia as deleteMediaRow,
  findMedia as findMediaRow,
  insertMedia,
  listMedia as listMediaRows,
  type MediaRow,
} from '../db/queries/media.js';
import { objectKeyFor } from '../storage/object-key.js';
import type { SignedMethod, Store } from '../storage/store.js';
import { enforce, refusalOfMedia } from './access.js';
import { contentDispositionFor } from './content-disposition.js';
import type { Principal } from './principal.js';
import { InvalidRequest, MediaNotFound, NotFound } from './errors.js';
import { isSid, newSid } from './ids.js';
import { decodePageToken, pageOf } from './paging.js';
import { commitWithInvalidation, type LocalInvalidation } from './invalidation.js';
import type { MediaCache } from './media-cache.js';
import { mediaFromRow, type Media } from './media-model.js';
import { isMediaKind, MEDIA_KINDS, type MediaKind } from './media-kinds.js';
import { isDisplaySafe } from './printable.js';
import type { ServedObject } from './served-object.js';
import type { SignedUrlCache } from './signed-url-cache.js';

export type { SignedMethod };

export { mediaFromRow, type Media } from './media-model.js';

export interface MediaDeps {
  db: Db;
  store: Store;
  mediaMaxBytes: number;
  mediaUrlTtlSeconds: number;
  clock: () => Date;
  /** media for the redirect's hot path (none: every redirect reads the database) */
  mediaCache?: MediaCache | undefined;
  /** signed URLs reused for a short while (none: every redirect signs anew) */
  urlCache?: SignedUrlCache | undefined;
  invalidate: LocalInvalidation;
}

export function parseKind(value: unknown): MediaKind {
  if (isMediaKind(value)) return value;
  throw new InvalidRequest(`kind must be one of ${MEDIA_KINDS.join(', ')}`);
}

// A media type as RFC 9110 writes it, parameters included; anything else is refused
// rather than handed to the object store as the header it will serve.
// eslint-disable-next-line no-control-regex
const CONTENT_TYPE = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=("[^"\\\u0000-\u001f]*"|[A-Za-z0-9!#$&^_.+-]+))*$/;

export function parseContentType(value: string | undefined): string {
  if (value === undefined || value.trim() === '') return 'application/octet-stream';
  const trimmed = value.trim();
  if (trimmed.length > 255 || !CONTENT_TYPE.test(trimmed)) throw new InvalidRequest('Content-Type is not a valid media type');
  return trimmed;
}

export function parseFilename(value: unknown): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'string') throw new InvalidRequest('filename must be given once');
  // Keep only the last path segment: a name, never a path.
  const name = value.split(/[/\\]/).pop()!.trim();
  if (name.length === 0 || name.length > 255 || !isDisplaySafe(name) || name === '.' || name === '..') {
    throw new InvalidRequest('filename must be 1 to 255 printable characters, without control or bidirectional formatting characters');
  }
  return name;
}

export interface UploadInput {
  accountSid: string;
  kind: MediaKind;
  filename: string | null;
  contentType: string;
  applicationId: string | null;
  body: Readable;
  /** the request's Content-Length, when it had one */
  declaredBytes?: number | undefined;
  /**
   * rejects when the body turns out not to be what was sent after all (a multipart form
   * holding a second file, or cut short): awaited after the bytes are stored and before
   * the row is inserted, so nothing is created then
   */
  bodyComplete?: Promise<void> | undefined;
}

/**
 * Streams the bytes to the store under their final key, then inserts the row: a row
 * only ever names a fully stored object. If the row cannot be written the object is
 * removed again (and `mediagate gc` collects what a crash in between leaves behind).
 */
export async function uploadMedia(deps: MediaDeps, input: UploadInput): Promise<Media> {
  const sid = newSid('ME');
  const objectKey = objectKeyFor(input.accountSid, sid);
  // A declared length was already checked to be positive; only a chunked body can be empty.
  const body = input.declaredBytes === undefined ? await nonEmpty(input.body) : input.body;
  const stored = await deps.store.put(objectKey, body, input.contentType, deps.mediaMaxBytes, input.declaredBytes);
  const discard = () => deps.store.delete(objectKey).catch(() => undefined);
  let row: MediaRow | undefined;
  try {
    await input.bodyComplete;
    row = await insertMedia(deps.db, {
      sid,
      accountSid: input.accountSid,
      kind: input.kind,
      contentType: input.contentType,
      sizeBytes: stored.sizeBytes,
      sha256: stored.sha256,
      filename: input.filename,
      objectKey,
      applicationId: input.applicationId,
    });
  } catch (err) {
    await discard();
    throw err;
  }
  if (!row) {
    await discard();
    throw new NotFound('no such account');
  }
  return mediaFromRow(row);
}

/**
 * Waits for the first bytes: an empty chunked body is refused before anything is
 * stored (lib-storage's Upload never settles on an empty stream).
 */
async function nonEmpty(body: Readable): Promise<Readable> {
  const chunks = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await chunks.next();
  if (first.done) throw new InvalidRequest('the body is empty');
  async function* rest() {
    yield first.value;
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
  }
  return Readable.from(rest(), { objectMode: false });
}

/** The media and its account's retention; ids of the wrong form name nothing. */
async function readMedia(db: Db, accountSid: string, mediaSid: string): Promise<{ media: Media; retentionDays: number | null }> {
  // Checked before SQL: "%00" in a path would reach PostgreSQL as a NUL byte.
  if (!isSid(accountSid, 'AC') || !isSid(mediaSid, 'ME')) throw new MediaNotFound();
  const row = await findMediaRow(db, accountSid, mediaSid);
  if (!row) throw new MediaNotFound();
  return { media: mediaFromRow(row), retentionDays: row.retention_days };
}

/** A media of the account that the principal may read (an application: its own, or no application's). */
export async function getMedia(deps: Pick<MediaDeps, 'db'>, accountSid: string, mediaSid: string, principal: Principal): Promise<Media> {
  const { media } = await readMedia(deps.db, accountSid, mediaSid);
  enforce(refusalOfMedia(principal, media));
  return media;
}

/** The media in memory, if this instance has it cached (the redirect's fast path). */
export function cachedMedia(deps: Pick<MediaDeps, 'mediaCache' | 'clock'>, accountSid: string, mediaSid: string): Media | undefined {
  return deps.mediaCache?.getMedia(accountSid, mediaSid, deps.clock().getTime());
}

/** The media from the cache or the database; MediaNotFound when there is none (step 3 of the media URL). */
export async function findMedia(deps: Pick<MediaDeps, 'db' | 'mediaCache' | 'clock'>, accountSid: string, mediaSid: string): Promise<Media> {
  const cached = cachedMedia(deps, accountSid, mediaSid);
  if (cached) return cached;
  const generation = deps.mediaCache?.currentGeneration() ?? 0;
  const { media, retentionDays } = await readMedia(deps.db, accountSid, mediaSid);
  deps.mediaCache?.setMedia(media, retentionDays, generation);
  return media;
}

export interface SignedMediaUrl {
  url: string;
  method: SignedMethod;
  expiresAt: Date;
}

export interface UrlRequest {
  method: SignedMethod;
  /** serve as an attachment (active types always are) */
  attachment: boolean;
  /** a shorter lifetime than MEDIA_URL_TTL_SECONDS; undefined: the configured one */
  ttlSeconds?: number | undefined;
}

/** Step 5: a signed URL of the store that serves the media's bytes until it expires. */
export async function signMediaUrl(deps: MediaDeps, media: Media, request: UrlRequest): Promise<SignedMediaUrl> {
  const contentDisposition = contentDispositionFor(media, request.attachment);
  const ttlSeconds = request.ttlSeconds ?? deps.mediaUrlTtlSeconds;
  const sign = async (signedAt: Date) => ({
    signedAt,
    url: await deps.store.signUrl({
      key: media.objectKey,
      method: request.method,
      contentType: media.contentType,
      contentDisposition,
      signedAt,
      ttlSeconds,
    }),
  });
  // A URL asked to live shorter is signed for that request alone: a reused one could
  // outlive what was asked.
  const signed =
    deps.urlCache && request.ttlSeconds === undefined
      ? await deps.urlCache.get(urlCacheKey(media, request.method, contentDisposition), deps.clock(), sign, { accountSid: media.accountSid, mediaSid: media.sid })
      : await sign(deps.clock());
  return { url: signed.url, method: request.method, expiresAt: expiryOf(signed.signedAt, ttlSeconds) };
}

/** A signed URL for the media still fit for reuse, without a promise (the redirect's fast path). */
export function cachedMediaUrl(deps: Pick<MediaDeps, 'urlCache' | 'clock' | 'mediaUrlTtlSeconds'>, media: Media, request: Omit<UrlRequest, 'ttlSeconds'>): SignedMediaUrl | undefined {
  const hit = deps.urlCache?.peek(urlCacheKey(media, request.method, contentDispositionFor(media, request.attachment)), deps.clock());
  return hit && { url: hit.url, method: request.method, expiresAt: expiryOf(hit.signedAt, deps.mediaUrlTtlSeconds) };
}

const urlCacheKey = (media: Media, method: SignedMethod, contentDisposition: string | undefined) =>
  `${method} ${media.objectKey} ${contentDisposition ?? ''}`;

// Signatures carry whole seconds (X-Amz-Date, Expires, exp): so does the expiry we report.
const expiryOf = (signedAt: Date, ttlSeconds: number) => new Date((Math.floor(signedAt.getTime() / 1000) + ttlSeconds) * 1000);

/** The media's bytes as the service delivers them itself (MEDIA_DELIVERY=proxy). */
export function mediaObject(deps: Pick<MediaDeps, 'store'>, media: Media, attachment: boolean): ServedObject {
  return {
    etag: `"${media.sid}"`,
    sizeBytes: media.sizeBytes,
    contentType: media.contentType,
    contentDisposition: contentDispositionFor(media, attachment),
    lastModified: media.createdAt,
    async open(range) {
      const body = await deps.store.read(media.objectKey, range);
      // The row exists but its object does not: an inconsistency `mediagate gc` reports.
      if (!body) throw new MediaNotFound();
      return body;
    },
  };
}

export interface ListInput {
  accountSid: string;
  /** an application sees its own media and media of no application */
  applicationId: string | undefined;
  kind: MediaKind | undefined;
  pageSize: number;
  pageToken: string | undefined;
}

export async function listMedia(deps: Pick<MediaDeps, 'db'>, input: ListInput): Promise<{ media: Media[]; nextPageToken: string | null }> {
  const after = input.pageToken === undefined ? undefined : decodePageToken(input.pageToken, (id) => isSid(id, 'ME'));
  const rows = await listMediaRows(deps.db, input.accountSid, input.kind, after, input.pageSize + 1, input.applicationId);
  const { page, nextPageToken } = pageOf(rows, input.pageSize, (row) => row.sid);
  return { media: page.map(mediaFromRow), nextPageToken };
}

/**
 * Deletes the row and its object together: the row stays locked while the object is
 * removed, and if the store cannot remove it the row is kept (the request fails with
 * 503 and can be retried), so a listed media never lost its bytes.
 */
export async function deleteMedia(
  deps: Pick<MediaDeps, 'db' | 'store' | 'invalidate'>,
  accountSid: string,
  mediaSid: string,
  principal: Principal,
): Promise<void> {
  if (!isSid(mediaSid, 'ME')) throw new MediaNotFound();
  await commitWithInvalidation(deps, { kind: 'media', accountSid, mediaSid }, async (tx) => {
    const row = await deleteMediaRow(tx, accountSid, mediaSid);
    if (!row) throw new MediaNotFound();
    enforce(refusalOfMedia(principal, mediaFromRow(row))); // throws: the transaction rolls back
    await deps.store.delete(row.object_key);
  });
}
