import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../support/media.js';
import {
  newAccount,
  startService,
  upload,
  uploadJson,
  type TestAccount,
  type TestService,
} from '../support/service.js';

let svc: TestService;
let account: TestAccount;
const MAX = 64 * 1024;

beforeAll(async () => {
  svc = await startService({ env: { MEDIA_MAX_BYTES: String(MAX) } });
  account = await newAccount(svc.db);
});
afterAll(() => svc.close());

async function storedKeys(accountSid: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of svc.store.list()) if (o.key.startsWith(`${accountSid}/`)) keys.push(o.key);
  return keys;
}

async function rowCount(accountSid: string): Promise<number> {
  const { rows } = await svc.db.query<{ n: number }>('SELECT count(*)::int AS n FROM media WHERE account_sid = $1', [accountSid]);
  return rows[0]!.n;
}

/** A chunked upload (no Content-Length), written piece by piece. */
function chunkedUpload(path: string, auth: string, chunks: Buffer[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, svc.baseUrl);
    const req = request(url, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'video/mp4' } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', (err) => {
      // The server may close the connection after answering 413 while we still write.
      if ((err as NodeJS.ErrnoException).code === 'EPIPE' || (err as NodeJS.ErrnoException).code === 'ECONNRESET') return;
      reject(err);
    });
    (async () => {
      for (const c of chunks) {
        if (!req.write(c)) await new Promise((r) => req.once('drain', r));
      }
      req.end();
    })().catch(() => undefined);
  });
}

describe('POST /v1/accounts/:account/media', () => {
  it('streams the body to the store and answers 201 with the metadata and Location', async () => {
    const bytes = randomBytes(40_000);
    const res = await upload(svc, account, bytes, { contentType: 'image/jpeg', filename: 'cat.jpg', kind: 'recording' });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      account_sid: account.sid,
      kind: 'recording',
      content_type: 'image/jpeg',
      size_bytes: 40_000,
      sha256: sha256(bytes),
      filename: 'cat.jpg',
      requires_auth: false,
    });
    expect(body.sid).toMatch(/^ME[0-9a-f]{32}$/);
    expect(res.headers.get('location')).toBe(`${svc.baseUrl}/v1/accounts/${account.sid}/media/${body.sid}`);
    expect(body.url).toBe(res.headers.get('location'));
    const fetched = await fetch(body.url as string);
    expect(Buffer.from(await fetched.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('accepts a chunked body and counts it as it streams', async () => {
    const parts = [randomBytes(10_000), randomBytes(20_000), randomBytes(5)];
    const res = await chunkedUpload(`/v1/accounts/${account.sid}/media?kind=message`, account.basic, parts);
    expect(res.status).toBe(201);
    const body = JSON.parse(res.body) as { size_bytes: number; sha256: string; content_type: string };
    expect(body.size_bytes).toBe(30_005);
    expect(body.sha256).toBe(sha256(Buffer.concat(parts)));
    expect(body.content_type).toBe('video/mp4');
  });

  it('answers 413 over MEDIA_MAX_BYTES and stores nothing, with Content-Length or chunked', async () => {
    const fresh = await newAccount(svc.db);
    const declared = await upload(svc, fresh, randomBytes(MAX + 1));
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');

    const chunks = Array.from({ length: 20 }, () => randomBytes(8 * 1024)); // 160 KiB > 64 KiB
    const chunked = await chunkedUpload(`/v1/accounts/${fresh.sid}/media?kind=message`, fresh.basic, chunks);
    expect(chunked.status).toBe(413);
    expect(await rowCount(fresh.sid)).toBe(0);
    expect(await storedKeys(fresh.sid)).toEqual([]);
  });

  it('accepts a body of exactly MEDIA_MAX_BYTES', async () => {
    const res = await upload(svc, account, randomBytes(MAX));
    expect(res.status).toBe(201);
  });

  it('answers 400 for an empty body, with Content-Length or chunked, and stores nothing', async () => {
    const fresh = await newAccount(svc.db);
    const res = await upload(svc, fresh, new Uint8Array(0));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/empty/);
    const chunked = await chunkedUpload(`/v1/accounts/${fresh.sid}/media?kind=message`, fresh.basic, []);
    expect(chunked.status).toBe(400);
    expect(await rowCount(fresh.sid)).toBe(0);
    expect(await storedKeys(fresh.sid)).toEqual([]);
  });

  it.each([
    ['an unknown kind', '?kind=video'],
    ['no kind', ''],
    ['a repeated kind', '?kind=message&kind=fax'],
    ['a path as filename', '?kind=message&filename=..'],
    ['a malformed application_id', '?kind=message&application_id=xyz'],
  ])('answers 400 for %s', async (_name, query) => {
    const res = await fetch(`${svc.baseUrl}/v1/accounts/${account.sid}/media${query}`, {
      method: 'POST',
      headers: { Authorization: account.basic },
      body: 'x',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
  });

  it('answers 400 for a Content-Type that is no media type', async () => {
    const res = await upload(svc, account, 'x', { contentType: 'not a type' });
    expect(res.status).toBe(400);
  });

  it('keeps only the last path segment of a filename', async () => {
    const m = await uploadJson(svc, account, 'x', { filename: '../../etc/passwd' });
    expect(m.filename).toBe('passwd');
  });

  it('needs the account credentials: 401 without, 403 with another account', async () => {
    const other = await newAccount(svc.db);
    const anon = await fetch(`${svc.baseUrl}/v1/accounts/${account.sid}/media?kind=message`, { method: 'POST', body: 'x' });
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toBe('Basic realm="mediagate"');
    const res = await upload(svc, account, 'x', { auth: other.basic });
    expect(res.status).toBe(403);
  });
});

describe('large uploads', () => {
  it('stream a 12 MiB body through a multipart upload with the right digest', async () => {
    const big = await startService({ env: { MEDIA_MAX_BYTES: String(32 * 1024 * 1024) } });
    try {
      const bytes = randomBytes(12 * 1024 * 1024);
      const m = await uploadJson(big, account, bytes, { contentType: 'video/mp4' });
      expect(m.size_bytes).toBe(bytes.length);
      expect(m.sha256).toBe(sha256(bytes));
      const fetched = Buffer.from(await (await fetch(m.url)).arrayBuffer());
      expect(fetched.equals(bytes)).toBe(true);
    } finally {
      await big.close();
    }
  });
});
