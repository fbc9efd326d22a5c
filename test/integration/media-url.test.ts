// The media URL (src/http/routes/media-url.ts): its decision order, run once per answer
// mode, then what the 302 itself carries. The JSON and proxied answers' own details are
// in media-url-answers.test.ts; which path answered (memory or full) in
// media-url-paths.test.ts.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl, execFileAsync } from '../support/cli.js';
import { TestClock } from '../support/clock.js';
import { bearerFor, createApiKey, registerApplication } from '../support/credentials.js';
import { expectError, requestWithHeaders } from '../support/http.js';
import { sha256 } from '../support/media.js';
import {
  accountWithMedia,
  basicAuth,
  getMediaUrl,
  newAccount,
  setProtection,
  startService,
  uploadJson,
  type AccountWithMedia,
  type MediaJson,
  type TestAccount,
  type TestService,
} from '../support/service.js';

const clock = new TestClock();
let redirecting: TestService;
let proxying: TestService;

beforeAll(async () => {
  [redirecting, proxying] = await Promise.all([startService({ clock: clock.now }), startService({ env: { MEDIA_DELIVERY: 'proxy' } })]);
});
afterAll(() => Promise.all([redirecting?.close(), proxying?.close()]));

const missingSid = () => `ME${randomBytes(16).toString('hex')}`;

async function expectBytes(res: Response, media: MediaJson, bytes: Buffer): Promise<void> {
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe(media.content_type);
  expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(bytes));
}

interface AnswerMode {
  name: string;
  service: () => TestService;
  /** what the mode adds to the media URL's query */
  query: Record<string, string>;
  /** an allowed GET's answer, leading to exactly these bytes */
  expectAnswer(res: Response, media: MediaJson, bytes: Buffer): Promise<void>;
}

const MODES: AnswerMode[] = [
  {
    name: '302 (the default)',
    service: () => redirecting,
    query: {},
    async expectAnswer(res, media, bytes) {
      expect(res.status).toBe(302);
      expect(res.headers.get('cache-control')).toBe('private, no-store');
      await expectBytes(await fetch(res.headers.get('location')!), media, bytes);
    },
  },
  {
    name: 'JSON (?redirect=false)',
    service: () => redirecting,
    query: { redirect: 'false' },
    async expectAnswer(res, media, bytes) {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('location')).toBeNull();
      const body = (await res.json()) as { url: string; content_type: string; size_bytes: number };
      expect(body).toMatchObject({ content_type: media.content_type, size_bytes: bytes.length });
      await expectBytes(await fetch(body.url), media, bytes);
    },
  },
  {
    name: 'proxy (MEDIA_DELIVERY=proxy)',
    service: () => proxying,
    query: {},
    async expectAnswer(res, media, bytes) {
      expect(res.headers.get('location')).toBeNull();
      await expectBytes(res, media, bytes);
    },
  },
];

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
/** Authorization headers that are bad, as header lines (some only a raw request can send). */
const BAD_AUTHORIZATION: [string, (owner: TestAccount) => [string, string][]][] = [
  ['a wrong auth token', (o) => [['Authorization', basicAuth(o.sid, 'f'.repeat(32))]]],
  ['an unknown account', (o) => [['Authorization', basicAuth(`AC${'1'.repeat(32)}`, o.authToken)]]],
  ['an unknown API key', (o) => [['Authorization', basicAuth(`SK${'1'.repeat(32)}`, o.authToken)]]],
  ['a username that is no sid', () => [['Authorization', basicAuth('admin', 'admin')]]],
  ['malformed base64', () => [['Authorization', 'Basic %%%%']]],
  ['a missing colon', (o) => [['Authorization', `Basic ${b64(o.sid)}`]]],
  ['a NUL byte', (o) => [['Authorization', `Basic ${b64(`${o.sid}:\u0000${o.authToken}`)}`]]],
  ['non-UTF-8 bytes', (o) => [['Authorization', `Basic ${b64(Buffer.concat([Buffer.from(`${o.sid}:`), Buffer.from([0xc3, 0x28])]))}`]]],
  ['a 7 KB header', (o) => [['Authorization', `Basic ${b64(`${o.sid}:${'a'.repeat(5200)}`)}`]]],
  ['an unknown scheme', () => [['Authorization', 'Digest username="x", realm="y"']]],
  ['an empty Basic', () => [['Authorization', 'Basic ']]],
  ['a bearer token that is no JWT', () => [['Authorization', 'Bearer abc']]],
  ['an empty Authorization header', () => [['Authorization', '']]],
  // Node keeps only the first of repeated headers: judging by it would let a proxy's
  // added header slip by.
  ['two Authorization headers, the first one valid', (o) => [['Authorization', o.basic], ['Authorization', basicAuth(o.sid, 'f'.repeat(32))]]],
  ['two valid Authorization headers', (o) => [['Authorization', o.basic], ['Authorization', o.basic]]],
];

