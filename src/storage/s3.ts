import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { ObjectTooLarge, StoreUnavailable } from './errors.js';
import { MeasuredBody } from './measured-body.js';
import type { ByteRange, ListedObject, ObjectFacts, SignedUpload, Store, StoredObject, UploadToSign, UrlToSign } from './store.js';

export interface S3StoreOptions {
  bucket: string;
  region: string;
  /** unset: AWS itself */
  endpoint?: string | undefined;
  forcePathStyle: boolean;
  /** unset: the AWS SDK's credential chain (environment, profile, instance role) */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
}

const UNHOISTED = new Set(['x-amz-content-sha256']);
// A direct upload's checksum header stays a header the client sends (S3 checks the bytes against it).
const UPLOAD_UNHOISTED = new Set(['x-amz-content-sha256', 'x-amz-checksum-sha256']);
const UPLOAD_SIGNED = new Set(['content-type', 'content-length', 'x-amz-checksum-sha256']);
const SINGLE_PUT_MAX_BYTES = 5 * 1024 ** 3;

interface Origin {
  protocol: string;
  hostname: string;
  port: number | undefined;
  basePath: string;
}

/**
 * The request-path cost of a presigned URL: getSignedUrl rebuilds the SDK middleware
 * stack on every call (~290 µs measured here), while S3RequestPresigner.presign() on a
 * request we build ourselves costs ~22 µs. Building that request needs the bucket's
 * origin, which is fixed for the process, so it is computed once here.
 */
export function createS3Store(options: S3StoreOptions): Store {
  const client = new S3Client({
    region: options.region,
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle,
    credentials: options.credentials,
    // Only checksum when S3 requires it: streamed bodies otherwise go out aws-chunked
    // with trailing CRCs, which S3-compatible stores (s3rver, older MinIO) store raw.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 2,
    // Bound how long a request waits for an unreachable store (503, not a hang).
    requestHandler: { connectionTimeout: 2000, requestTimeout: 30_000 },
  });
  const presigner = new S3RequestPresigner({ ...client.config, service: 's3' });
  const origin = bucketOrigin(options);
  const { bucket } = options;

  return {
    description: `S3 bucket ${bucket} at ${options.endpoint ?? `AWS ${options.region}`}`,
    uploadOrigin: `${origin.protocol}//${origin.port === undefined ? origin.hostname : `${origin.hostname}:${origin.port}`}`,

    async put(key: string, body: Readable, contentType: string, maxBytes: number, declaredBytes?: number): Promise<StoredObject> {
      const measured = new MeasuredBody(maxBytes);
      // The SDK pipes the body into its request, and pipe() forwards no errors: a client
      // gone mid-body or a body over the limit must abort the request to S3 (otherwise it
      // would wait for bytes that never come, and the error would go unhandled).
      const abort = new AbortController();
      measured.on('error', (err) => abort.abort(err));
      body.on('error', (err) => measured.destroy(err));
      body.pipe(measured);
      try {
        if (declaredBytes !== undefined && declaredBytes <= SINGLE_PUT_MAX_BYTES) {
          // A known length streams straight into one PutObject (S3 takes up to 5 GiB so):
          // no buffering, and ~45 % more uploads/s than lib-storage here (measured).
          await client.send(
            new PutObjectCommand({ Bucket: bucket, Key: key, Body: measured, ContentType: contentType, ContentLength: declaredBytes }),
            { abortSignal: abort.signal },
          );
        } else {
          // Unknown length (chunked): lib-storage sends a small body as one PutObject and
          // a large one as a multipart upload with bounded part buffers (5 MiB ×
          // queueSize), aborted on failure; a 100 MB upload never sits whole in memory.
          await new Upload({
            client,
            params: { Bucket: bucket, Key: key, Body: measured, ContentType: contentType },
            queueSize: 2,
            partSize: 5 * 1024 * 1024,
            leavePartsOnError: false,
            abortController: abort,
          }).done();
        }
      } catch (err) {
        if (measured.sizeBytes > maxBytes) throw new ObjectTooLarge(maxBytes);
        // The body failed (the client went away, a form cut short): that, not what it made the SDK say, is why.
        if (body.destroyed && !body.readableEnded) throw body.errored ?? err;
        throw storeError(err);
      }
      return { sizeBytes: measured.sizeBytes, sha256: measured.digest() };
    },

    async delete(key: string): Promise<void> {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      } catch (err) {
        throw storeError(err);
      }
    },

    async read(key: string, range?: ByteRange): Promise<Readable | undefined> {
      try {
        const object = await client.send(
          new GetObjectCommand({ Bucket: bucket, Key: key, Range: range && `bytes=${range.start}-${range.end}` }),
        );
        return object.Body as Readable;
      } catch (err) {
        if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
        throw storeError(err);
      }
    },

    async *list(): AsyncIterable<ListedObject> {
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
        for (const o of page.Contents ?? []) {
          if (o.Key) yield { key: o.Key, lastModified: o.LastModified ?? new Date(0) };
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    },

    async removeAbandonedUploads(olderThan: Date): Promise<number> {
      let aborted = 0;
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      do {
        let page;
        try {
          page = await client.send(
            new ListMultipartUploadsCommand({ Bucket: bucket, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
          );
        } catch (err) {
          // Some S3-compatible stores (s3rver among them) do not list multipart uploads;
          // a bucket lifecycle rule (AbortIncompleteMultipartUpload) covers them there.
          if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 501) return aborted;
          throw storeError(err);
        }
        for (const u of page.Uploads ?? []) {
          if (u.Key && u.UploadId && u.Initiated && u.Initiated < olderThan) {
            await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
            aborted++;
          }
        }
        keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
      } while (keyMarker);
      return aborted;
    },

    async signUrl(request: UrlToSign): Promise<string> {
      const query: Record<string, string> = {};
      if (request.contentDisposition) query['response-content-disposition'] = request.contentDisposition;
      const host = origin.port === undefined ? origin.hostname : `${origin.hostname}:${origin.port}`;
      const signed = await presigner.presign(
        {
          method: request.method,
          protocol: origin.protocol,
          hostname: origin.hostname,
          port: origin.port,
          path: `${origin.basePath}/${encodeKey(request.key)}`,
          query,
          headers: { host },
        },
        {
          expiresIn: request.ttlSeconds,
          signingDate: request.signedAt,
          // S3 takes query-signed requests as UNSIGNED-PAYLOAD anyway; keeping the header
          // out of the query gives the canonical URL of AWS's published SigV4 examples.
          unhoistableHeaders: UNHOISTED,
          unsignableHeaders: UNHOISTED,
        },
      );
      return `${origin.protocol}//${host}${signed.path}?${formatQuery(signed.query ?? {})}`;
    },

    async signUpload(request: UploadToSign): Promise<SignedUpload> {
      const headers: Record<string, string> = { 'Content-Type': request.contentType, 'Content-Length': String(request.sizeBytes) };
      if (request.sha256) headers['x-amz-checksum-sha256'] = Buffer.from(request.sha256, 'hex').toString('base64');
      const host = origin.port === undefined ? origin.hostname : `${origin.hostname}:${origin.port}`;
      // Content-Type and Content-Length are among the signed headers: S3 refuses a PUT of
      // another size or type (SignatureDoesNotMatch), and the checksum one of other bytes.
      const signed = await presigner.presign(
        {
          method: 'PUT',
          protocol: origin.protocol,
          hostname: origin.hostname,
          port: origin.port,
          path: `${origin.basePath}/${encodeKey(request.key)}`,
          query: {},
          headers: { host, ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])) },
        },
        // (The presigner leaves Content-Type unsigned unless told: a browser's PUT may set its own.)
        { expiresIn: request.ttlSeconds, signingDate: request.signedAt, unhoistableHeaders: UPLOAD_UNHOISTED, unsignableHeaders: UNHOISTED, signableHeaders: UPLOAD_SIGNED },
      );
      return { url: `${origin.protocol}//${host}${signed.path}?${formatQuery(signed.query ?? {})}`, headers };
    },

    async stat(key: string): Promise<ObjectFacts | undefined> {
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
        return {
          sizeBytes: head.ContentLength ?? 0,
          contentType: head.ContentType,
          sha256: head.ChecksumSHA256 ? Buffer.from(head.ChecksumSHA256, 'base64').toString('hex') : undefined,
        };
      } catch (err) {
        if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
        throw storeError(err);
      }
    },

    async check(): Promise<void> {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch (err) {
        throw storeError(err);
      }
    },

    async close(): Promise<void> {
      client.destroy();
    },
  };
}

