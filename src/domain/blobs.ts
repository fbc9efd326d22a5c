import { BLOB_PATH_PREFIX, type LocalStore } from '../storage/local.js';
import { attachmentDisposition, isActiveContent } from './content-disposition.js';
import { NotFound } from './errors.js';
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