const TTL_SECONDS = 14_400; // MEDIA_URL_TTL_SECONDS' default
const BAD_QUERIES: Record<string, string>[] = [
  { disposition: 'evil' },
  { redirect: 'maybe' },
  ...['59', String(TTL_SECONDS + 1), 'abc', '1.5', '-60', '0', '1e3', ' 60'].map((value) => ({ expires_in: value })),
];

describe.each(MODES)('the decision order, answering $name', (mode) => {
  const svc = () => mode.service();
  /** the media URL with the mode's query and `extra` */
  const at = (url: string, extra: Record<string, string> = {}) => {
    const query = new URLSearchParams({ ...mode.query, ...extra }).toString();
    return query === '' ? url : `${url}?${query}`;
  };
  const as = (auth: string) => ({ headers: { Authorization: auth } });
  let media: AccountWithMedia;
  let owner: TestAccount;
  let other: TestAccount;
  let credentials: [string, string][];
  let missingUrl: string;
  let deleted: MediaJson;
  let expired: MediaJson;

  beforeAll(async () => {
    media = await accountWithMedia(svc());
    owner = media.owner;
    other = await newAccount(svc().db, 'other');
    const key = await createApiKey(svc(), owner);
    const jwt = await bearerFor(await registerApplication(svc(), owner));
    credentials = [
      ["the owner's auth token", owner.basic],
      ['an API key', key.basic],
      ['an application JWT', jwt],
    ];
    missingUrl = `${svc().baseUrl}/v1/accounts/${owner.sid}/media/${missingSid()}`;
    deleted = await uploadJson(svc(), owner, 'deleted');
    expect((await fetch(deleted.url, { method: 'DELETE', headers: { Authorization: owner.basic } })).status).toBe(204);
    // Past the account's retention: gone for readers before any sweep.
    expired = await uploadJson(svc(), owner, 'expired');
    await svc().db.query(`UPDATE media SET created_at = now() - interval '3 days' WHERE sid = $1`, [expired.sid]);
    const retention = await fetch(`${svc().baseUrl}/v1/accounts/${owner.sid}/settings/retention`, {
      method: 'PATCH',
      headers: { Authorization: owner.basic, 'Content-Type': 'application/json' },
      body: '{"days": 2}',
    });
    expect(retention.status).toBe(200);
  });

  it.each(BAD_AUTHORIZATION)('1. answers 401 to %s, even on legacy media', async (_name, lines) => {
    for (const m of [media.legacy, media.protectedMedia]) {
      await expectError(await requestWithHeaders(at(m.url), lines(owner)), 401, 'unauthorized');
    }
  });

  it("2. answers 403 to another account's valid credentials before any lookup, even for media that does not exist", async () => {
    for (const url of [media.protectedMedia.url, media.legacy.url, missingUrl, deleted.url]) {
      await expectError(await getMediaUrl(at(url), as(other.basic)), 403, 'forbidden');
    }
  });

  it('3. answers 404 for media that is not there: never existed, deleted, expired, in another account, not a media id', async () => {
    const elsewhere = `${svc().baseUrl}/v1/accounts/${other.sid}/media/${media.legacy.sid}`;
    const cases: [string, string | undefined][] = [
      [missingUrl, undefined],
      [missingUrl, owner.basic],
      [deleted.url, undefined],
      [deleted.url, owner.basic],
      [expired.url, undefined],
      [expired.url, owner.basic],
      [elsewhere, undefined],
      [elsewhere, other.basic],
      [`${svc().baseUrl}/v1/accounts/${owner.sid}/media/nonsense`, undefined],
    ];
    for (const [url, auth] of cases) await expectError(await getMediaUrl(at(url), auth ? as(auth) : {}), 404, 'not_found');
  });

  it('4. answers 401 with the Basic challenge for protected media without credentials, to GET and HEAD', async () => {
    await expectError(await getMediaUrl(at(media.protectedMedia.url)), 401, 'unauthorized');
    await expectError(await getMediaUrl(at(media.protectedMedia.url), { method: 'HEAD' }), 401, 'unauthorized', 'HEAD');
  });

  it("5. gives the mode's answer to the account's credentials, and to anyone for legacy media", async () => {
    for (const [what, auth] of credentials) {
      const res = await getMediaUrl(at(media.protectedMedia.url), as(auth));
      expect(res.status, what).toBeLessThan(400);
      await mode.expectAnswer(res, media.protectedMedia, media.protectedBytes);
    }
    await mode.expectAnswer(await getMediaUrl(at(media.legacy.url)), media.legacy, media.legacyBytes);
    await mode.expectAnswer(await getMediaUrl(at(media.legacy.url), as(owner.basic)), media.legacy, media.legacyBytes);
  });

  it.each(BAD_QUERIES)('checks the query (%j) only after all that: 404, 403 and 401 come first, then 400', async (bad) => {
    await expectError(await getMediaUrl(at(missingUrl, bad)), 404, 'not_found');
    await expectError(await getMediaUrl(at(media.protectedMedia.url, bad), as(other.basic)), 403, 'forbidden');
    await expectError(await getMediaUrl(at(media.protectedMedia.url, bad)), 401, 'unauthorized');
    await expectError(await getMediaUrl(at(media.legacy.url, bad)), 400, 'invalid_request');
    await expectError(await getMediaUrl(at(media.protectedMedia.url, bad), as(owner.basic)), 400, 'invalid_request');
  });

  it('answers the same whatever Accept says (axios asks for JSON and follows the 302)', async () => {
    for (const accept of ['application/json, text/plain, */*', 'text/html', 'application/json']) {
      const headers = { Accept: accept };
      await mode.expectAnswer(await getMediaUrl(at(media.protectedMedia.url), { headers: { ...headers, Authorization: owner.basic } }), media.protectedMedia, media.protectedBytes);
      await mode.expectAnswer(await getMediaUrl(at(media.legacy.url), { headers }), media.legacy, media.legacyBytes);
    }
  });

  it('keeps protected media protected when the switch goes off again', async () => {
    expect((await setProtection(svc(), owner, { message: false })).status).toBe(200);
    try {
      await expectError(await getMediaUrl(at(media.protectedMedia.url)), 401, 'unauthorized');
      await mode.expectAnswer(await getMediaUrl(at(media.legacy.url)), media.legacy, media.legacyBytes);
    } finally {
      await setProtection(svc(), owner, { message: true });
    }
  });
});