/** Where the bucket's objects are addressed: virtual-hosted unless path style is asked. */
export function bucketOrigin(options: Pick<S3StoreOptions, 'bucket' | 'region' | 'endpoint' | 'forcePathStyle'>): Origin {
  const endpoint = new URL(options.endpoint ?? `https://s3.${options.region}.amazonaws.com`);
  const basePath = endpoint.pathname.replace(/\/+$/, '');
  // Bucket names with dots do not fit a TLS wildcard certificate: AWS needs path style.
  const pathStyle = options.forcePathStyle || options.bucket.includes('.');
  return {
    protocol: endpoint.protocol,
    hostname: pathStyle ? endpoint.hostname : `${options.bucket}.${endpoint.hostname}`,
    port: endpoint.port ? Number(endpoint.port) : undefined,
    basePath: pathStyle ? `${basePath}/${options.bucket}` : basePath,
  };
}

// RFC 3986 unreserved characters stay; everything else is percent-encoded, as SigV4 does.
function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function encodeKey(key: string): string {
  return key.split('/').map(escapeUri).join('/');
}

function formatQuery(query: Record<string, string | string[] | null | undefined>): string {
  const parts: string[] = [];
  for (const name of Object.keys(query).sort()) {
    const value = query[name];
    for (const v of Array.isArray(value) ? value : [value]) {
      parts.push(v === null || v === undefined ? escapeUri(name) : `${escapeUri(name)}=${escapeUri(v)}`);
    }
  }
  return parts.join('&');
}

/**
 * Every failure of a call to S3 is the store's, for the client a 503 to retry: the
 * network, S3 itself, or a refusal of our own request (credentials missing or refused,
 * no such bucket), which is the operator's to fix and which /readyz then names. The
 * SDK's words go into the cause; they hold no secret (no key, no signature).
 */
function storeError(err: unknown): StoreUnavailable {
  const e = err as { name?: string; message?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  // HeadBucket answers have no body: the SDK then names the error by its status alone.
  const name = e.Code ?? (e.name && e.name !== 'Error' ? e.name : undefined) ?? (status ? `HTTP ${status}` : 'Error');
  const message = e.message && e.message !== 'UnknownError' && e.message !== name ? `: ${e.message}` : '';
  return new StoreUnavailable(`${name}${message}${status ? ` (HTTP ${status})` : ''}`.slice(0, 300));
}
