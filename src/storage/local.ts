import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidSignedUrl, ObjectTooLarge, StoreUnavailable } from './errors.js';
import { isAccountPrefix, isObjectKey } from './object-key.js';
import { MeasuredBody } from './measured-body.js';
import { signMessage, verifyMessage, type Keyring } from './signing-keys.js';
import type { ByteRange, ListedObject, ObjectFacts, SignedMethod, SignedUpload, Store, StoredObject, UploadToSign, UrlToSign } from './store.js';

/**
 * The zero-configuration store: files under a directory, served by the service itself
 * at /v1/blobs/{key} with Ed25519-signed, expiring URLs. Unlike S3 presigned URLs these
 * are revocable: the file is checked on every request, so a deleted media's URLs answer
 * 404 at once.
 */
export interface LocalStore extends Store {
  /** checks a blob URL's signature and expiry; InvalidSignedUrl when either fails */
  verifyUrl(request: BlobRequest): Promise<BlobAccess>;
  /** checks an upload URL's signature and expiry (a PUT); InvalidSignedUrl when either fails */
  verifyUpload(request: Omit<BlobRequest, 'method'>): Promise<UploadAccess>;
  /** the file of an object, or undefined when it is gone */
  statObject(key: string): Promise<{ path: string; sizeBytes: number; modifiedAt: Date } | undefined>;
}

export interface BlobRequest {
  key: string;
  method: string;
  query: Record<string, string | string[] | undefined>;
  now: Date;
}

export interface BlobAccess {
  contentType: string;
  contentDisposition: string | undefined;
  expiresAt: Date;
}

/** What an upload URL allows: one object of exactly this size and type (and these bytes, with a sha256). */
export interface UploadAccess {
  contentType: string;
  sizeBytes: number;
  sha256: string | undefined;
}

export const BLOB_PATH_PREFIX = '/v1/blobs/';
const TMP_DIR = '.tmp';
const SIGNATURE = /^[A-Za-z0-9_-]{86}$/;
// The signed message joins fields with newlines; no field may hold one.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function signedMessage(method: string, key: string, exp: string, kid: string, ct: string, cd: string): string {
  return ['mediagate-blob-v1', method, key, exp, kid, ct, cd].join('\n');
}

// An upload URL's message is of another kind (its own first line): no download URL's
// signature can pass for an upload's, nor the other way round.
function uploadMessage(key: string, exp: string, kid: string, ct: string, len: string, sha: string): string {
  return ['mediagate-blob-put-v1', 'PUT', key, exp, kid, ct, len, sha].join('\n');
}

const isText = (v: unknown): v is string => typeof v === 'string';