describe('the 302', () => {
  let owner: TestAccount;
  let legacy: MediaJson;
  let legacyBytes: Buffer;
  let protectedMedia: MediaJson;
  let protectedBytes: Buffer;
  const asOwner = () => ({ headers: { Authorization: owner.basic } });

  beforeAll(async () => {
    ({ owner, legacy, legacyBytes, protectedMedia, protectedBytes } = await accountWithMedia(redirecting, { protectedFilename: 'résumé "1".png' }));
  });

  it('keeps media created before protection public: a private 302 to the store, for MEDIA_URL_TTL_SECONDS', async () => {
    const res = await getMediaUrl(legacy.url);
    expect(res.status).toBe(302);
    expect(res.headers.get('cache-control')).toBe('private, no-store');
    const location = new URL(res.headers.get('location')!);
    expect(location.origin).toBe(new URL(redirecting.store.description.split(' at ')[1]!).origin);
    expect(location.searchParams.get('X-Amz-Expires')).toBe(String(TTL_SECONDS));
  });

  it("names a URL presigned at the clock's now that expires after 4 hours", async () => {
    const fresh = await uploadJson(redirecting, owner, 'signed now');
    const now = clock.pin();
    try {
      const location = new URL((await getMediaUrl(fresh.url, asOwner())).headers.get('location')!);
      expect(location.searchParams.get('X-Amz-Date')).toBe(now.toISOString().replace(/[-:]|\.\d{3}/g, ''));
      expect(location.searchParams.get('X-Amz-Expires')).toBe(String(TTL_SECONDS));
    } finally {
      clock.release();
    }
  });

  it('delivers the exact bytes with the stored Content-Type to fetch following the redirect', async () => {
    await expectBytes(await fetch(protectedMedia.url, asOwner()), protectedMedia, protectedBytes);
    await expectBytes(await fetch(legacy.url), legacy, legacyBytes);
  });

  it('delivers the exact bytes to curl -L -u', async () => {
    expect(sha256(await curl(protectedMedia.url, owner))).toBe(protectedMedia.sha256);
    expect((await curl(legacy.url)).equals(legacyBytes)).toBe(true);
  });

  it('redirects a HEAD to a URL signed for HEAD, so a client following it gets the headers', async () => {
    const res = await getMediaUrl(protectedMedia.url, { method: 'HEAD', ...asOwner() });
    expect(res.status).toBe(302);
    const followed = await fetch(res.headers.get('location')!, { method: 'HEAD' });
    expect(followed.status).toBe(200);
    expect(followed.headers.get('content-length')).toBe(String(protectedBytes.length));
    expect(followed.headers.get('content-type')).toBe('image/png');
    const { stdout } = await execFileAsync('curl', ['-sS', '-I', '-L', '-u', `${owner.sid}:${owner.authToken}`, protectedMedia.url]);
    expect(stdout).toMatch(/HTTP\/1\.1 200/);
    expect(stdout.toLowerCase()).toContain('content-type: image/png');
  });

  it('serves Content-Disposition: attachment with the filename encoded safely for ?disposition=attachment', async () => {
    const res = await fetch(`${protectedMedia.url}?disposition=attachment`, asOwner());
    expect(res.status).toBe(200);
    const disposition = res.headers.get('content-disposition')!;
    expect(disposition).toMatch(/^attachment; filename="r_sum_ _1_.png"; filename\*=UTF-8''/);
    expect(decodeURIComponent(disposition.split("filename*=UTF-8''")[1]!)).toBe('résumé "1".png');
    await res.arrayBuffer();
    const plain = await fetch(legacy.url);
    expect(plain.headers.get('content-disposition')).toBeNull();
    await plain.arrayBuffer();
  });

  it('follows MEDIA_URL_TTL_SECONDS, and the object store refuses the URL once expired', async () => {
    // A clock 2 minutes behind with a 60 s lifetime: the URL is already expired.
    const twoMinutesAgo = new Date(Date.now() - 120_000);
    const past = await startService({ env: { MEDIA_URL_TTL_SECONDS: '60' }, clock: () => twoMinutesAgo });
    try {
      const res = await getMediaUrl(`${past.baseUrl}${new URL(legacy.url).pathname}`);
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

// The local store verifies every blob URL's Ed25519 signature, so a real client following
// a repeated redirect (answered from memory) proves the reused URL is the signed one.
describe('a repeated redirect, on the local store', () => {
  it('names the same signed URL each time, which curl follows to the bytes; a tampered one is refused', async () => {
    const local = await startService({ storeKind: 'local' });
    try {
      const a = await newAccount(local.db, 'repeat');
      await setProtection(local, a, { message: true });
      const bytes = randomBytes(4000);
      const m = await uploadJson(local, a, bytes);
      const locations = [];
      for (let i = 0; i < 3; i++) {
        const res = await getMediaUrl(m.url, { headers: { Authorization: a.basic } });
        expect(res.status).toBe(302);
        locations.push(res.headers.get('location'));
        expect(sha256(await curl(m.url, a))).toBe(sha256(bytes));
      }
      expect(new Set(locations).size).toBe(1);
      const tampered = locations[0]!.replace(/sig=([^&])/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`);
      await expectError(await fetch(tampered), 403, 'forbidden');
    } finally {
      await local.close();
    }
  });
});
