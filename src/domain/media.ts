import { Readable } from 'node:stream';
import type { Db } from '../db/pool.js';
import {
  deleteMedia as deleteMediaRow,
  findMedia,
  insertMedia,
  listMedia as listMediaRows,
  type MediaKind,
  type MediaRow,
} from '../db/queries/media.js';
import { objectKeyFor } from '../storage/object-key.js';
import type { MediaCache } from './media-cache.js';
import { commitWithInvalidation, type LocalInvalidation } from './invalidation.js';
import type { SignedUrlCache } from './signed-url-cache.js';
import type { ByteRange, SignedMethod, Store } from '../storage/store.js';
import { contentDispositionFor } from './content-disposition.js';
import type { Principal } from './credentials.js';
import { Forbidden, InvalidCredentials, InvalidRequest, MediaNotFound, NotFound } from './errors.js';
import { isSid, newSid } from './ids.js';
import { isDisplaySafe } from './printable.js';
import { MEDIA_KINDS } from './protection.js';

export interface MediaDeps {
  db: Db;
  store: Store;
  mediaMaxBytes: number;
  mediaUrlTtlSeconds: number;
  clock: () => Date;
  /** media rows for the redirect's hot path (none: every redirect reads the database) */
  mediaCache?: MediaCache | undefined;
  /** signed URLs reused for up to a minute (none: every redirect signs anew) */
  urlCache?: SignedUrlCache | undefined;
  invalidate: LocalInvalidation;
}

export function parseKind(value: unknown): MediaKind {
  if (typeof value === 'string' && (MEDIA_KINDS as readonly string[]).includes(value)) return value as MediaKind;
  throw new InvalidRequest(`kind must be one of ${MEDIA_KINDS.join(', ')}`);
}

// A media type as RFC 9110 writes it, parameters included; anything else is refused
// rather than handed to the object store as the header it will serve.
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
}

/**
 * Streams the bytes to the store under their final key, then inserts the row: a row
 * only ever names a fully stored object. If the row cannot be written the object is
 * removed again (and `mediagate gc` collects what a crash in between leaves behind).
 */
