// Which origin is the service's own (#23): with PUBLIC_BASE_URL set, it alone (and
// CORS_ORIGINS), never the Host header a client writes, so a page on a name rebound to
// this address (DNS rebinding) cannot pass the CSRF check by naming itself in both. The
// console's session cookie over https. Probes reach an instance on any host.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAccount, startService, type TestService } from '../support/service.js';

/** A request with a Host header of the test's choosing (fetch always sends the URL's). */
function send(url: string, method: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.end(body);
  });
}

const REBOUND = 'rebound.example:8080';

let explicit: TestService;
let implicit: TestService;
beforeAll(async () => {
  [explicit, implicit] = await Promise.all([
    startService({ storeKind: 'local' }),
    // No PUBLIC_BASE_URL: the default names 127.0.0.1 and the port.
    startService({ storeKind: 'local', env: { PUBLIC_BASE_URL: undefined as unknown as string } }),
  ]);
});
afterAll(() => Promise.all([explicit.close(), implicit.close()]));

const patchProtection = (svc: TestService, sid: string, basic: string, host: string, origin: string) =>
  send(`${svc.baseUrl}/v1/accounts/${sid}/settings/media-protection`, 'PATCH', { Host: host, Origin: origin, Authorization: basic, 'Content-Type': 'application/json' }, '{"message": true}');

describe('with PUBLIC_BASE_URL set', () => {
  it('refuses a write whose Origin names the forged Host it was sent with, and changes nothing', async () => {
    expect(explicit.config.publicBaseUrlSet).toBe(true);
    const a = await newAccount(explicit.db);
    const forged = await patchProtection(explicit, a.sid, a.basic, REBOUND, `http://${REBOUND}`);
    expect(forged.status).toBe(403);
    expect(JSON.parse(forged.body)).toMatchObject({ error: { code: 'forbidden' } });
    const settings = await fetch(`${explicit.baseUrl}/v1/accounts/${a.sid}/settings/media-protection`, { headers: { Authorization: a.basic } });
    expect(await settings.json()).toMatchObject({ message: { enabled: false } });
    // Its own origin passes, whatever Host the request carried.
    expect((await patchProtection(explicit, a.sid, a.basic, REBOUND, explicit.baseUrl)).status).toBe(200);
  });

  it('answers health, readiness and metrics on any Host', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      expect([path, (await send(`${explicit.baseUrl}${path}`, 'GET', { Host: REBOUND })).status]).toEqual([path, 200]);
    }
  });

  it("names PUBLIC_BASE_URL, never the Host, as the pages' script source", async () => {
    for (const page of ['/console', '/docs']) {
      const res = await send(`${explicit.baseUrl}${page}`, 'GET', { Host: REBOUND });
      expect(res.headers['content-security-policy']).toContain(`script-src ${explicit.baseUrl}${page}/assets/;`);
    }
  });
});

describe('without PUBLIC_BASE_URL', () => {
  it('takes the origin a request was addressed to as its own (a console opened at localhost)', async () => {
    expect(implicit.config.publicBaseUrlSet).toBe(false);
    const a = await newAccount(implicit.db);
    const port = new URL(implicit.baseUrl).port;
    const res = await patchProtection(implicit, a.sid, a.basic, `localhost:${port}`, `http://localhost:${port}`);
    expect(res.status).toBe(200);
    expect((await patchProtection(implicit, a.sid, a.basic, `localhost:${port}`, 'http://evil.example')).status).toBe(403);
    const page = await send(`${implicit.baseUrl}/console`, 'GET', { Host: `localhost:${port}` });
    expect(page.headers['content-security-policy']).toContain(`script-src http://localhost:${port}/console/assets/;`);
  });

  it('copies no Host that is not a plain host into the CSP', async () => {
    const res = await send(`${implicit.baseUrl}/console`, 'GET', { Host: "evil.example;script-src 'unsafe-inline'" });
    expect(res.status).toBe(200);
    const csp = String(res.headers['content-security-policy']);
    expect(csp).not.toContain('evil');
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain(`script-src http://127.0.0.1:${new URL(implicit.baseUrl).port}/console/assets/;`);
  });
});

describe("the console's session cookie", () => {
  const signIn = async (svc: TestService) => {
    const a = await newAccount(svc.db);
    const res = await fetch(`${svc.baseUrl}/console/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ account_sid: a.sid, auth_token: a.authToken }),
    });
    expect(res.status).toBe(201);
    return res.headers.getSetCookie()[0]!;
  };

  it('is __Host-mediagate_session, Secure, Path=/ and without Domain when browsers use https', async () => {
    // Plain http here, as behind a proxy that ends TLS without TRUST_PROXY: PUBLIC_BASE_URL says https.
    const https = await startService({ storeKind: 'local', env: { PUBLIC_BASE_URL: 'https://media.example.com' } });
    try {
      const cookie = await signIn(https);
      expect(cookie).toMatch(/^__Host-mediagate_session=[^;]+; path=\/; expires=[^;]+; samesite=strict; secure; httponly$/);
      const [pair] = cookie.split(';');
      expect((await fetch(`${https.baseUrl}/console/session`, { headers: { Cookie: pair! } })).status).toBe(200);
      // The unprefixed name is not read: a cookie planted by a plain-http page or a sibling host.
      const planted = pair!.replace('__Host-', '');
      expect((await fetch(`${https.baseUrl}/console/session`, { headers: { Cookie: planted } })).status).toBe(204);
    } finally {
      await https.close();
    }
  });

  it('is mediagate_session, not Secure, over plain http (where the prefix cannot be)', async () => {
    const cookie = await signIn(explicit);
    expect(cookie).toMatch(/^mediagate_session=[^;]+; path=\/; expires=[^;]+; samesite=strict; httponly$/);
  });
});
