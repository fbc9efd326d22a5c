import { describe, expect, it } from 'vitest';
import { createScratchDatabase } from '../support/cli.js';
import { accountApi } from '../support/credentials.js';
import { getMediaUrl, newAccount, serviceForFile, startService, uploadJson } from '../support/service.js';

const svc = serviceForFile();

describe('service endpoints', () => {
  it('GET /healthz answers 200', async () => {
    const res = await fetch(`${svc.baseUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz answers 200 on a migrated database', async () => {
    expect((await fetch(`${svc.baseUrl}/readyz`)).status).toBe(200);
  });

  it('GET /readyz answers 503 on a database that is not migrated', async () => {
    const scratch = await createScratchDatabase();
    const unmigrated = await startService({ databaseUrl: scratch.url });
    try {
      const res = await fetch(`${unmigrated.baseUrl}/readyz`);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).not.toBeNull();
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('service_unavailable');
    } finally {
      await unmigrated.close();
      await scratch.drop();
    }
  });

  it('GET /metrics counts requests by route pattern and status, and redirect outcomes', async () => {
    const a = await newAccount(svc.db);
    const m = await uploadJson(svc, a, 'x');
    await getMediaUrl(m.url);
    await getMediaUrl(`${svc.baseUrl}/v1/accounts/${a.sid}/media/ME${'0'.repeat(32)}`);
    const res = await fetch(`${svc.baseUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(
      /mediagate_http_requests_total\{method="GET",route="\/v1\/accounts\/:accountSid\/media\/:mediaSid",status="302"\} [1-9]/,
    );
    expect(text).toMatch(/mediagate_media_redirects_total\{outcome="redirect_anonymous"\} [1-9]/);
    expect(text).toMatch(/mediagate_media_redirects_total\{outcome="not_found"\} [1-9]/);
    expect(text).toContain('mediagate_http_request_duration_seconds_bucket');
  });

  it('GET /metrics counts each redirect once, answered from memory or not, and each share link use', async () => {
    const a = await newAccount(svc.db);
    const m = await uploadJson(svc, a, 'counted');
    const scrape = async (series: string) => {
      const text = await (await fetch(`${svc.baseUrl}/metrics`)).text();
      return Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    };
    const anonymous = 'mediagate_media_redirects_total{outcome="redirect_anonymous"}';
    const shared = 'mediagate_share_link_requests_total{outcome="redirect"}';
    const gone = 'mediagate_share_link_requests_total{outcome="not_found"}';
    const before = { anonymous: await scrape(anonymous), shared: await scrape(shared), gone: await scrape(gone) };
    // The first of each is answered the full way, the next from memory.
    for (let i = 0; i < 3; i++) expect((await getMediaUrl(m.url)).status).toBe(302);
    const link = (await (await accountApi(svc, a, `/media/${m.sid}/share-links`, { method: 'POST', json: {} })).json()) as { url: string };
    for (let i = 0; i < 2; i++) expect((await fetch(link.url, { redirect: 'manual' })).status).toBe(302);
    expect((await fetch(`${svc.baseUrl}/s/${'x'.repeat(43)}`, { redirect: 'manual' })).status).toBe(404);
    expect(await scrape(anonymous)).toBe(before.anonymous + 3);
    expect(await scrape(shared)).toBe(before.shared + 2);
    expect(await scrape(gone)).toBe(before.gone + 1);
  });

  it('GET /metrics asks for METRICS_TOKEN as a Bearer token when it is set', async () => {
    const token = 'metrics-token-0123456789';
    const guarded = await startService({ env: { METRICS_TOKEN: token } });
    try {
      const none = await fetch(`${guarded.baseUrl}/metrics`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      expect((await fetch(`${guarded.baseUrl}/metrics`, { headers: { Authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
      const ok = await fetch(`${guarded.baseUrl}/metrics`, { headers: { Authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('mediagate_http_requests_total');
    } finally {
      await guarded.close();
    }
  });

  it('echoes a given X-Request-Id and makes one up otherwise', async () => {
    const given = await fetch(`${svc.baseUrl}/healthz`, { headers: { 'X-Request-Id': 'abc-123' } });
    expect(given.headers.get('x-request-id')).toBe('abc-123');
    // Made up: this process's prefix and a counter, a new one for every request.
    const made = await Promise.all([1, 2, 3].map(() => fetch(`${svc.baseUrl}/healthz`)));
    const ids = made.map((res) => res.headers.get('x-request-id')!);
    for (const id of ids) expect(id).toMatch(/^[0-9a-z]{13}-[0-9a-z]+$/);
    expect(new Set(ids).size).toBe(3);
    expect(new Set(ids.map((id) => id.split('-')[0])).size).toBe(1);
    // Ill-formed ones are replaced.
    const bad = await fetch(`${svc.baseUrl}/healthz`, { headers: { 'X-Request-Id': 'a b' } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-z]{13}-[0-9a-z]+$/);
  });
});
