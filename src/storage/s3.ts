import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  HeadBucketCommand,
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
  /** proxied reads: how long to wait for a connection (2 s) and through a silence of the store (30 s) */
  readTimeouts?: { connectMillis: number; idleMillis: number } | undefined;
}

const UNSIGNED = new Set(['x-amz-content-sha256']);
const UNHOISTED = new Set(['x-amz-content-sha256', 'x-amz-checksum-mode']);
// The reader's HEAD (a direct upload's completion) asks for the object's checksum: S3
// answers it only when asked, in a header that must then be signed (S3 refuses a
// presigned request carrying unsigned x-amz-* headers). Only the reader's own requests
// carry it: a HEAD URL handed to a client is signed for the host alone.
const READ_HEADERS: Record<'GET' | 'HEAD', Record<string, string>> = { GET: {}, HEAD: { 'x-amz-checksum-mode': 'ENABLED' } };
// A direct upload's checksum header stays a header the client sends (S3 checks the bytes against it).
const UPLOAD_UNHOISTED = new Set(['x-amz-content-sha256', 'x-amz-checksum-sha256']);
const UPLOAD_SIGNED = new Set(['content-type', 'content-length', 'x-amz-checksum-sha256']);
const SINGLE_PUT_MAX_BYTES = 5 * 1024 ** 3;
// The presigned GETs of proxied reads: the URL never leaves the process and is used at once.
const READ_URL_TTL_SECONDS = 900;
// A connection within 2 s, as the SDK's client is configured; then no 30 s of silence from
// the store while the bytes are wanted: a store gone silent is let go (the SDK's 30 s
// requestTimeout only logged a warning), while a client that stopped reading holds the
// store back for as long as it likes, as with the SDK.
const READ_TIMEOUTS = { connectMillis: 2000, idleMillis: 30_000 };
// The SDK's own pool size, which the proxied reads had before they left the SDK.
const READ_MAX_SOCKETS = 50;
// An idle pooled connection is closed before the store closes it (node:http's servers, s3rver
// among them, after 5 s; node:http's agent also honours a Keep-Alive: timeout the store
// announces); the race that remains, a reused connection found closed, is retried once.
const READ_FREE_SOCKET_MILLIS = 4000;
// What is read of an error answer (S3's XML names the error in its first few hundred bytes).
const ERROR_BODY_MAX_BYTES = 8192;

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
  const host = origin.port === undefined ? origin.hostname : `${origin.hostname}:${origin.port}`;

  /** A query-signed request's path and query (`/bucket/key?X-Amz-...`): no call to S3, ~22 µs. */
  async function presignedTarget(
    method: string,
    key: string,
    query: Record<string, string>,
    ttlSeconds: number,
    signedAt: Date,
    headers: Record<string, string> = {},
  ): Promise<string> {
    const signed = await presigner.presign(
      { method, protocol: origin.protocol, hostname: origin.hostname, port: origin.port, path: `${origin.basePath}/${encodeKey(key)}`, query, headers: { host, ...headers } },
      {
        expiresIn: ttlSeconds,
        signingDate: signedAt,
        // S3 takes query-signed requests as UNSIGNED-PAYLOAD anyway; keeping the header
        // out of the query gives the canonical URL of AWS's published SigV4 examples.
        unhoistableHeaders: UNHOISTED,
        unsignableHeaders: UNSIGNED,
      },
    );
    return `${signed.path}?${formatQuery(signed.query ?? {})}`;
  }
  const reader = presignedReader(origin, host, options.readTimeouts ?? READ_TIMEOUTS, (method, key) =>
    presignedTarget(method, key, {}, READ_URL_TTL_SECONDS, new Date(), READ_HEADERS[method]),
  );

  return {
    description: `S3 bucket ${bucket} at ${options.endpoint ?? `AWS ${options.region}`}`,
    uploadOrigin: `${origin.protocol}//${host}`,

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

    read: (key: string, range?: ByteRange) => reader.read(key, range),

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
      return `${origin.protocol}//${host}${await presignedTarget(request.method, request.key, query, request.ttlSeconds, request.signedAt)}`;
    },

    async signUpload(request: UploadToSign): Promise<SignedUpload> {
      const headers: Record<string, string> = { 'Content-Type': request.contentType, 'Content-Length': String(request.sizeBytes) };
      if (request.sha256) headers['x-amz-checksum-sha256'] = Buffer.from(request.sha256, 'hex').toString('base64');
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
        { expiresIn: request.ttlSeconds, signingDate: request.signedAt, unhoistableHeaders: UPLOAD_UNHOISTED, unsignableHeaders: UNSIGNED, signableHeaders: UPLOAD_SIGNED },
      );
      return { url: `${origin.protocol}//${host}${signed.path}?${formatQuery(signed.query ?? {})}`, headers };
    },

    stat: (key) => reader.stat(key),

    async check(): Promise<void> {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch (err) {
        throw storeError(err);
      }
    },

    async close(): Promise<void> {
      client.destroy();
      reader.close();
    },
  };
}