export async function uploadMedia(deps: MediaDeps, input: UploadInput): Promise<MediaRow> {
  const sid = newSid('ME');
  const objectKey = objectKeyFor(input.accountSid, sid);
  // A declared length was already checked to be positive; only a chunked body can be empty.
  const body = input.declaredBytes === undefined ? await nonEmpty(input.body) : input.body;
  const stored = await deps.store.put(objectKey, body, input.contentType, deps.mediaMaxBytes, input.declaredBytes);
  const discard = () => deps.store.delete(objectKey).catch(() => undefined);
  let row: MediaRow | undefined;
  try {
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
  return row;
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

/** The media row and its account's retention; ids of the wrong form name nothing. */
async function readMedia(db: Db, accountSid: string, mediaSid: string): Promise<{ media: MediaRow; retentionDays: number | null }> {
  // Checked before SQL: "%00" in a path would reach PostgreSQL as a NUL byte.
  if (!isSid(accountSid, 'AC') || !isSid(mediaSid, 'ME')) throw new MediaNotFound();
  const row = await findMedia(db, accountSid, mediaSid);
  if (!row) throw new MediaNotFound();
  const { retention_days: retentionDays, ...media } = row;
  return { media, retentionDays };
}

export async function getMedia(deps: Pick<MediaDeps, 'db'>, accountSid: string, mediaSid: string): Promise<MediaRow> {
  return (await readMedia(deps.db, accountSid, mediaSid)).media;
}

export interface MediaAccess {
  accountSid: string;
  mediaSid: string;
  /** undefined: anonymous; otherwise already checked to belong to accountSid */
  principal: Principal | undefined;
}

async function findMediaForAccess(deps: MediaDeps, accountSid: string, mediaSid: string): Promise<MediaRow> {
  const cached = deps.mediaCache?.get(accountSid, mediaSid, deps.clock().getTime());
  if (cached) return cached;
  const generation = deps.mediaCache?.currentGeneration() ?? 0;
  const { media, retentionDays } = await readMedia(deps.db, accountSid, mediaSid);
  deps.mediaCache?.set(media, retentionDays, generation);
  return media;
}

/** Media created with an application_id answers to that application's JWTs only. */
export function assertApplicationMayAccess(principal: Principal | undefined, media: Pick<MediaRow, 'application_id'>): void {
  if (!applicationMayAccess(principal, media)) throw new Forbidden('this media belongs to another application');
}

function applicationMayAccess(principal: Principal | undefined, media: Pick<MediaRow, 'application_id'>): boolean {
  return principal?.type !== 'application' || media.application_id === null || principal.credentialSid === media.application_id;
}

/**
 * Steps 3 and 4 of the contract's decision order for a media URL (no such media 404,
 * protected media without credentials 401), and an application's binding (403).
 */
export async function findAccessibleMedia(deps: MediaDeps, access: MediaAccess): Promise<MediaRow> {
  const media = await findMediaForAccess(deps, access.accountSid, access.mediaSid);
  if (media.requires_auth && !access.principal) throw new InvalidCredentials('this media requires credentials');
  assertApplicationMayAccess(access.principal, media);
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
export async function signMediaUrl(deps: MediaDeps, media: MediaRow, request: UrlRequest): Promise<SignedMediaUrl> {
  const contentDisposition = contentDispositionFor(media, request.attachment);
  const ttlSeconds = request.ttlSeconds ?? deps.mediaUrlTtlSeconds;
  const sign = async (signedAt: Date) => ({
    signedAt,
    url: await deps.store.signUrl({
      key: media.object_key,
      method: request.method,
      contentType: media.content_type,
      contentDisposition,
      signedAt,
      ttlSeconds,
    }),
  });
  // A URL asked to live shorter is signed for that request alone: a reused one could
  // outlive what was asked.
  const signed =
    deps.urlCache && request.ttlSeconds === undefined
      ? await deps.urlCache.get(urlCacheKey(media, request.method, contentDisposition), deps.clock(), sign)
      : await sign(deps.clock());
  return { url: signed.url, method: request.method, expiresAt: expiryOf(signed.signedAt, ttlSeconds) };
}

const urlCacheKey = (media: MediaRow, method: SignedMethod, contentDisposition: string | undefined) =>
  `${method} ${media.object_key} ${contentDisposition ?? ''}`;

// Signatures carry whole seconds (X-Amz-Date, Expires, exp): so does the expiry we report.
const expiryOf = (signedAt: Date, ttlSeconds: number) => new Date((Math.floor(signedAt.getTime() / 1000) + ttlSeconds) * 1000);

/**
 * Steps 3 to 5 answered from memory alone: the signed URL when the media row and a
 * reusable URL for it are cached and the access is allowed, without a database round
 * trip or a promise (the redirect's hot path). undefined sends the request the whole
 * way (findAccessibleMedia, then signMediaUrl), which also decides every refusal: this
 * only ever says yes where that path would.
 */
export function cachedMediaUrl(deps: MediaDeps, access: MediaAccess, request: Omit<UrlRequest, 'ttlSeconds'>): SignedMediaUrl | undefined {
  if (!deps.mediaCache || !deps.urlCache) return undefined;
  const now = deps.clock();
  const media = deps.mediaCache.get(access.accountSid, access.mediaSid, now.getTime());
  if (!media || (media.requires_auth && !access.principal) || !applicationMayAccess(access.principal, media)) return undefined;
  const hit = deps.urlCache.peek(urlCacheKey(media, request.method, contentDispositionFor(media, request.attachment)), now);
  return hit && { url: hit.url, method: request.method, expiresAt: expiryOf(hit.signedAt, deps.mediaUrlTtlSeconds) };
}

/** The media's bytes (or a range), for delivery through the service. */
export async function readMediaBytes(deps: Pick<MediaDeps, 'store'>, media: MediaRow, range?: ByteRange): Promise<Readable> {
  const body = await deps.store.read(media.object_key, range);
  // The row exists but its object does not: an inconsistency `mediagate gc` reports.
  if (!body) throw new MediaNotFound();
  return body;
}

export interface ListInput {
  accountSid: string;
  /** an application sees its own media and media of no application */
  applicationId: string | undefined;
  kind: MediaKind | undefined;
  pageSize: number;
  pageToken: string | undefined;
}

export async function listMedia(
  deps: Pick<MediaDeps, 'db'>,
  input: ListInput,
): Promise<{ media: MediaRow[]; nextPageToken: string | null }> {
  const after = input.pageToken === undefined ? undefined : decodePageToken(input.pageToken);
  // One row more than asked tells whether another page exists.
  const rows = await listMediaRows(deps.db, input.accountSid, input.kind, after, input.pageSize + 1, input.applicationId);
  const page = rows.slice(0, input.pageSize);
  const last = page[page.length - 1];
  const nextPageToken =
    rows.length > input.pageSize && last ? encodePageToken({ createdAt: last.cursor_created_at, sid: last.sid }) : null;
  return { media: page.map(({ cursor_created_at: _, ...m }) => m), nextPageToken };
}

export function encodePageToken(cursor: { createdAt: string; sid: string }): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.sid])).toString('base64url');
}

export function decodePageToken(token: string): { createdAt: string; sid: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(value[0]) &&
      typeof value[1] === 'string' &&
      isSid(value[1], 'ME')
    ) {
      return { createdAt: value[0], sid: value[1] };
    }
  } catch {
    // fall through
  }
  throw new InvalidRequest('page_token is not valid');
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
    assertApplicationMayAccess(principal, row); // throws: the transaction rolls back
    await deps.store.delete(row.object_key);
  });
}
