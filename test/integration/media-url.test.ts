import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  basicAuth,
  getMediaUrl,
  newAccount,
  setProtection,
  startService,
  uploadJson,
  type MediaJson,
  type TestAccount,
  type TestService,
} from '../support/service.js';

const run = promisify(execFile);

let svc: TestService;
let owner: TestAccount;
let other: TestAccount;
let legacy: MediaJson;
let protectedMedia: MediaJson;
const legacyBytes = randomBytes(3000);
const protectedBytes = randomBytes(5000);

beforeAll(async () => {
  svc = await startService();
  owner = await newAccount(svc.db, 'owner');
  other = await newAccount(svc.db, 'other');
  legacy = await uploadJson(svc, owner, legacyBytes, { contentType: 'image/jpeg', filename: 'legacy.jpg' });
  expect((await setProtection(svc, owner, { message: true })).status).toBe(200);
  protectedMedia = await uploadJson(svc, owner, protectedBytes, { contentType: 'image/png', filename: 'résumé "1".png' });
});

afterAll(() => svc.close());

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as { error: { status: number; code: string; message: string } };
  expect(body.error).toMatchObject({ status, code });
  expect(typeof body.error.message).toBe('string');
  if (status === 401) expect(res.headers.get('www-authenticate')).toBe('Basic realm="mediagate"');
}