/** Reads objects (MEDIA_DELIVERY=proxy) and their facts (a direct upload's completion): `read` and `stat` of Store, plus `close`. */
interface PresignedReader {
  read(key: string, range?: ByteRange): Promise<Readable | undefined>;
  stat(key: string): Promise<ObjectFacts | undefined>;
  close(): void;
}

/**
 * Proxied reads as a presigned GET over node:http(s), not the SDK's GetObjectCommand, whose
 * middleware stack (endpoint rules, schema, SigV4, retries) cost more CPU than the rest of
 * the request: a proxied 10 KB object took 1.2–1.6 ms of the service's CPU with it,
 * 0.5–0.9 ms this way (docs/performance.md); and a direct upload's check of the stored
 * object as a presigned HEAD for the same reason. Presigning a request we prepare costs ~22 µs.
 * The signature is in the query alone (no Authorization header: S3 answers a request
 * carrying both 400), and the URL is never logged nor put into an error: each failure is
 * named by S3's Code and Message or by the socket's error code.
 */
function presignedReader(
  origin: Origin,
  host: string,
  timeouts: { connectMillis: number; idleMillis: number },
  presigned: (method: 'GET' | 'HEAD', key: string) => Promise<string>,
): PresignedReader {
  const https = origin.protocol === 'https:';
  const agentOptions = { keepAlive: true, maxSockets: READ_MAX_SOCKETS, timeout: READ_FREE_SOCKET_MILLIS };
  const agent = https ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  const request = https ? httpsRequest : httpRequest;

  /** One GET or HEAD, resolved with S3's answer (any status) once its headers arrive. */
  function send(method: 'GET' | 'HEAD', target: string, range: ByteRange | undefined): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const headers: OutgoingHttpHeaders = { host, ...READ_HEADERS[method] };
      if (range) headers.range = `bytes=${range.start}-${range.end}`;
      const req = request({ agent, method, hostname: origin.hostname, port: origin.port, path: target, headers });
      // Kept for the request's whole life: a socket error after the answer arrived is
      // the answer stream's error too (whoever reads it hears it), and must not go unhandled here.
      req.on('error', (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
      let answer: IncomingMessage | undefined;
      req.setTimeout(timeouts.idleMillis, () => {
        // Bytes wait unread: the reader stopped (backpressure from a paused client), so the
        // silence is ours, not the store's. The timer starts again (it runs once per silence).
        if (answer && answer.readableLength > 0) return void req.socket?.setTimeout(timeouts.idleMillis);
        req.destroy(failure('TimeoutError', `no byte from the store for ${timeouts.idleMillis} ms`));
      });
      req.once('socket', (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(() => req.destroy(failure('TimeoutError', `no connection to the store within ${timeouts.connectMillis} ms`)), timeouts.connectMillis);
        socket.once('connect', () => clearTimeout(timer)).once('close', () => clearTimeout(timer));
      });
      req.once('response', (res: IncomingMessage) => resolve((answer = res)));
      req.end();
    });
  }

  /**
   * S3's answer of 200 or 206, undefined for a missing object, or StoreUnavailable. A HEAD's
   * answer has no body to name its error: a 404 is a missing object then, as for the SDK.
   */
  async function answer(method: 'GET' | 'HEAD', key: string, range?: ByteRange): Promise<IncomingMessage | undefined> {
    for (let attempt = 1; ; attempt++) {
      let res: IncomingMessage;
      try {
        res = await send(method, await presigned(method, key), range);
      } catch (err) {
        const e = err as Error & { code?: string; reusedSocket?: boolean };
        // A pooled connection the store had closed as it was reused: the request never reached it.
        if (attempt === 1 && e.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) continue;
        throw storeError({ name: e.code ?? e.name, message: e.message });
      }
      const status = res.statusCode ?? 0;
      if (status === 200 || status === 206) return res;
      const { code, message } = await errorAnswer(res);
      // The object is gone; a missing bucket is the operator's to fix (503, /readyz names it).
      if (status === 404 && code !== 'NoSuchBucket') return undefined;
      // S3 asks for a retry of a 500 or 503 (SlowDown); the SDK made one, so does this.
      if (attempt === 1 && (status === 500 || status === 503)) {
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 50));
        continue;
      }
      throw storeError({ Code: code, name: res.statusMessage, message, $metadata: { httpStatusCode: status } });
    }
  }

  return {
    async read(key, range) {
      const res = await answer('GET', key, range);
      return res && rangeOf(res, range);
    },
    async stat(key) {
      const res = await answer('HEAD', key);
      if (!res) return undefined;
      // Its end gives the connection back to the pool, for the next request to take.
      await finished(res.resume()).catch(() => {});
      // A multipart object's checksum is of its parts' checksums (`…-N`), not of its bytes.
      const checksum = res.headers['x-amz-checksum-sha256'];
      return {
        sizeBytes: Number(res.headers['content-length'] ?? 0),
        contentType: res.headers['content-type'],
        sha256: typeof checksum === 'string' && !checksum.includes('-') ? Buffer.from(checksum, 'base64').toString('hex') : undefined,
      };
    },
    close() {
      agent.destroy();
    },
  };
}

