// How requests are read: Authorization edge cases, methods, query values, bodies cut short.
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountApi } from '../support/credentials.js';
import { basicAuth, getMediaUrl, newAccount, startService, uploadJson, type TestAccount, type TestService } from '../support/service.js';

let svc: TestService;
beforeAll(async () => {
  svc = await startService();
});
afterAll(() => svc.close());

const api = (a: TestAccount, path: string, init: Parameters<typeof accountApi>[3] = {}) => accountApi(svc, a, path, init);

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