describe('GET /v1/accounts/:account/media/:media', () => {
  it('keeps media created before protection public: 302 without credentials', async () => {
    expect(legacy.requires_auth).toBe(false);
    const res = await getMediaUrl(legacy.url);
    expect(res.status).toBe(302);
    expect(res.headers.get('cache-control')).toBe('private, no-store');
    const location = new URL(res.headers.get('location')!);
    expect(location.origin).toBe(new URL(svc.store.description.split(' at ')[1]!).origin);
    expect(location.searchParams.get('X-Amz-Expires')).toBe('14400');
  });

  it('answers 401 with WWW-Authenticate for protected media without credentials', async () => {
    expect(protectedMedia.requires_auth).toBe(true);
    await expectError(await getMediaUrl(protectedMedia.url), 401, 'unauthorized');
  });

  it('answers 302 to a presigned URL that expires after 4 hours, with the account credentials', async () => {
    const before = Date.now();
    const res = await getMediaUrl(protectedMedia.url, { headers: { Authorization: owner.basic } });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    const signedAt = Date.parse(
      location.searchParams.get('X-Amz-Date')!.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'),
    );
    expect(Math.abs(signedAt - before)).toBeLessThan(5000);
    expect(location.searchParams.get('X-Amz-Expires')).toBe('14400');
  });

  it('delivers the exact bytes with the stored Content-Type to fetch following the redirect', async () => {
    const res = await fetch(protectedMedia.url, { headers: { Authorization: owner.basic } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await res.arrayBuffer()).equals(protectedBytes)).toBe(true);
    const anon = await fetch(legacy.url);
    expect(anon.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await anon.arrayBuffer()).equals(legacyBytes)).toBe(true);
  });

  it('delivers the exact bytes to curl -L -u', async () => {
    const { stdout } = await run('curl', ['-sS', '-f', '-L', '-u', `${owner.sid}:${owner.authToken}`, protectedMedia.url], {
      encoding: 'buffer',
      maxBuffer: 1 << 20,
    });
    expect(createHash('sha256').update(stdout).digest('hex')).toBe(protectedMedia.sha256);
    const anon = await run('curl', ['-sS', '-f', '-L', legacy.url], { encoding: 'buffer' });
    expect(Buffer.compare(anon.stdout, legacyBytes)).toBe(0);
  });

  it('redirects a HEAD to a URL signed for HEAD, so a client following it gets the headers', async () => {
    const res = await getMediaUrl(protectedMedia.url, { method: 'HEAD', headers: { Authorization: owner.basic } });
    expect(res.status).toBe(302);
    const followed = await fetch(res.headers.get('location')!, { method: 'HEAD' });
    expect(followed.status).toBe(200);
    expect(followed.headers.get('content-length')).toBe(String(protectedBytes.length));
    expect(followed.headers.get('content-type')).toBe('image/png');
    const { stdout } = await run('curl', ['-sS', '-I', '-L', '-u', `${owner.sid}:${owner.authToken}`, protectedMedia.url]);
    expect(stdout).toMatch(/HTTP\/1\.1 200/);
    expect(stdout.toLowerCase()).toContain('content-type: image/png');
  });

  it('serves Content-Disposition: attachment with the filename encoded safely for ?disposition=attachment', async () => {
    const res = await fetch(`${protectedMedia.url}?disposition=attachment`, { headers: { Authorization: owner.basic } });
    expect(res.status).toBe(200);
    const disposition = res.headers.get('content-disposition')!;
    expect(disposition).toMatch(/^attachment; filename="r_sum_ _1_.png"; filename\*=UTF-8''/);
    expect(decodeURIComponent(disposition.split("filename*=UTF-8''")[1]!)).toBe('résumé "1".png');
    await res.arrayBuffer();
    const plain = await fetch(legacy.url);
    expect(plain.headers.get('content-disposition')).toBeNull();
    await plain.arrayBuffer();
  });

  it('answers 400 for an unknown disposition, once the contract checks passed', async () => {
    await expectError(await getMediaUrl(`${legacy.url}?disposition=evil`), 400, 'invalid_request');
    const missing = `${svc.baseUrl}/v1/accounts/${owner.sid}/media/ME${'0'.repeat(32)}?disposition=evil`;
    await expectError(await getMediaUrl(missing), 404, 'not_found');
    await expectError(await getMediaUrl(`${protectedMedia.url}?disposition=evil`), 401, 'unauthorized');
  });

  it('answers 403 for valid credentials of another account, before looking up the media', async () => {
    await expectError(await getMediaUrl(protectedMedia.url, { headers: { Authorization: other.basic } }), 403, 'forbidden');
    // Even for media that does not exist: the lookup never happens.
    const missing = `${svc.baseUrl}/v1/accounts/${owner.sid}/media/ME${'0'.repeat(32)}`;
    await expectError(await getMediaUrl(missing, { headers: { Authorization: other.basic } }), 403, 'forbidden');
  });

  it('answers 404 for media that does not exist in that account', async () => {
    const missing = `${svc.baseUrl}/v1/accounts/${owner.sid}/media/ME${'0'.repeat(32)}`;
    await expectError(await getMediaUrl(missing), 404, 'not_found');
    await expectError(await getMediaUrl(missing, { headers: { Authorization: owner.basic } }), 404, 'not_found');
    // The right media sid under another account's path is not found there.
    const elsewhere = `${svc.baseUrl}/v1/accounts/${other.sid}/media/${legacy.sid}`;
    await expectError(await getMediaUrl(elsewhere), 404, 'not_found');
    await expectError(await getMediaUrl(`${svc.baseUrl}/v1/accounts/${owner.sid}/media/nonsense`), 404, 'not_found');
  });

  const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
  const badHeaders: [string, () => string][] = [
    ['a wrong auth token', () => basicAuth(owner.sid, 'f'.repeat(32))],
    ['an unknown account', () => basicAuth(`AC${'1'.repeat(32)}`, owner.authToken)],
    ['an unknown API key', () => basicAuth(`SK${'1'.repeat(32)}`, owner.authToken)],
    ['a username that is no sid', () => basicAuth('admin', 'admin')],
    ['malformed base64', () => 'Basic %%%%'],
    ['a missing colon', () => `Basic ${b64(owner.sid)}`],
    ['a NUL byte', () => `Basic ${b64(`${owner.sid}:\u0000${owner.authToken}`)}`],
    ['non-UTF-8 bytes', () => `Basic ${b64(Buffer.concat([Buffer.from(`${owner.sid}:`), Buffer.from([0xc3, 0x28])]))}`],
    ['a 7 KB header', () => `Basic ${b64(`${owner.sid}:${'a'.repeat(5200)}`)}`],
    ['an unknown scheme', () => 'Digest username="x", realm="y"'],
    ['an empty Basic', () => 'Basic '],
    ['a bearer token that is no JWT', () => 'Bearer abc'],
  ];

  it.each(badHeaders)('answers 401 to %s, even on legacy media', async (_name, header) => {
    await expectError(await getMediaUrl(legacy.url, { headers: { Authorization: header() } }), 401, 'unauthorized');
    await expectError(await getMediaUrl(protectedMedia.url, { headers: { Authorization: header() } }), 401, 'unauthorized');
  });

  it('keeps protected media protected when the switch goes off again', async () => {
    expect((await setProtection(svc, owner, { message: false })).status).toBe(200);
    try {
      await expectError(await getMediaUrl(protectedMedia.url), 401, 'unauthorized');
      expect((await getMediaUrl(legacy.url)).status).toBe(302);
    } finally {
      await setProtection(svc, owner, { message: true });
    }
  });
});