function failure(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

/**
 * The bytes asked for, exactly. S3 answers a Range 206 with those bytes; a store that
 * ignores the Range answers 200 with the whole object, and s3rver answers `bytes=0-0`
 * with a 206 of the whole object (it reads an end of 0 as none). Either is cut to the
 * range here, since the client was promised its Content-Length.
 */
function rangeOf(res: IncomingMessage, range: ByteRange | undefined): Readable {
  if (!range) return res;
  const length = range.end - range.start + 1;
  let first = 0;
  if (res.statusCode === 206) {
    const sent = /^bytes (\d+)-\d+\//.exec(res.headers['content-range'] ?? '');
    first = sent ? Number(sent[1]) : Number.NaN;
  }
  if (!(first <= range.start)) {
    res.destroy();
    throw storeError({ name: 'InvalidRange', message: `asked for bytes ${range.start}-${range.end}, the store sent Content-Range ${res.headers['content-range'] ?? 'none'}` });
  }
  if (first === range.start && res.headers['content-length'] === String(length)) return res;
  return sliceOf(res, range.start - first, length);
}

/** `length` bytes of `source` after its first `skip`, with backpressure; the rest is not read. */
function sliceOf(source: IncomingMessage, skip: number, length: number): Readable {
  let toSkip = skip;
  let left = length;
  const slice = new Readable({
    read: () => void source.resume(),
    destroy: (err, done) => {
      source.destroy();
      done(err);
    },
  });
  source.on('data', (chunk: Buffer) => {
    if (left === 0) return;
    let piece = chunk;
    if (toSkip > 0) {
      const skipped = Math.min(toSkip, piece.length);
      toSkip -= skipped;
      piece = piece.subarray(skipped);
    }
    if (piece.length === 0) return;
    if (piece.length > left) piece = piece.subarray(0, left);
    left -= piece.length;
    const more = slice.push(piece);
    if (left === 0) {
      slice.push(null);
      source.destroy(); // the connection goes with what the store still had to send
    } else if (!more) source.pause();
  });
  source.on('end', () => {
    if (left > 0) slice.destroy(failure('Error', `the store ended the range ${length - left} bytes short of ${length}`));
  });
  source.on('error', (err) => slice.destroy(err));
  return slice;
}

/** S3's error answer, read up to a few KiB: its Code and Message (nothing else: other fields echo the request's signature). */
async function errorAnswer(res: IncomingMessage): Promise<{ code: string | undefined; message: string | undefined }> {
  let text = '';
  res.setEncoding('utf8');
  try {
    for await (const chunk of res as AsyncIterable<string>) {
      text += chunk;
      if (text.length >= ERROR_BODY_MAX_BYTES) {
        res.destroy();
        break;
      }
    }
  } catch {
    // what arrived is enough
  }
  const element = (name: string) => {
    const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(text);
    return m?.[1] === undefined ? undefined : unescapeXml(m[1]);
  };
  return { code: element('Code'), message: element('Message') };
}

function unescapeXml(text: string): string {
  return text.replace(/&(lt|gt|quot|apos|amp);/g, (_, name: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[name]!);
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
 * SDK's words (or, for reads, S3's Code and Message, or the socket's error) go into the
 * cause; they hold no secret (no key, no signature, no presigned URL).
 */
function storeError(err: unknown): StoreUnavailable {
  const e = err as { name?: string; message?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  // HeadBucket answers have no body: the SDK then names the error by its status alone.
  const name = e.Code ?? (e.name && e.name !== 'Error' ? e.name : undefined) ?? (status ? `HTTP ${status}` : 'Error');
  const message = e.message && e.message !== 'UnknownError' && e.message !== name ? `: ${e.message}` : '';
  return new StoreUnavailable(`${name}${message}${status ? ` (HTTP ${status})` : ''}`.slice(0, 300));
}
