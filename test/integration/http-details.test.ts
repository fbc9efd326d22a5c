// How requests are read: methods, query values, bodies cut short. (Authorization edge
// cases are media-url.test.ts's decision-order suite.)
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { accountApi } from '../support/credentials.js';
import { getMediaUrl, newAccount, serviceForFile, uploadJson, type TestAccount } from '../support/service.js';

const svc = serviceForFile();

const api = (a: TestAccount, path: string, init: Parameters<typeof accountApi>[3] = {}) => accountApi(svc, a, path, init);

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
    const logged = svc.logLine((l) => l.route === 'uploadMedia' && l.account === a.sid);
    // Expect: 100-continue tells when the service is reading the body: then the client leaves.
    const req = request(`${svc.baseUrl}${path}?kind=message`, {
      method: 'POST',
      headers: { Authorization: a.basic, 'Content-Type': 'application/octet-stream', 'Content-Length': '500', Expect: '100-continue' },
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