describe('presigned URL lifetime', () => {
  it('follows MEDIA_URL_TTL_SECONDS, and the object store refuses the URL once expired', async () => {
    // A clock 2 minutes behind with a 60 s lifetime: the URL is already expired.
    const past = await startService({ env: { MEDIA_URL_TTL_SECONDS: '60' }, clock: () => new Date(Date.now() - 120_000) });
    try {
      const res = await getMediaUrl(`${past.baseUrl}/v1/accounts/${owner.sid}/media/${legacy.sid}`);
      expect(res.status).toBe(302);
      const location = res.headers.get('location')!;
      expect(new URL(location).searchParams.get('X-Amz-Expires')).toBe('60');
      const expired = await fetch(location);
      expect(expired.status).toBe(403);
      await expired.arrayBuffer();
    } finally {
      await past.close();
    }
  });
});

// A repeated redirect is answered from the caches, without the database (src/http/routes/
// media-url.ts, answerFromMemory): the local store verifies every blob URL's Ed25519
// signature, so a real client following it proves the reused URL is the signed one.
describe('a repeated redirect, answered from memory', () => {
  it('names the same signed URL, curl follows it to the bytes, and refusals still come first', async () => {
    const local = await startService({ storeKind: 'local' });
    try {
      const a = await newAccount(local.db, 'repeat-a');
      const b = await newAccount(local.db, 'repeat-b');
      await setProtection(local, a, { message: true });
      const bytes = randomBytes(4000);
      const media = await uploadJson(local, a, bytes);
      const asOwner = { headers: { Authorization: basicAuth(a.sid, a.authToken) } };
      const locations = [];
      for (let i = 0; i < 3; i++) {
        const res = await getMediaUrl(media.url, asOwner);
        expect(res.status).toBe(302);
        locations.push(res.headers.get('location'));
        const { stdout } = await run('curl', ['-sS', '-f', '-L', '-u', `${a.sid}:${a.authToken}`, media.url], { encoding: 'buffer' });
        expect(createHash('sha256').update(stdout).digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
      }
      expect(new Set(locations).size).toBe(1);
      const tampered = locations[0]!.replace(/sig=([^&])/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`);
      expect((await fetch(tampered)).status).toBe(403);

      // Another account's credentials, verified and cached by a request of their own.
      const asOther = { headers: { Authorization: basicAuth(b.sid, b.authToken) } };
      await uploadJson(local, b, 'b');
      expect((await getMediaUrl(media.url, asOther)).status).toBe(403);
      expect((await getMediaUrl(media.url, asOther)).status).toBe(403);
      expect((await getMediaUrl(media.url)).status).toBe(401);
      expect((await getMediaUrl(media.url, { headers: { Authorization: basicAuth(a.sid, 'wrong') } })).status).toBe(401);

      // Deleted: the next request is a 404, however warm the caches were.
      expect((await fetch(`${media.url}`, { method: 'DELETE', ...asOwner })).status).toBe(204);
      expect((await getMediaUrl(media.url, asOwner)).status).toBe(404);
    } finally {
      await local.close();
    }
  });
});
