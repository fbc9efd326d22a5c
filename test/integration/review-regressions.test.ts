// Regressions found by a black-box review of the contract (issues #2, #4, #5); one test per finding.
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:net';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth, getMediaUrl, newAccount, setProtection, startService, uploadJson, type TestAccount, type TestService } from '../support/service.js';

let svc: TestService;
beforeAll(async () => {
  svc = await startService();
});
afterAll(() => svc.close());

const api = (a: TestAccount, path: string, init: RequestInit & { auth?: string } = {}) =>
  fetch(`${svc.baseUrl}/v1/accounts/${a.sid}${path}`, { ...init, headers: { Authorization: init.auth ?? a.basic, ...(init.headers as object) } });

async function app(a: TestAccount): Promise<{ id: string; key: KeyObject }> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const res = await api(a, '/applications', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'a', public_key: publicKey.export({ type: 'spki', format: 'pem' }) }),
  });
  return { id: ((await res.json()) as { application_id: string }).application_id, key: privateKey };
}
const jwt = (a: { id: string; key: KeyObject }, claims: Record<string, unknown> = {}) => {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ application_id: a.id, iat: now, exp: now + 300, jti: randomUUID(), ...claims })
    .setProtectedHeader({ alg: 'EdDSA' })
    .sign(a.key);
};

describe('events', () => {
  it('are newest first by number, across digit boundaries, and pages lose nothing', async () => {
    const a = await newAccount(svc.db);
    for (let i = 0; i < 12; i++) await setProtection(svc, a, { fax: i % 2 === 0 });
    const all = (await (await api(a, '/events?page_size=100')).json()) as { events: { id: string }[] };
    const ids = all.events.map((e) => BigInt(e.id));
    expect(ids).toHaveLength(12);
    for (let i = 1; i < ids.length; i++) expect(ids[i - 1]! > ids[i]!).toBe(true);
    const paged: string[] = [];
    let token: string | null = null;
    do {
      const page = (await (await api(a, `/events?page_size=5${token ? `&page_token=${token}` : ''}`)).json()) as {
        events: { id: string }[];
        next_page_token: string | null;
      };
      paged.push(...page.events.map((e) => e.id));
      token = page.next_page_token;
    } while (token);
    expect(paged).toEqual(all.events.map((e) => e.id));
  });
});

describe('media bound to an application', () => {
  it("refuses another application's JWT on metadata and DELETE, and leaves it out of that application's list", async () => {
    const a = await newAccount(svc.db);
    const owner = await app(a);
    const other = await app(a);
    const m = await uploadJson(svc, a, 'x', { applicationId: owner.id });
    const free = await uploadJson(svc, a, 'y');
    const otherAuth = `Bearer ${await jwt(other)}`;
    expect((await fetch(`${m.url}.json`, { headers: { Authorization: otherAuth } })).status).toBe(403);
    expect((await fetch(m.url, { method: 'DELETE', headers: { Authorization: otherAuth } })).status).toBe(403);
    const listed = (await (await api(a, '/media', { auth: otherAuth })).json()) as { media: { sid: string }[] };
    expect(listed.media.map((x) => x.sid)).toEqual([free.sid]);
    const ownerAuth = `Bearer ${await jwt(owner)}`;
    expect((await fetch(`${m.url}.json`, { headers: { Authorization: ownerAuth } })).status).toBe(200);
    expect((await fetch(m.url, { method: 'DELETE', headers: { Authorization: ownerAuth } })).status).toBe(204);
  });

  it('refuses a JWT whose exp is not after its iat', async () => {
    const a = await newAccount(svc.db);
    const application = await app(a);
    const m = await uploadJson(svc, a, 'x');
    const now = Math.floor(Date.now() / 1000);
    const token = await jwt(application, { iat: now, exp: now - 1 });
    expect((await getMediaUrl(m.url, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(401);
  });
});

/** Sends a request as raw lines (with Connection: close) and resolves with all the server said. */
function rawStatus(port: number, lines: string[]): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (c) => (out += c));
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(out));
    s.write(`${lines.filter((l) => !/^Connection:/i.test(l)).join('\r\n')}\r\nConnection: close\r\n\r\n`);
  });
}

describe('Authorization header edge cases', () => {
  it('answers 401 to an empty Authorization header, even on legacy media', async () => {
    const a = await newAccount(svc.db);
    const m = await uploadJson(svc, a, 'x');
    const port = Number(new URL(svc.baseUrl).port);
    const out = await rawStatus(port, [`GET ${new URL(m.url).pathname} HTTP/1.1`, 'Host: x', 'Authorization: ', 'Connection: close']);
    expect(out).toMatch(/^HTTP\/1\.1 401/);
    expect(out).toContain('WWW-Authenticate: Basic realm="mediagate"');
  });

  it('answers 401 to repeated Authorization headers, whatever the first one is', async () => {
    const a = await newAccount(svc.db);
    const m = await uploadJson(svc, a, 'x');
    const port = Number(new URL(svc.baseUrl).port);
    const out = await rawStatus(port, [
      `GET ${new URL(m.url).pathname} HTTP/1.1`,
      'Host: x',
      `Authorization: ${a.basic}`,
      `Authorization: ${basicAuth(a.sid, 'f'.repeat(32))}`,
      'Connection: close',
    ]);
    expect(out).toMatch(/^HTTP\/1\.1 401/);
  });
});

describe('HTTP details', () => {
  it('sends Allow with 405', async () => {
    const a = await newAccount(svc.db);
    const m = await uploadJson(svc, a, 'x');
    const res = await fetch(m.url, { method: 'PUT', headers: { Authorization: a.basic } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')!.split(', ').sort()).toEqual(['DELETE', 'GET', 'HEAD']);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
  });

  it('treats empty query values as absent', async () => {
    const a = await newAccount(svc.db);
    expect((await api(a, '/media?kind=&page_token=&page_size=')).status).toBe(200);
    const m = await uploadJson(svc, a, 'x');
    expect((await getMediaUrl(`${m.url}?disposition=`)).status).toBe(302);
  });

  it('counts an upload the client cut short as its error (400), never as a 503', async () => {
    const a = await newAccount(svc.db);
    const path = `/v1/accounts/${a.sid}/media`;
    const logged = svc.logLine((l) => l.path === path);
    // Expect: 100-continue tells when the service is reading the body: then the client leaves.
    const req = request(`${svc.baseUrl}${path}?kind=message`, {
      method: 'POST',
      headers: { Authorization: a.basic, 'Content-Length': '500', Expect: '100-continue' },
    });
    req.on('error', () => undefined);
    req.on('continue', () => {
      req.write('0123456789', () => req.destroy());
    });
    expect((await logged).status).toBe(400);
    const { rows } = await svc.db.query('SELECT count(*)::int AS n FROM media WHERE account_sid = $1', [a.sid]);
    expect(rows[0].n).toBe(0);
  });
});
