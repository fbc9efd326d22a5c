import { BLOB_PATH_PREFIX, type LocalStore } from '../storage/local.js';
import { attachmentDisposition, isActiveContent } from './content-disposition.js';
import type { Readable } from 'node:stream';
import type { StoredObject } from '../storage/store.js';
import { Forbidden, InvalidRequest, NotFound } from './errors.js';
import type { ServedObject } from './served-object.js';

/** Where the local store's signed URLs point; the service serves them there. */
export { BLOB_PATH_PREFIX, type LocalStore };

export interface BlobRequest {
  accountSid: string;
  mediaSid: string;
  method: string;
  query: Record<string, string | string[] | undefined>;
  now: Date;
}

/**
 * A local-store URL's object, once its signature and expiry hold (InvalidSignedUrl
 * otherwise). Access is the signature alone; a deleted object is gone at once.
 */
export async function openBlob(store: LocalStore, request: BlobRequest): Promise<ServedObject> {
  const key = `${request.accountSid}/${request.mediaSid}`;
  const access = await store.verifyUrl({ key, method: request.method, query: request.query, now: request.now });
  const file = await store.statObject(key);
  if (!file) throw new NotFound('no such media');
  return {
    etag: `"${request.mediaSid}"`,
    sizeBytes: file.sizeBytes,
    contentType: access.contentType,
    // Signed URLs of active types already name an attachment; URLs signed before that
    // rule (or by hand) get one here too.
    contentDisposition:
      access.contentDisposition ?? (isActiveContent(access.contentType) ? attachmentDisposition(request.mediaSid) : undefined),
    lastModified: file.modifiedAt,
    async open(range) {
      const body = await store.read(key, range);
      if (!body) throw new NotFound('no such media');
      return body;
    },
  };
}

export interface BlobUpload {
  accountSid: string;
  mediaSid: string;
  query: BlobRequest['query'];
  now: Date;
  /** as the request declares them */
  contentType: string;
  contentLength: string;
  body: Readable;
}

/**
 * A direct upload's PUT to the local store: the URL's signature and expiry hold, the
 * body is of exactly the signed type and length (and bytes, with a sha256), and the URL
 * was not used before (one PUT). Nothing is kept otherwise.
 */
export async function receiveUpload(store: LocalStore, upload: BlobUpload): Promise<StoredObject> {
  const key = `${upload.accountSid}/${upload.mediaSid}`;
  const allowed = await store.verifyUpload({ key, query: upload.query, now: upload.now });
  if (upload.contentType !== allowed.contentType) throw new Forbidden(`the PUT must carry Content-Type: ${allowed.contentType}, as its URL was signed for`);
  if (upload.contentLength !== String(allowed.sizeBytes)) throw new Forbidden(`the PUT must carry Content-Length: ${allowed.sizeBytes}, as its URL was signed for`);
  if (await store.statObject(key)) throw new Forbidden('this upload URL was used: it takes one PUT');
  const stored = await store.put(key, upload.body, allowed.contentType, allowed.sizeBytes, allowed.sizeBytes);
  if (allowed.sha256 !== undefined && stored.sha256 !== allowed.sha256) {
    await store.delete(key);
    throw new InvalidRequest('the body does not have the sha256 the upload declared');
  }
  return stored;
}
