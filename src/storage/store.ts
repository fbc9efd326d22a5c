import type { Readable } from 'node:stream';

export type SignedMethod = 'GET' | 'HEAD';

export interface StoredObject {
  sizeBytes: number;
  sha256: string;
}

/** What the store says of an object it holds (a direct upload's, before it becomes media). */
export interface ObjectFacts {
  sizeBytes: number;
  /** as the store will serve it; undefined where the store keeps no type (the local store checks it on the PUT) */
  contentType: string | undefined;
  /** hex; undefined where the store does not report a checksum */
  sha256: string | undefined;
}

export interface UploadToSign {
  key: string;
  contentType: string;
  sizeBytes: number;
  /** hex: the store refuses other bytes, where it checks (S3's x-amz-checksum-sha256) */
  sha256?: string | undefined;
  signedAt: Date;
  ttlSeconds: number;
}

export interface SignedUpload {
  url: string;
  /** the headers the PUT must carry, exactly (they are signed) */
  headers: Record<string, string>;
}

export interface UrlToSign {
  key: string;
  method: SignedMethod;
  /** the media's Content-Type, which the object is served with */
  contentType: string;
  /** set: serve with this Content-Disposition header (attachment with a filename) */
  contentDisposition?: string | undefined;
  /** when the URL is signed; it expires ttlSeconds later */
  signedAt: Date;
  ttlSeconds: number;
}

/** A byte range, both ends included (RFC 9110's `bytes=start-end`). */
export interface ByteRange {
  start: number;
  end: number;
}

export interface ListedObject {
  key: string;
  lastModified: Date;
}

/**
 * Where media bytes live: S3 (or any S3-compatible store) in production, a local
 * directory for the zero-configuration default. Both pass test/integration/store-contract.
 */
export interface Store {
  /** one line for the startup banner */
  readonly description: string;
  /** the origin signUpload's URLs point at (a page PUTs there: its CSP names it) */
  readonly uploadOrigin: string;
  /**
   * Streams body to the object named key, at most maxBytes (ObjectTooLarge beyond,
   * with nothing left stored). `declaredBytes` is the request's Content-Length when it
   * had one (HTTP framing guarantees a completed body has exactly that length). An
   * unreachable store throws StoreUnavailable.
   */
  put(key: string, body: Readable, contentType: string, maxBytes: number, declaredBytes?: number): Promise<StoredObject>;
  /**
   * The object's bytes (or a range of them) as a stream, for delivery through the
   * service; undefined when the object is gone. Destroying the stream releases it.
   */
  read(key: string, range?: ByteRange): Promise<Readable | undefined>;
  /** removes the object; removing a missing object is not an error */
  delete(key: string): Promise<void>;
  /** every stored object, in byte order of keys as S3 lists them (for `mediagate gc`) */
  list(): AsyncIterable<ListedObject>;
  /**
   * Cleans up what uploads cut short (a crash, kill -9) left behind before becoming
   * objects: temp files (local) or unfinished multipart uploads (S3) older than the date.
   */
  removeAbandonedUploads(olderThan: Date): Promise<number>;
  /** a URL that serves the object's bytes until it expires; no call to the store */
  signUrl(request: UrlToSign): Promise<string>;
  /** a URL for one PUT of exactly `sizeBytes` bytes of `contentType` to `key` (a direct upload) */
  signUpload(request: UploadToSign): Promise<SignedUpload>;
  /** what the store holds under `key`, or undefined */
  stat(key: string): Promise<ObjectFacts | undefined>;
  /**
   * Proves the store answers and takes our credentials (S3: HeadBucket; local: a file
   * written and removed), for start-up and /readyz; StoreUnavailable saying why if not.
   */
  check(): Promise<void>;
  close(): Promise<void>;
}
