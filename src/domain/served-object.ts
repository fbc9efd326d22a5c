import type { Readable } from 'node:stream';
import type { ByteRange } from '../storage/store.js';

/** Stored bytes the service itself delivers (a blob URL, MEDIA_DELIVERY=proxy, a share link). */
export interface ServedObject {
  /** a strong validator: objects never change once stored */
  etag: string;
  sizeBytes: number;
  /** exactly the stored type */
  contentType: string;
  contentDisposition: string | undefined;
  lastModified?: Date | undefined;
  /** opens the bytes, or the range asked for; not called for HEAD or 304 */
  open(range: ByteRange | undefined): Promise<Readable>;
}

export type { ByteRange };
