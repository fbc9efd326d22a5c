// The S3 store's read (MEDIA_DELIVERY=proxy): a presigned GET over node:http, against an
// S3 endpoint of the test's own that records what it is sent and answers as a test asks,
// including as S3 answers failures (s3rver cannot be made to). The same reads against
// s3rver itself, through the service, are media-url-answers.test.ts and the soak test.
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailable } from '../../src/storage/errors.js';
import { createS3Store } from '../../src/storage/s3.js';
import type { Store } from '../../src/storage/store.js';
import { signatureValid } from '../support/sigv4.js';

const CREDENTIALS = { accessKeyId: 'AKIDREADTEST', secretAccessKey: 'read-test-secret-key' };
const BUCKET = 'mg-bucket';
const OBJECT = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  /** the request's number on its connection, from 1 */
  onConnection: number;
}

type Answer = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;

/** What S3 sends with a refusal, echo of the request's signature included. */
const s3Error = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>` +
  `<AWSAccessKeyId>${CREDENTIALS.accessKeyId}</AWSAccessKeyId><SignatureProvided>{signature}</SignatureProvided>` +
  `<StringToSign>AWS4-HMAC-SHA256\n20260101T000000Z</StringToSign><RequestId>R1</RequestId></Error>`;

function sendError(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string): void {
  const signature = new URL(req.url!, 'http://x').searchParams.get('X-Amz-Signature') ?? '';
  res.writeHead(status, { 'Content-Type': 'application/xml' }).end(s3Error(code, message).replace('{signature}', signature));
}

/** Answers as S3 does: the object, or the range asked for (206), or 404 NoSuchKey. */
const likeS3: Answer = (req, res) => {
  if (!req.url!.startsWith(`/${BUCKET}/object?`)) return sendError(req, res, 404, 'NoSuchKey', 'The specified key does not exist.');
  const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
  if (!range) return void res.writeHead(200, { 'Content-Length': OBJECT.length }).end(OBJECT);
  const [start, end] = [Number(range[1]), Number(range[2])];
  res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${OBJECT.length}`, 'Content-Length': end - start + 1 }).end(OBJECT.subarray(start, end + 1));
};

let server: Server;
let endpoint: string;
let answer: Answer = likeS3;
const seen: Seen[] = [];
let store: Store;

