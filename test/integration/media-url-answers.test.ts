// Issue #11: the media URL's answers for clients that cannot take the 302: the signed
// URL as JSON (`?redirect=false`, `?expires_in`) and the bytes themselves
// (MEDIA_DELIVERY=proxy), on both stores. Who gets an answer at all is
// media-url.test.ts's decision-order suite; a 100 MiB object through a real process is
// test/soak/proxy-big-object.test.ts.
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestClock } from '../support/clock.js';
import { expectError } from '../support/http.js';
import { sha256 } from '../support/media.js';
import { accountWithMedia, getMediaUrl, startService, uploadJson, type MediaJson, type TestAccount, type TestService } from '../support/service.js';

const TTL_SECONDS = 14400; // MEDIA_URL_TTL_SECONDS' default
const ISO_8601 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/;
const JSON_FIELDS = ['content_type', 'expires_at', 'filename', 'method', 'size_bytes', 'url'];

interface UrlAnswer {
  url: string;
  method: string;
  expires_at: string;
  content_type: string;
  size_bytes: number;
  filename: string | null;
}

/** When a signed URL stops working, read from the URL itself: S3's X-Amz-Date + X-Amz-Expires, the local store's `exp`. */
function signedExpiry(url: string): { expiresAtMillis: number; lifetimeSeconds: number | undefined } {
  const q = new URL(url).searchParams;
  const amzDate = q.get('X-Amz-Date');
  if (amzDate !== null) {
    const signedAt = Date.parse(amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'));
    const lifetime = Number(q.get('X-Amz-Expires'));
    return { expiresAtMillis: signedAt + lifetime * 1000, lifetimeSeconds: lifetime };
  }
  const exp = q.get('exp');
  if (exp === null) throw new Error(`not a signed media URL: ${url}`);
  return { expiresAtMillis: Number(exp) * 1000, lifetimeSeconds: undefined };
}

/** The Content-Disposition a signed URL carries inside itself (S3's response-content-disposition, the local store's cd). */
function dispositionInUrl(url: string): string | null {
  const q = new URL(url).searchParams;
  return q.get('response-content-disposition') ?? q.get('cd');
}

async function urlAnswer(mediaUrl: string, query: string, auth?: string): Promise<{ res: Response; body: UrlAnswer }> {
  const res = await getMediaUrl(`${mediaUrl}?${query}`, auth ? { headers: { Authorization: auth } } : {});
  expect(res.status, await res.clone().text()).toBe(200);
  return { res, body: (await res.json()) as UrlAnswer };
}

describe.each(['s3', 'local'] as const)('media URL answers, %s store', (storeKind) => {
  const clock = new TestClock();
  let redirecting: TestService;
  let proxying: TestService;

  beforeAll(async () => {
    [redirecting, proxying] = await Promise.all([
      startService({ storeKind, clock: clock.now }),
      startService({ storeKind, env: { MEDIA_DELIVERY: 'proxy' } }),
    ]);
  });
  afterAll(() => Promise.all([redirecting?.close(), proxying?.close()]));

  /** Runs `check` with the service's clock pinned (released after, whatever happens). */
  async function pinned(check: (now: Date) => Promise<void>): Promise<void> {
    try {
      await check(clock.pin());
    } finally {
      clock.release();
    }
  }

  describe('GET ?redirect=false', () => {
    let owner: TestAccount;
    let legacy: MediaJson;
    let legacyBytes: Buffer;
    let protectedMedia: MediaJson;
    let protectedBytes: Buffer;

    beforeAll(async () => {
      ({ owner, legacy, legacyBytes, protectedMedia, protectedBytes } = await accountWithMedia(redirecting));
    });

    it('answers 200 JSON with the signed URL, its method and expiry, and the media type, size and name', async () => {
      const { res, body } = await urlAnswer(protectedMedia.url, 'redirect=false', owner.basic);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('cache-control')).toBe('private, no-store');
      expect(res.headers.get('location')).toBeNull();
      expect(Object.keys(body).sort()).toEqual(JSON_FIELDS);
      expect(body).toMatchObject({ method: 'GET', content_type: 'image/png', size_bytes: protectedBytes.length, filename: 'photo.png' });
      expect(typeof body.url).toBe('string');
      expect(Number.isInteger(body.size_bytes)).toBe(true);
      expect(body.expires_at).toMatch(ISO_8601);
      if (storeKind === 'local') expect(new URL(body.url).pathname).toBe(`/v1/blobs/${owner.sid}/${protectedMedia.sid}`);
      else expect(new URL(body.url).pathname).toBe(`/${inject('s3Bucket')}/${owner.sid}/${protectedMedia.sid}`);
    });

    it('answers filename null for media uploaded without a name', async () => {
      const bytes = randomBytes(100);
      const unnamed = await uploadJson(redirecting, owner, bytes, { contentType: 'audio/ogg' });
      const { body } = await urlAnswer(unnamed.url, 'redirect=false', owner.basic);
      expect(body).toMatchObject({ filename: null, content_type: 'audio/ogg', size_bytes: 100, method: 'GET' });
    });

    it('names the very URL the 302 names', async () => {
      // The signed-URL cache hands both answers the same URL within its reuse window.
      const redirect = await getMediaUrl(protectedMedia.url, { headers: { Authorization: owner.basic } });
      expect(redirect.status).toBe(302);
      const { body } = await urlAnswer(protectedMedia.url, 'redirect=false', owner.basic);
      expect(body.url).toBe(redirect.headers.get('location'));
    });

    it("reports expires_at as the signed URL's own expiry: MEDIA_URL_TTL_SECONDS from its signing, reused for under a minute", async () => {
      const fresh = await uploadJson(redirecting, owner, 'never signed before');
      const answerAt = async (at: number) => {
        clock.pin(at);
        const { body } = await urlAnswer(fresh.url, 'redirect=false', owner.basic);
        const signed = signedExpiry(body.url);
        expect(Date.parse(body.expires_at)).toBe(signed.expiresAtMillis);
        if (signed.lifetimeSeconds !== undefined) expect(signed.lifetimeSeconds).toBe(TTL_SECONDS);
        return { url: body.url, expiresAt: signed.expiresAtMillis };
      };
      await pinned(async (now) => {
        const t = now.getTime();
        const first = await answerAt(t);
        expect(first.expiresAt).toBe(t + TTL_SECONDS * 1000);
        // SIGNED_URL_REUSE_SECONDS (60 s, each URL reused for 75 to 100 % of it).
        expect(await answerAt(t + 44_000)).toEqual(first);
        const later = await answerAt(t + 60_000);
        expect(later.expiresAt).toBe(t + 60_000 + TTL_SECONDS * 1000);
      });
    });

    it('hands out a URL that serves the exact bytes with the stored type, without credentials', async () => {
      for (const [media, bytes, auth] of [
        [protectedMedia, protectedBytes, owner.basic],
        [legacy, legacyBytes, undefined],
      ] as const) {
        const { body } = await urlAnswer(media.url, 'redirect=false', auth);
        const delivered = await fetch(body.url);
        expect(delivered.status).toBe(200);
        expect(delivered.headers.get('content-type')).toBe(media.content_type);
        expect(sha256(Buffer.from(await delivered.arrayBuffer()))).toBe(sha256(bytes));
        expect(media.sha256).toBe(sha256(bytes));
      }
    });

    it('answers a HEAD with the JSON of a URL signed for HEAD (its length is all HTTP lets through)', async () => {
      // A HEAD answer has no body, so the JSON's `method: "HEAD"` cannot be read; its
      // Content-Length can, and equals the JSON naming the HEAD-signed URL the 302 gives.
      const redirect = await getMediaUrl(protectedMedia.url, { method: 'HEAD', headers: { Authorization: owner.basic } });
      expect(redirect.status).toBe(302);
      const headUrl = redirect.headers.get('location')!;
      const res = await getMediaUrl(`${protectedMedia.url}?redirect=false`, { method: 'HEAD', headers: { Authorization: owner.basic } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('cache-control')).toBe('private, no-store');
      expect(await res.text()).toBe('');
      const expected = JSON.stringify({
        url: headUrl,
        method: 'HEAD',
        expires_at: new Date(signedExpiry(headUrl).expiresAtMillis).toISOString(),
        content_type: 'image/png',
        size_bytes: protectedBytes.length,
        filename: 'photo.png',
      });
      expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(expected)));
      // That URL is signed for HEAD: it answers a HEAD with the headers.
      const head = await fetch(headUrl, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(protectedBytes.length));
    });

    it('signs a URL expiring 60 s out for ?expires_in=60, in the JSON and in the 302, never a reused one', async () => {
      await pinned(async (now) => {
        const { body } = await urlAnswer(protectedMedia.url, 'redirect=false&expires_in=60', owner.basic);
        const signed = signedExpiry(body.url);
        expect(Date.parse(body.expires_at)).toBe(signed.expiresAtMillis);
        if (signed.lifetimeSeconds !== undefined) expect(signed.lifetimeSeconds).toBe(60);
        expect(signed.expiresAtMillis).toBe(now.getTime() + 60_000);
        const delivered = await fetch(body.url);
        expect(sha256(Buffer.from(await delivered.arrayBuffer()))).toBe(sha256(protectedBytes));

        const redirect = await getMediaUrl(`${protectedMedia.url}?expires_in=60`, { headers: { Authorization: owner.basic } });
        expect(redirect.status).toBe(302);
        expect(signedExpiry(redirect.headers.get('location')!).expiresAtMillis).toBe(now.getTime() + 60_000);
      });
    });

    it('accepts expires_in up to MEDIA_URL_TTL_SECONDS', async () => {
      const { body } = await urlAnswer(legacy.url, `redirect=false&expires_in=${TTL_SECONDS}`);
      const signed = signedExpiry(body.url);
      if (signed.lifetimeSeconds !== undefined) expect(signed.lifetimeSeconds).toBe(TTL_SECONDS);
      expect(Date.parse(body.expires_at)).toBe(signed.expiresAtMillis);
    });

    it('puts disposition=attachment inside the signed URL, which then serves an attachment', async () => {
      const { body } = await urlAnswer(protectedMedia.url, 'redirect=false&disposition=attachment', owner.basic);
      expect(dispositionInUrl(body.url)).toMatch(/^attachment; filename="photo.png"/);
      const delivered = await fetch(body.url);
      expect(delivered.status).toBe(200);
      expect(delivered.headers.get('content-disposition')).toMatch(/^attachment; filename="photo.png"/);
      expect(sha256(Buffer.from(await delivered.arrayBuffer()))).toBe(sha256(protectedBytes));
      const inline = await urlAnswer(protectedMedia.url, 'redirect=false', owner.basic);
      expect(dispositionInUrl(inline.body.url)).toBeNull();
    });
  });

  describe('MEDIA_DELIVERY=proxy', () => {
    let owner: TestAccount;
    let legacy: MediaJson;
    let protectedMedia: MediaJson;
    let protectedBytes: Buffer;
    const auth = () => ({ Authorization: owner.basic });

    beforeAll(async () => {
      ({ owner, legacy, protectedMedia, protectedBytes } = await accountWithMedia(proxying));
    });

    it('answers 200 with the exact bytes and their headers, from the media URL itself', async () => {
      const res = await getMediaUrl(protectedMedia.url, { headers: auth() });
      expect(res.status).toBe(200);
      expect(res.headers.get('location')).toBeNull();
      expect(res.headers.get('content-type')).toBe('image/png');
      expect(res.headers.get('content-length')).toBe(String(protectedBytes.length));
      expect(res.headers.get('etag')).toMatch(/^"[^"]+"$/);
      expect(res.headers.get('accept-ranges')).toBe('bytes');
      expect(res.headers.get('cache-control')).toBe('private, no-store');
      expect(res.headers.get('content-disposition')).toBeNull();
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(protectedMedia.sha256);
    });

    it('answers 206 with exactly the bytes of a range', async () => {
      const res = await getMediaUrl(protectedMedia.url, { headers: { ...auth(), Range: 'bytes=100-1099' } });
      expect(res.status).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes 100-1099/${protectedBytes.length}`);
      expect(res.headers.get('content-length')).toBe('1000');
      expect(res.headers.get('content-type')).toBe('image/png');
      expect(Buffer.from(await res.arrayBuffer()).equals(protectedBytes.subarray(100, 1100))).toBe(true);

      const suffix = await getMediaUrl(protectedMedia.url, { headers: { ...auth(), Range: 'bytes=-10' } });
      expect(suffix.status).toBe(206);
      expect(suffix.headers.get('content-range')).toBe(`bytes ${protectedBytes.length - 10}-${protectedBytes.length - 1}/${protectedBytes.length}`);
      expect(Buffer.from(await suffix.arrayBuffer()).equals(protectedBytes.subarray(-10))).toBe(true);

      const open = await getMediaUrl(protectedMedia.url, { headers: { ...auth(), Range: 'bytes=4990-' } });
      expect(open.status).toBe(206);
      expect(Buffer.from(await open.arrayBuffer()).equals(protectedBytes.subarray(4990))).toBe(true);
    });

    it('answers bytes=0-0 with the first byte and nothing after it (s3rver sends the whole object: the service cuts it)', async () => {
      const res = await getMediaUrl(protectedMedia.url, { headers: { ...auth(), Range: 'bytes=0-0' } });
      expect(res.status).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes 0-0/${protectedBytes.length}`);
      expect(res.headers.get('content-length')).toBe('1');
      expect(Buffer.from(await res.arrayBuffer()).equals(protectedBytes.subarray(0, 1))).toBe(true);
      // On the wire: fetch stops at Content-Length, so read everything the service sends
      // until it closes; bytes past the promised one would be taken as the next answer.
      const url = new URL(protectedMedia.url);
      const socket = connect(Number(url.port), url.hostname);
      socket.write(
        `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: ${owner.basic}\r\nRange: bytes=0-0\r\nConnection: close\r\n\r\n`,
      );
      const wire = Buffer.concat(await socket.toArray());
      const bodyStart = wire.indexOf('\r\n\r\n') + 4;
      expect(wire.subarray(0, bodyStart).toString()).toMatch(/^HTTP\/1\.1 206 /);
      expect(wire.subarray(bodyStart).equals(protectedBytes.subarray(0, 1))).toBe(true);
    });

    it('answers 416 with Content-Range bytes */size for a range past the end', async () => {
      const res = await getMediaUrl(protectedMedia.url, { headers: { ...auth(), Range: `bytes=${protectedBytes.length}-` } });
      expect(res.status).toBe(416);
      expect(res.headers.get('content-range')).toBe(`bytes */${protectedBytes.length}`);
      const body = (await res.json()) as { error: { status: number } };
      expect(body.error.status).toBe(416);
    });

    it('answers HEAD with the headers and no body', async () => {
      const res = await getMediaUrl(protectedMedia.url, { method: 'HEAD', headers: auth() });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/png');
      expect(res.headers.get('content-length')).toBe(String(protectedBytes.length));
      expect(res.headers.get('accept-ranges')).toBe('bytes');
      expect(res.headers.get('etag')).toMatch(/^"[^"]+"$/);
      expect(res.headers.get('cache-control')).toBe('private, no-store');
      expect((await res.arrayBuffer()).byteLength).toBe(0);
    });

    it('answers 304 without a body to If-None-Match with the ETag it gave', async () => {
      const first = await getMediaUrl(protectedMedia.url, { headers: auth() });
      const etag = first.headers.get('etag')!;
      await first.arrayBuffer();
      for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
        const res = await getMediaUrl(protectedMedia.url, { headers: { ...auth(), 'If-None-Match': ifNoneMatch } });
        expect(res.status, ifNoneMatch).toBe(304);
        expect(res.headers.get('etag')).toBe(etag);
        expect(res.headers.get('cache-control')).toBe('private, no-store');
        expect((await res.arrayBuffer()).byteLength).toBe(0);
      }
      const other = await getMediaUrl(protectedMedia.url, { headers: { ...auth(), 'If-None-Match': '"something-else"' } });
      expect(other.status).toBe(200);
      await other.arrayBuffer();
      // The validator still sits behind the credentials check.
      await expectError(await getMediaUrl(protectedMedia.url, { headers: { 'If-None-Match': etag } }), 401, 'unauthorized');
      // Another media's ETag differs.
      const legacyRes = await getMediaUrl(legacy.url);
      expect(legacyRes.headers.get('etag')).not.toBe(etag);
      await legacyRes.arrayBuffer();
    });

    it('serves Content-Disposition: attachment for ?disposition=attachment', async () => {
      const res = await getMediaUrl(`${protectedMedia.url}?disposition=attachment`, { headers: auth() });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-disposition')).toBe(`attachment; filename="photo.png"; filename*=UTF-8''photo.png`);
      expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(protectedMedia.sha256);
    });

    it('serves active types (text/html) as sandboxed attachments whatever was asked', async () => {
      const page = '<script>alert(document.domain)</script>';
      const html = await uploadJson(proxying, owner, page, { contentType: 'text/html', filename: 'page.html' });
      for (const query of ['', '?disposition=inline']) {
        const res = await getMediaUrl(`${html.url}${query}`, { headers: auth() });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('text/html');
        expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="page.html"/);
        expect(res.headers.get('content-security-policy')).toBe("sandbox; default-src 'none'");
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(await res.text()).toBe(page);
      }
    });

    it('still answers ?redirect=false with the JSON of a signed URL', async () => {
      const { res, body } = await urlAnswer(protectedMedia.url, 'redirect=false&expires_in=120', owner.basic);
      expect(res.headers.get('cache-control')).toBe('private, no-store');
      expect(Object.keys(body).sort()).toEqual(JSON_FIELDS);
      expect(body).toMatchObject({ method: 'GET', content_type: 'image/png', size_bytes: protectedBytes.length, filename: 'photo.png' });
      expect(Date.parse(body.expires_at)).toBe(signedExpiry(body.url).expiresAtMillis);
      const delivered = await fetch(body.url);
      expect(sha256(Buffer.from(await delivered.arrayBuffer()))).toBe(protectedMedia.sha256);
      await expectError(await getMediaUrl(`${protectedMedia.url}?redirect=false`), 401, 'unauthorized');
      await expectError(await getMediaUrl(`${legacy.url}?expires_in=59`), 400, 'invalid_request');
    });
  });
});

