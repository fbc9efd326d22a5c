// What a hostile web page or a careless browser could do with media and the API:
// stored XSS through uploads, CSRF riding cached Basic credentials, CORS, sniffing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountApi } from '../support/credentials.js';
import { getMediaUrl, newAccount, startService, upload, uploadJson, type TestAccount, type TestService } from '../support/service.js';

const APP_ORIGIN = 'https://app.example.com';
const EVIL_ORIGIN = 'https://evil.example';
const ACTIVE_TYPES = ['text/html', 'image/svg+xml', 'application/xhtml+xml', 'text/xml', 'application/javascript', 'text/html; charset=utf-8'];

let local: TestService;
let s3: TestService;
beforeAll(async () => {
  [local, s3] = await Promise.all([
    startService({ storeKind: 'local', env: { CORS_ORIGINS: `${APP_ORIGIN}, http://localhost:3000` } }),
    startService(),
  ]);
});
afterAll(() => Promise.all([local.close(), s3.close()]));

async function followedOnce(url: string, init: RequestInit = {}): Promise<Response> {
  const res = await getMediaUrl(url, init);
  expect(res.status).toBe(302);
  return fetch(res.headers.get('location')!);
}

describe('uploaded active content (stored XSS)', () => {
  it.each(ACTIVE_TYPES)('serves %s from the local store as an attachment, sandboxed and unsniffable', async (type) => {
    const a = await newAccount(local.db);
    const m = await uploadJson(local, a, '<script>alert(document.domain)</script>', { contentType: type, filename: 'x.html' });
    const res = await followedOnce(m.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="x.html"/);
    expect(res.headers.get('content-security-policy')).toBe("sandbox; default-src 'none'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('keeps images inline on the local store, still sandboxed', async () => {
    const a = await newAccount(local.db);
    const m = await uploadJson(local, a, 'png bytes', { contentType: 'image/png' });
    const res = await followedOnce(m.url);
    expect(res.headers.get('content-disposition')).toBeNull();
    expect(res.headers.get('content-security-policy')).toBe("sandbox; default-src 'none'");
  });

  it('forces an attachment on a blob URL of an active type even when its signature names none', async () => {
    const a = await newAccount(local.db);
    const m = await uploadJson(local, a, '<svg/>', { contentType: 'image/svg+xml' });
    const url = await local.store.signUrl({
      key: `${a.sid}/${m.sid}`,
      method: 'GET',
      contentType: 'image/svg+xml',
      signedAt: new Date(),
      ttlSeconds: 60,
    });
    expect(new URL(url).searchParams.get('cd')).toBeNull();
    expect((await fetch(url)).headers.get('content-disposition')).toMatch(/^attachment;/);
  });

  it('signs S3 URLs of active types with response-content-disposition, and S3 serves them as attachments', async () => {
    const a = await newAccount(s3.db);
    const m = await uploadJson(s3, a, '<html><script>1</script></html>', { contentType: 'text/html', filename: 'page.html' });
    const res = await getMediaUrl(m.url);
    const location = new URL(res.headers.get('location')!);
    expect(location.searchParams.get('response-content-disposition')).toMatch(/^attachment; filename="page.html"/);
    const served = await fetch(location);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-disposition')).toMatch(/^attachment; filename="page.html"/);
  });

  it('sandboxes blob answers that are errors too (tampered, expired, unknown, deleted, wrong method)', async () => {
    const a = await newAccount(local.db);
    const m = await uploadJson(local, a, 'x', { contentType: 'text/html' });
    const location = (await getMediaUrl(m.url)).headers.get('location')!;
    const answers = [
      await fetch(`${location}x`),
      await fetch(`${local.baseUrl}/v1/blobs/x/y`),
      await fetch(location, { method: 'POST' }),
    ];
    await fetch(m.url, { method: 'DELETE', headers: { Authorization: a.basic } });
    answers.push(await fetch(location));
    for (const res of answers) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.headers.get('content-security-policy')).toBe("sandbox; default-src 'none'");
    }
  });

  it('blob URLs are built on BLOB_BASE_URL when it is set', async () => {
    const blobs = await startService({ storeKind: 'local', env: { BLOB_BASE_URL: 'https://media-usercontent.example.net/' } });
    try {
      const a = await newAccount(blobs.db);
      const m = await uploadJson(blobs, a, 'x');
      const location = new URL((await getMediaUrl(m.url)).headers.get('location')!);
      expect(location.origin).toBe('https://media-usercontent.example.net');
      expect(location.pathname).toBe(`/v1/blobs/${a.sid}/${m.sid}`);
    } finally {
      await blobs.close();
    }
  });
});

