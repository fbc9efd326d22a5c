import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateKeys } from '../../src/storage/signing-keys.js';
import { TestClock } from '../support/clock.js';
import { expectError } from '../support/http.js';
import { getMediaUrl, newAccount, startService, uploadJson, type MediaJson, type TestAccount, type TestService } from '../support/service.js';

// The local store's own: its blob URLs on the service itself and their signatures. What
// every store does (expiry, deletes, disposition) is store-contract.test.ts's.

let svc: TestService;
let account: TestAccount;
let media: MediaJson;
let dataDir: string;
const bytes = randomBytes(1000);
const clock = new TestClock();

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'mg-blobs-'));
  svc = await startService({ storeKind: 'local', dataDir, clock: clock.now });
  account = await newAccount(svc.db);
  media = await uploadJson(svc, account, bytes, { contentType: 'image/png', filename: 'p.png' });
});
afterAll(() => svc.close());

async function signedUrl(query = ''): Promise<string> {
  const res = await getMediaUrl(`${media.url}${query}`);
  expect(res.status).toBe(302);
  return res.headers.get('location')!;
}

const expectForbidden = async (url: string) => expectError(await fetch(url), 403, 'forbidden');

describe('GET /v1/blobs/:account/:media (the local store)', () => {
  it('is a URL on the service itself, signed with a key id and an expiry 4 hours ahead', async () => {
    const fresh = await uploadJson(svc, account, 'never signed before');
    const now = clock.pin();
    try {
      const url = new URL((await getMediaUrl(fresh.url)).headers.get('location')!);
      expect(url.origin).toBe(svc.baseUrl);
      expect(url.pathname).toBe(`/v1/blobs/${account.sid}/${fresh.sid}`);
      expect(Number(url.searchParams.get('exp'))).toBe(now.getTime() / 1000 + 14_400);
      expect(url.searchParams.get('kid')).toMatch(/^[0-9a-f]{16}$/);
    } finally {
      clock.release();
    }
  });

  it('serves the bytes with Content-Type, Content-Length, ETag and Accept-Ranges, ignoring Authorization', async () => {
    const res = await fetch(await signedUrl(), { headers: { Authorization: 'Basic bm90OnZhbGlk' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('content-length')).toBe('1000');
    expect(res.headers.get('etag')).toBe(`"${media.sid}"`);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('answers ranges with 206, and 416 when unsatisfiable', async () => {
    const url = await signedUrl();
    const part = await fetch(url, { headers: { Range: 'bytes=10-19' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 10-19/1000');
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(10, 20))).toBe(true);
    const tail = await fetch(url, { headers: { Range: 'bytes=-5' } });
    expect(Buffer.from(await tail.arrayBuffer()).equals(bytes.subarray(995))).toBe(true);
    const bad = await fetch(url, { headers: { Range: 'bytes=5000-' } });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe('bytes */1000');
    await bad.arrayBuffer();
  });

  it('answers If-None-Match with 304', async () => {
    const res = await fetch(await signedUrl(), { headers: { 'If-None-Match': `"${media.sid}"` } });
    expect(res.status).toBe(304);
  });

  it('answers HEAD with the headers', async () => {
    const res = await fetch(await signedUrl(), { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('1000');
  });

  it('serves a HEAD-signed URL only to HEAD, as S3 does', async () => {
    const res = await getMediaUrl(media.url, { method: 'HEAD' });
    const url = res.headers.get('location')!;
    expect((await fetch(url, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(url)).status).toBe(403);
  });

  it('carries the disposition inside the signature', async () => {
    const url = await signedUrl('?disposition=attachment');
    const res = await fetch(url);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="p\.png"/);
    await res.arrayBuffer();
    const u = new URL(url);
    u.searchParams.delete('cd');
    await expectForbidden(u.toString());
  });

  const tamper: [string, (u: URL) => void][] = [
    ['a flipped signature', (u) => u.searchParams.set('sig', flip(u.searchParams.get('sig')!))],
    ['another object id', (u) => (u.pathname = u.pathname.replace(/ME[0-9a-f]{32}$/, `ME${'b'.repeat(32)}`))],
    ['an extended expiry', (u) => u.searchParams.set('exp', String(Number(u.searchParams.get('exp')) + 3600))],
    ['a changed content type', (u) => u.searchParams.set('ct', 'text/html')],
    ['an unknown key id', (u) => u.searchParams.set('kid', 'ffffffffffffffff')],
    ['a malformed key id', (u) => u.searchParams.set('kid', '../../etc/passwd')],
    ['no signature', (u) => u.searchParams.delete('sig')],
    ['a truncated signature', (u) => u.searchParams.set('sig', u.searchParams.get('sig')!.slice(0, 40))],
    ['a repeated parameter', (u) => u.searchParams.append('exp', '1')],
    ['no query at all', (u) => (u.search = '')],
    ['a malformed object id', (u) => (u.pathname = `/v1/blobs/${account.sid}/..%2F..%2Fetc`)],
  ];
  it.each(tamper)('answers 403 to %s, never 500', async (_name, change) => {
    const u = new URL(await signedUrl());
    change(u);
    await expectForbidden(u.toString());
  });

  it("accepts only the canonical spelling of a signature (base64url ignores the last character's low bits)", async () => {
    const url = new URL(await signedUrl());
    const sig = url.searchParams.get('sig')!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // 64 bytes take 86 characters, the last carrying 2 bits: 16 spellings decode alike.
    const twins = [...alphabet].map((c) => sig.slice(0, -1) + c).filter((s) => s !== sig && Buffer.from(s, 'base64url').equals(Buffer.from(sig, 'base64url')));
    expect(twins).toHaveLength(15);
    for (const twin of twins) {
      url.searchParams.set('sig', twin);
      await expectForbidden(url.toString());
    }
  });

  it('keeps URLs signed by a rotated-out key valid, and signs new ones with the new key', async () => {
    const old = await signedUrl();
    const { added } = await rotateKeys(path.join(dataDir, 'keys'), { retireAfterSeconds: 7 * 86_400 });
    // The store signs directly here: the service reuses a media's URL for up to a minute.
    const signFresh = () =>
      svc.store.signUrl({ key: `${account.sid}/${media.sid}`, method: 'GET', contentType: 'image/png', signedAt: new Date(), ttlSeconds: 60 });
    // What the keyring's poll runs, awaited: the rotation is seen without waiting on time.
    await svc.keyring!.refresh();
    const fresh = await signFresh();
    expect(new URL(fresh).searchParams.get('kid')).toBe(added.kid);
    expect(new URL(old).searchParams.get('kid')).not.toBe(added.kid);
    expect((await fetch(old)).status).toBe(200);
    expect((await fetch(fresh)).status).toBe(200);
  });
});

function flip(sig: string): string {
  const b = Buffer.from(sig, 'base64url');
  b[0] = b[0]! ^ 1;
  return b.toString('base64url');
}