export function createLocalStore(options: { dir: string; keyring: Keyring; baseUrl: string }): LocalStore {
  const { dir, keyring, baseUrl } = options;
  // URLs already verified, until they expire: a hot media's URL is reused for up to a
  // minute (SignedUrlCache), and an Ed25519 verification costs ~100 µs.
  const verified = new LRUCache<string, BlobAccess>({ max: 10_000 });
  const filePath = (key: string) => {
    if (!isObjectKey(key)) throw new Error(`not an object key: ${JSON.stringify(key)}`);
    return path.join(dir, key);
  };

  /**
   * Checks a URL's expiry field, key id and signature against the messages it may have
   * been signed as; resolves with its expiry. Only the canonical spelling of a signature
   * is accepted (base64url decoding ignores the unused low bits of the last character),
   * so a URL has exactly one form.
   */
  async function verifySigned(request: { key: string; query: BlobRequest['query']; now: Date }, messages: (exp: string, kid: string) => string[]): Promise<Date> {
    const { exp, kid, sig } = request.query;
    if (!isObjectKey(request.key) || !isText(exp) || !/^\d{1,12}$/.test(exp) || !isText(kid) || !isText(sig) || !SIGNATURE.test(sig)) {
      throw new InvalidSignedUrl('the URL is not a valid signed URL');
    }
    const signature = Buffer.from(sig, 'base64url');
    if (signature.toString('base64url') !== sig) throw new InvalidSignedUrl('the URL signature is invalid');
    const key = await keyring.find(kid);
    if (!key || !messages(exp, kid).some((m) => verifyMessage(key, m, signature))) throw new InvalidSignedUrl('the URL signature is invalid');
    const expiresAt = new Date(Number(exp) * 1000);
    if (request.now.getTime() >= expiresAt.getTime()) throw new InvalidSignedUrl('the URL has expired');
    return expiresAt;
  }

  return {
    description: `local disk at ${dir}`,
    uploadOrigin: new URL(baseUrl).origin,

    async put(key: string, body: Readable, _contentType: string, maxBytes: number): Promise<StoredObject> {
      const target = filePath(key);
      const tmp = path.join(dir, TMP_DIR, `${randomUUID()}.part`);
      const measured = new MeasuredBody(maxBytes);
      try {
        await mkdir(path.dirname(tmp), { recursive: true });
        // flush: fsync before close, so the rename below never publishes lost bytes.
        await pipeline(body, measured, createWriteStream(tmp, { flags: 'wx', mode: 0o600, flush: true }));
        await mkdir(path.dirname(target), { recursive: true });
        await rename(tmp, target);
      } catch (err) {
        await rm(tmp, { force: true }).catch(() => undefined); // the disk may be what failed
        if (measured.sizeBytes > maxBytes) throw new ObjectTooLarge(maxBytes);
        throw diskError(err);
      }
      return { sizeBytes: measured.sizeBytes, sha256: measured.digest() };
    },

    async delete(key: string): Promise<void> {
      await rm(filePath(key), { force: true });
    },

    async read(key: string, range?: ByteRange): Promise<Readable | undefined> {
      const file = await this.statObject(key);
      if (!file) return undefined;
      // Read buffers no larger than what is read: the default 64 KiB per stream, for a
      // 10 KB image, was most of the blob endpoint's memory under load.
      const length = range ? range.end - range.start + 1 : file.sizeBytes;
      return createReadStream(file.path, { ...range, highWaterMark: Math.max(1, Math.min(64 * 1024, length)) });
    },

    async *list(): AsyncIterable<ListedObject> {
      // Sorted, so keys come in byte order as S3 lists them (`mediagate gc` relies on it).
      const accounts = (await readdir(dir).catch(() => [] as string[])).sort();
      for (const account of accounts) {
        if (!isAccountPrefix(account)) continue;
        for (const media of (await readdir(path.join(dir, account)).catch(() => [] as string[])).sort()) {
          const key = `${account}/${media}`;
          if (!isObjectKey(key)) continue;
          const s = await stat(path.join(dir, key)).catch(() => undefined);
          if (s) yield { key, lastModified: s.mtime };
        }
      }
    },

    removeAbandonedUploads(olderThan: Date): Promise<number> {
      return removeStaleTempFiles(dir, olderThan);
    },

    async signUrl(request: UrlToSign): Promise<string> {
      const key = keyring.current();
      const exp = String(Math.floor(request.signedAt.getTime() / 1000) + request.ttlSeconds);
      const cd = request.contentDisposition ?? '';
      const message = signedMessage(request.method, request.key, exp, key.kid, request.contentType, cd);
      const sig = signMessage(key, message).toString('base64url');
      const query = new URLSearchParams({ exp, kid: key.kid, ct: request.contentType });
      if (cd) query.set('cd', cd);
      query.set('sig', sig);
      return `${baseUrl}${BLOB_PATH_PREFIX}${request.key}?${query}`;
    },

    async verifyUrl(request: BlobRequest): Promise<BlobAccess> {
      const { exp, kid, ct, cd = '', sig } = request.query;
      const cacheKey = isText(sig) ? `${request.method} ${request.key} ${exp} ${kid} ${ct} ${cd} ${sig}` : undefined;
      const hit = cacheKey === undefined ? undefined : verified.get(cacheKey);
      if (hit) {
        if (request.now.getTime() >= hit.expiresAt.getTime()) throw new InvalidSignedUrl('the URL has expired');
        return hit;
      }
      if (!isText(ct) || !isText(cd) || CONTROL.test(ct) || CONTROL.test(cd)) throw new InvalidSignedUrl('the URL is not a valid signed media URL');
      // A URL signed for GET also serves HEAD (HTTP's HEAD is a GET without the body);
      // one signed for HEAD serves only HEAD, as S3's do.
      const methods: SignedMethod[] = request.method === 'HEAD' ? ['HEAD', 'GET'] : ['GET'];
      const expiresAt = await verifySigned(request, (e, k) => methods.map((m) => signedMessage(m, request.key, e, k, ct, cd)));
      const access = { contentType: ct, contentDisposition: cd || undefined, expiresAt };
      verified.set(cacheKey!, access, { ttl: Math.max(1, expiresAt.getTime() - request.now.getTime()) });
      return access;
    },

    async signUpload(request: UploadToSign): Promise<SignedUpload> {
      const key = keyring.current();
      const exp = String(Math.floor(request.signedAt.getTime() / 1000) + request.ttlSeconds);
      const len = String(request.sizeBytes);
      const sha = request.sha256 ?? '';
      const sig = signMessage(key, uploadMessage(request.key, exp, key.kid, request.contentType, len, sha)).toString('base64url');
      const query = new URLSearchParams({ exp, kid: key.kid, ct: request.contentType, len });
      if (sha) query.set('sha', sha);
      query.set('sig', sig);
      return {
        url: `${baseUrl}${BLOB_PATH_PREFIX}${request.key}?${query}`,
        headers: { 'Content-Type': request.contentType, 'Content-Length': len },
      };
    },

    async verifyUpload(request): Promise<UploadAccess> {
      const { ct, len, sha = '' } = request.query;
      if (!isText(ct) || !isText(len) || !isText(sha) || CONTROL.test(ct) || !/^[1-9]\d{0,15}$/.test(len) || !/^([0-9a-f]{64})?$/.test(sha)) {
        throw new InvalidSignedUrl('the URL is not a valid signed upload URL');
      }
      await verifySigned(request, (e, k) => [uploadMessage(request.key, e, k, ct, len, sha)]);
      return { contentType: ct, sizeBytes: Number(len), sha256: sha || undefined };
    },

    async stat(key: string): Promise<ObjectFacts | undefined> {
      const file = await this.statObject(key);
      // The type and bytes of an upload were checked on its PUT (verifyUpload): none is kept beside the file.
      return file && { sizeBytes: file.sizeBytes, contentType: undefined, sha256: undefined };
    },

    async check(): Promise<void> {
      // Written and removed for real: a read-only or full volume passes an access() check.
      const probe = path.join(dir, TMP_DIR, `ready-${randomUUID()}`);
      try {
        await mkdir(path.dirname(probe), { recursive: true });
        await writeFile(probe, '', { mode: 0o600 });
        await rm(probe);
      } catch (err) {
        throw diskError(err);
      }
    },

    async statObject(key: string) {
      if (!isObjectKey(key)) return undefined;
      const file = filePath(key);
      const s = await stat(file).catch(() => undefined);
      return s?.isFile() ? { path: file, sizeBytes: s.size, modifiedAt: s.mtime } : undefined;
    },

    async close(): Promise<void> {
      keyring.close();
    },
  };
}

/** A failure of the disk itself (permissions, space, I/O) is the store's; anything else (a client gone mid-body) is not. */
function diskError(err: unknown): unknown {
  const e = err as NodeJS.ErrnoException;
  return e.syscall ? new StoreUnavailable(`${e.code ?? 'error'}: ${e.message}`) : err;
}

async function removeStaleTempFiles(dir: string, olderThan: Date): Promise<number> {
  const tmpDir = path.join(dir, TMP_DIR);
  let removed = 0;
  for (const name of await readdir(tmpDir).catch(() => [] as string[])) {
    const file = path.join(tmpDir, name);
    const s = await stat(file).catch(() => undefined);
    if (s && s.mtime < olderThan) {
      await rm(file, { force: true });
      removed++;
    }
  }
  return removed;
}