describe('X-Content-Type-Options', () => {
  it('is nosniff on every kind of answer', async () => {
    const a = await newAccount(local.db);
    const m = await uploadJson(local, a, 'x');
    const answers = await Promise.all([
      fetch(`${local.baseUrl}/healthz`),
      fetch(`${local.baseUrl}/nope`),
      getMediaUrl(m.url),
      getMediaUrl(m.url, { headers: { Authorization: 'Basic !!!' } }),
      accountApi(local, a, '/keys'),
      fetch(`${local.baseUrl}/healthz`, { method: 'POST' }),
    ]);
    for (const res of answers) expect([res.status, res.headers.get('x-content-type-options')]).toEqual([res.status, 'nosniff']);
  });
});

describe('cross-site requests (CSRF)', () => {
  const formPost = (svc: TestService, a: TestAccount, path: string, origin: string) =>
    fetch(`${svc.baseUrl}/v1/accounts/${a.sid}${path}`, {
      method: 'POST',
      headers: { Authorization: a.basic, Origin: origin, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'x=1',
    });

  it('refuses state changes from a foreign Origin with 403, and changes nothing', async () => {
    const a = await newAccount(local.db);
    expect((await formPost(local, a, '/auth-tokens/secondary', EVIL_ORIGIN)).status).toBe(403);
    expect((await formPost(local, a, '/auth-tokens/promote', EVIL_ORIGIN)).status).toBe(403);
    expect((await formPost(local, a, '/auth-tokens/secondary', 'null')).status).toBe(403);
    const patch = await accountApi(local, a, '/settings/media-protection', {
      method: 'PATCH',
      headers: { Origin: EVIL_ORIGIN },
      json: { message: true },
    });
    expect(patch.status).toBe(403);
    expect(((await patch.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    const upload = await fetch(`${local.baseUrl}/v1/accounts/${a.sid}/media?kind=message`, {
      method: 'POST',
      headers: { Authorization: a.basic, Origin: EVIL_ORIGIN, 'Content-Type': 'text/plain' },
      body: 'x',
    });
    expect(upload.status).toBe(403);
    const events = (await (await accountApi(local, a, '/events')).json()) as { events: unknown[] };
    expect(events.events).toEqual([]);
    const media = (await (await accountApi(local, a, '/media')).json()) as { media: unknown[] };
    expect(media.media).toEqual([]);
    // The owner's token still works: it was not rotated away.
    expect((await accountApi(local, a, '/settings/media-protection')).status).toBe(200);
  });

  it("accepts state changes from the service's own origin and from CORS_ORIGINS", async () => {
    const a = await newAccount(local.db);
    for (const origin of [local.baseUrl, APP_ORIGIN]) {
      const res = await accountApi(local, a, '/settings/media-protection', { method: 'PATCH', headers: { Origin: origin }, json: { fax: true } });
      expect(res.status).toBe(200);
    }
  });

  it('reads JSON bodies only when sent as application/json (415 otherwise)', async () => {
    const a = await newAccount(local.db);
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x']) {
      const res = await accountApi(local, a, '/settings/media-protection', {
        method: 'PATCH',
        headers: { 'Content-Type': type },
        body: '{"message": true}',
      });
      expect(res.status).toBe(415);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unsupported_media_type');
    }
    const ok = await accountApi(local, a, '/settings/media-protection', {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json; charset=utf-8' },
      body: '{"message": true}',
    });
    expect(ok.status).toBe(200);
  });
});

describe('CORS', () => {
  it('answers a preflight from a listed origin with 204 and the allowed methods and headers', async () => {
    const a = await newAccount(local.db);
    const res = await fetch(`${local.baseUrl}/v1/accounts/${a.sid}/media/ME${'0'.repeat(32)}`, {
      method: 'OPTIONS',
      headers: { Origin: APP_ORIGIN, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(res.headers.get('access-control-allow-methods')).toContain('GET');
    expect(res.headers.get('access-control-allow-headers')).toBe('Authorization, Content-Type');
    expect(Number(res.headers.get('access-control-max-age'))).toBeGreaterThan(0);
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('names a listed origin on answers, with Vary and the exposed headers; never credentials', async () => {
    const a = await newAccount(local.db);
    const m = await uploadJson(local, a, 'x');
    for (const res of [
      await getMediaUrl(m.url, { headers: { Origin: APP_ORIGIN } }),
      await getMediaUrl(m.url, { headers: { Origin: APP_ORIGIN, Authorization: 'Basic !!!' } }),
      await accountApi(local, a, '/media', { headers: { Origin: APP_ORIGIN } }),
    ]) {
      expect(res.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
      expect(res.headers.get('vary')).toContain('Origin');
      expect(res.headers.get('access-control-expose-headers')).toBe('Location, X-Request-Id, Retry-After, WWW-Authenticate');
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    }
  });

  it('gives an unlisted origin no CORS headers, and a service without CORS_ORIGINS none at all', async () => {
    const a = await newAccount(local.db);
    const m = await uploadJson(local, a, 'x');
    const unlisted = await getMediaUrl(m.url, { headers: { Origin: EVIL_ORIGIN } });
    expect(unlisted.headers.get('access-control-allow-origin')).toBeNull();
    const plain = await getMediaUrl(`${s3.baseUrl}/v1/accounts/${a.sid}/media/${m.sid}`, { headers: { Origin: APP_ORIGIN } });
    expect([...plain.headers.keys()].filter((h) => h.startsWith('access-control-'))).toEqual([]);
    const preflight = await fetch(`${s3.baseUrl}/healthz`, {
      method: 'OPTIONS',
      headers: { Origin: APP_ORIGIN, 'Access-Control-Request-Method': 'GET' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it("lets any origin fetch the local store's blobs", async () => {
    const a = await newAccount(local.db);
    const m = await uploadJson(local, a, 'x');
    const res = await followedOnce(m.url);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('filenames', () => {
  it.each(['invoice\u202egnp.exe', 'a\u200bb.png', 'line\u2028break.txt', 'para\u2029graph.txt', 'bom\ufeff.txt'])(
    'refuses %j (format and separator characters spoof what people see)',
    async (filename) => {
      const a = await newAccount(local.db);
      const res = await upload(local, a, 'x', { filename });
      expect(res.status).toBe(400);
    },
  );

  it('keeps ordinary Unicode names', async () => {
    const a = await newAccount(local.db);
    expect((await uploadJson(local, a, 'x', { filename: 'reçu été 東京.pdf' })).filename).toBe('reçu été 東京.pdf');
  });
});

describe('exact routes', () => {
  it('matches paths case-sensitively and without trailing-slash variants', async () => {
    const a = await newAccount(local.db);
    expect((await accountApi(local, a, '/keys')).status).toBe(200);
    expect((await fetch(`${local.baseUrl}/V1/ACCOUNTS/${a.sid}/KEYS`, { headers: { Authorization: a.basic } })).status).toBe(404);
    expect((await accountApi(local, a, '/keys/')).status).toBe(404);
    expect((await fetch(`${local.baseUrl}/healthz/`)).status).toBe(404);
    const m = await uploadJson(local, a, 'x');
    expect((await getMediaUrl(`${m.url}/`)).status).toBe(404);
    expect((await getMediaUrl(m.url.replace('/media/', '/MEDIA/'))).status).toBe(404);
  });
});