beforeAll(async () => {
  const perConnection = new WeakMap<object, number>();
  server = createHttpServer((req, res) => {
    const onConnection = (perConnection.get(req.socket) ?? 0) + 1;
    perConnection.set(req.socket, onConnection);
    const s: Seen = { method: req.method!, url: req.url!, headers: req.headers, onConnection };
    seen.push(s);
    answer(req, res, s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  store = createS3Store({ bucket: BUCKET, region: 'eu-west-3', endpoint, forcePathStyle: true, credentials: CREDENTIALS });
});
afterEach(() => {
  answer = likeS3;
  seen.length = 0;
});
afterAll(async () => {
  await store?.close();
  server?.closeAllConnections();
  await new Promise((done) => server?.close(done));
});

const bytesOf = async (body: Readable | undefined) => Buffer.concat(await body!.toArray());

async function refusal(read: Promise<unknown>): Promise<StoreUnavailable> {
  const err = await read.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StoreUnavailable);
  return err as StoreUnavailable;
}

describe('S3 store reads: a presigned GET over node:http', () => {
  it('signs in the query alone: no Authorization header, a signature valid for the path, the host and 15 minutes', async () => {
    expect((await bytesOf(await store.read('object'))).equals(OBJECT)).toBe(true);
    expect(seen).toHaveLength(1);
    const [get] = seen;
    expect(get!.method).toBe('GET');
    expect(get!.headers.authorization).toBeUndefined();
    expect(get!.headers.host).toBe(new URL(endpoint).host);
    const url = `${endpoint}${get!.url}`;
    const q = new URL(url).searchParams;
    expect(q.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(q.get('X-Amz-Credential')).toMatch(new RegExp(`^${CREDENTIALS.accessKeyId}/\\d{8}/eu-west-3/s3/aws4_request$`));
    expect(q.get('X-Amz-SignedHeaders')).toBe('host');
    expect(q.get('X-Amz-Expires')).toBe('900');
    expect(signatureValid('GET', url, CREDENTIALS.secretAccessKey)).toBe(true);
    expect(signatureValid('GET', url.replace('/object?', '/other?'), CREDENTIALS.secretAccessKey)).toBe(false);
  });

  it('encodes the key as SigV4 does, in the path it signs', async () => {
    answer = (_req, res) => void res.writeHead(200, { 'Content-Length': 2 }).end('ok');
    expect((await bytesOf(await store.read('AC1/ME2 a+b/é'))).toString()).toBe('ok');
    const url = `${endpoint}${seen[0]!.url}`;
    expect(new URL(url).pathname).toBe(`/${BUCKET}/AC1/ME2%20a%2Bb/%C3%A9`);
    expect(signatureValid('GET', url, CREDENTIALS.secretAccessKey)).toBe(true);
  });

  it('sends a range as an unsigned Range header and passes S3’s 206 on as it came', async () => {
    const body = await store.read('object', { start: 100, end: 1099 });
    expect(seen[0]!.headers.range).toBe('bytes=100-1099');
    expect(new URL(`${endpoint}${seen[0]!.url}`).searchParams.get('X-Amz-SignedHeaders')).toBe('host');
    expect((await bytesOf(body)).equals(OBJECT.subarray(100, 1100))).toBe(true);
  });

  it('cuts a longer answer to the range: s3rver’s 206 of the whole object for bytes=0-0, a store that ignores Range', async () => {
    // s3rver reads an end of 0 as none: 206 with all of it, Content-Range bytes 0-4999/5000.
    answer = (_req, res) => void res.writeHead(206, { 'Content-Range': `bytes 0-${OBJECT.length - 1}/${OBJECT.length}`, 'Content-Length': OBJECT.length }).end(OBJECT);
    expect((await bytesOf(await store.read('object', { start: 0, end: 0 }))).equals(OBJECT.subarray(0, 1))).toBe(true);
    // A store that does not do ranges: 200 with the whole object, from which the range is taken.
    answer = (_req, res) => void res.writeHead(200, { 'Content-Length': OBJECT.length }).end(OBJECT);
    expect((await bytesOf(await store.read('object', { start: 4000, end: 4099 }))).equals(OBJECT.subarray(4000, 4100))).toBe(true);
    // Reads go on over the pool afterwards (the cut connection was let go, not reused mid-body).
    answer = likeS3;
    expect((await bytesOf(await store.read('object', { start: 10, end: 19 }))).equals(OBJECT.subarray(10, 20))).toBe(true);
  });

  it('refuses a 206 that begins after the range asked for, and ends a body cut short with an error', async () => {
    answer = (_req, res) => void res.writeHead(206, { 'Content-Range': `bytes 200-299/${OBJECT.length}`, 'Content-Length': 100 }).end(OBJECT.subarray(200, 300));
    expect((await refusal(store.read('object', { start: 100, end: 199 }))).reason).toMatch(/^InvalidRange: asked for bytes 100-199, the store sent Content-Range bytes 200-299\/5000/);

    answer = (_req, res) => {
      res.writeHead(200, { 'Content-Length': OBJECT.length });
      res.write(OBJECT.subarray(0, 1000), () => res.destroy());
    };
    const body = await store.read('object', { start: 500, end: 2999 });
    await expect(bytesOf(body)).rejects.toThrow();
  });

  it('answers undefined for a missing object, and StoreUnavailable for a missing bucket', async () => {
    expect(await store.read('missing')).toBeUndefined();
    answer = (req, res) => sendError(req, res, 404, 'NoSuchBucket', 'The specified bucket does not exist');
    const err = await refusal(store.read('object'));
    expect(err.reason).toBe('NoSuchBucket: The specified bucket does not exist (HTTP 404)');
  });

  it('names a refusal by S3’s Code and Message alone: nothing of the signature, the URL or the credentials', async () => {
    answer = (req, res) =>
      sendError(req, res, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
    const err = await refusal(store.read('object'));
    expect(err.reason).toBe(
      'SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided. Check your key and signing method. (HTTP 403)',
    );
    const signature = new URL(`${endpoint}${seen[0]!.url}`).searchParams.get('X-Amz-Signature')!;
    for (const text of [err.reason, err.message, String(err.stack)]) {
      expect(text).not.toContain(signature);
      expect(text).not.toContain('X-Amz');
      expect(text).not.toContain(CREDENTIALS.accessKeyId);
      expect(text).not.toContain(CREDENTIALS.secretAccessKey);
    }
    // An answer without S3's XML is named by its status.
    answer = (_req, res) => void res.writeHead(403).end();
    expect((await refusal(store.read('object'))).reason).toBe('Forbidden (HTTP 403)');
  });

  it('retries a 500 or 503 once, as the SDK did', async () => {
    answer = (req, res, s) => (seen.length === 1 ? sendError(req, res, 503, 'SlowDown', 'Please reduce your request rate.') : likeS3(req, res, s));
    expect((await bytesOf(await store.read('object'))).equals(OBJECT)).toBe(true);
    expect(seen).toHaveLength(2);

    seen.length = 0;
    answer = (req, res) => sendError(req, res, 503, 'SlowDown', 'Please reduce your request rate.');
    expect((await refusal(store.read('object'))).reason).toBe('SlowDown: Please reduce your request rate. (HTTP 503)');
    expect(seen).toHaveLength(2);
  });

  it('keeps connections alive, and sends a GET again when a reused connection turns out closed', async () => {
    const fresh = createS3Store({ bucket: BUCKET, region: 'us-east-1', endpoint, forcePathStyle: true, credentials: CREDENTIALS });
    try {
      await bytesOf(await fresh.read('object'));
      await bytesOf(await fresh.read('object'));
      expect(seen.map((s) => s.onConnection)).toEqual([1, 2]);

      // The store closes the connection as the next GET arrives on it (an idle timeout's race).
      answer = (req, res, s) => (s.onConnection > 1 ? req.socket.destroy() : likeS3(req, res, s));
      expect((await bytesOf(await fresh.read('object'))).equals(OBJECT)).toBe(true);
      expect(seen.map((s) => s.onConnection)).toEqual([1, 2, 3, 1]);
    } finally {
      await fresh.close();
    }
  });

  it('lets go of a store gone silent, but not of one a paused reader holds back', async () => {
    const IDLE = 300;
    const quick = createS3Store({
      bucket: BUCKET,
      region: 'us-east-1',
      endpoint,
      forcePathStyle: true,
      credentials: CREDENTIALS,
      readTimeouts: { connectMillis: 2000, idleMillis: IDLE },
    });
    const big = Buffer.alloc(8 * 1024 * 1024, 7);
    try {
      // No answer at all.
      answer = () => {};
      expect((await refusal(quick.read('object'))).reason).toBe(`TimeoutError: no byte from the store for ${IDLE} ms`);

      // Headers and some bytes, then silence while the reader wants more.
      answer = (_req, res) => void res.writeHead(200, { 'Content-Length': OBJECT.length }).write(OBJECT.subarray(0, 100));
      await expect(bytesOf(await quick.read('object'))).rejects.toThrow(/no byte from the store|aborted/);

      // A reader that stops for 3 idle periods (backpressure fills the buffers between it
      // and the store, which then sends nothing): the silence is its own, the GET stays.
      answer = (_req, res) => void res.writeHead(200, { 'Content-Length': big.length }).end(big);
      const body = (await quick.read('object'))!;
      const first = await new Promise<Buffer>((resolve) => body.once('data', resolve));
      body.pause();
      await new Promise((r) => setTimeout(r, 3 * IDLE));
      const rest = Buffer.concat(await body.toArray());
      expect(first.length + rest.length).toBe(big.length);
    } finally {
      await quick.close();
    }
  });

  it('maps an unreachable store to StoreUnavailable with the socket’s error', async () => {
    const closed = createTcpServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    await new Promise((done) => closed.close(done));
    const unreachable = createS3Store({ bucket: BUCKET, region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, credentials: CREDENTIALS });
    try {
      expect((await refusal(unreachable.read('object'))).reason).toBe(`ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:${port}`);
    } finally {
      await unreachable.close();
    }
  });

  it('speaks TLS to an https endpoint', async () => {
    // Not a TLS server: it notes the first byte the client sends (22, a TLS handshake
    // record, where plain HTTP would send "G") and hangs up.
    const firstBytes: number[] = [];
    const tcp = createTcpServer((socket) => socket.once('data', (chunk: Buffer) => (firstBytes.push(chunk[0]!), socket.destroy())));
    tcp.listen(0, '127.0.0.1');
    await once(tcp, 'listening');
    const tls = createS3Store({
      bucket: BUCKET,
      region: 'us-east-1',
      endpoint: `https://127.0.0.1:${(tcp.address() as AddressInfo).port}`,
      forcePathStyle: true,
      credentials: CREDENTIALS,
    });
    try {
      const err = await refusal(tls.read('object'));
      expect(firstBytes).toEqual([22]);
      expect(err.reason).toMatch(/^ECONNRESET: /);
    } finally {
      await tls.close();
      await new Promise((done) => tcp.close(done));
    }
  });

  it('addresses the bucket in the host name when path style is off', async () => {
    // `mg-bucket.localhost` resolves to this host where the resolver follows RFC 6761
    // (systemd-resolved, nss-myhostname); elsewhere the lookup fails, naming that host.
    const port = new URL(endpoint).port;
    const virtual = createS3Store({ bucket: BUCKET, region: 'us-east-1', endpoint: `http://localhost:${port}`, forcePathStyle: false, credentials: CREDENTIALS });
    answer = (_req, res) => void res.writeHead(200, { 'Content-Length': 2 }).end('vh');
    try {
      const outcome = await virtual.read('object').then(
        async (body) => (await bytesOf(body)).toString(),
        (err: unknown) => (err as StoreUnavailable).reason,
      );
      if (outcome === 'vh') {
        expect(seen[0]!.headers.host).toBe(`${BUCKET}.localhost:${port}`);
        expect(new URL(seen[0]!.url, endpoint).pathname).toBe('/object');
      } else {
        expect(outcome).toMatch(new RegExp(`^(ENOTFOUND|EAI_AGAIN): getaddrinfo \\w+ ${BUCKET}\\.localhost$`));
      }
    } finally {
      await virtual.close();
    }
  });
});

describe('S3 store stat (a direct upload’s completion): a presigned HEAD over node:http', () => {
  const checksum = Buffer.from('a'.repeat(64), 'hex').toString('base64');
  const headAnswer =
    (headers: Record<string, string | number>): Answer =>
    (req, res) =>
      // (node:http sends no body in answer to a HEAD)
      req.url!.startsWith(`/${BUCKET}/object?`) ? void res.writeHead(200, headers).end('x') : void res.writeHead(404).end();

  it('asks for the checksum in a signed header, and reads size, type and sha256 from the answer', async () => {
    answer = headAnswer({ 'Content-Length': 482_044, 'Content-Type': 'audio/wav', 'x-amz-checksum-sha256': checksum });
    expect(await store.stat('object')).toEqual({ sizeBytes: 482_044, contentType: 'audio/wav', sha256: 'a'.repeat(64) });
    const [head] = seen;
    expect(head!.method).toBe('HEAD');
    expect(head!.headers.authorization).toBeUndefined();
    expect(head!.headers['x-amz-checksum-mode']).toBe('ENABLED');
    const url = `${endpoint}${head!.url}`;
    // S3 refuses a presigned request carrying an x-amz-* header it was not signed with.
    expect(new URL(url).searchParams.get('X-Amz-SignedHeaders')).toBe('host;x-amz-checksum-mode');
    expect(signatureValid('HEAD', url, CREDENTIALS.secretAccessKey, { 'x-amz-checksum-mode': 'ENABLED' })).toBe(true);
    expect(signatureValid('HEAD', url, CREDENTIALS.secretAccessKey, { 'x-amz-checksum-mode': 'DISABLED' })).toBe(false);
    expect(signatureValid('GET', url, CREDENTIALS.secretAccessKey, { 'x-amz-checksum-mode': 'ENABLED' })).toBe(false);
  });

  it('reports no sha256 where the store keeps none, or keeps a multipart object’s checksum of checksums', async () => {
    answer = headAnswer({ 'Content-Length': 10, 'Content-Type': 'image/jpeg' });
    expect(await store.stat('object')).toEqual({ sizeBytes: 10, contentType: 'image/jpeg', sha256: undefined });
    answer = headAnswer({ 'Content-Length': 10, 'Content-Type': 'image/jpeg', 'x-amz-checksum-sha256': `${checksum}-3` });
    expect((await store.stat('object'))?.sha256).toBeUndefined();
  });

  it('answers undefined for a missing object, and StoreUnavailable, named by the status, for a refusal', async () => {
    expect(await store.stat('missing')).toBeUndefined();
    answer = (_req, res) => void res.writeHead(403).end();
    expect((await refusal(store.stat('object'))).reason).toBe('Forbidden (HTTP 403)');
  });

  it('keeps the connection for the next request', async () => {
    answer = headAnswer({ 'Content-Length': 1, 'Content-Type': 'image/jpeg' });
    await store.stat('object');
    await store.stat('object');
    expect((await bytesOf(await store.read('object'))).toString()).toBe('x');
    expect(seen.map((s) => s.onConnection)).toEqual([1, 2, 3]);
  });
});
