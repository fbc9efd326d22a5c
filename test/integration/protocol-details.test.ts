// Small protocol points (#23): the Bearer scheme of /metrics is case-insensitive
// (RFC 9110 §11.1), and If-Range makes a Range conditional wherever the service serves
// bytes itself (RFC 9110 §13.1.5: a validator that no longer matches gives 200 with
// everything).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAccount, startService, uploadJson, type TestService } from '../support/service.js';

const METRICS_TOKEN = 'metrics-token-0123456789';

let proxy: TestService;
let local: TestService;
beforeAll(async () => {
  [proxy, local] = await Promise.all([
    startService({ env: { MEDIA_DELIVERY: 'proxy', METRICS_TOKEN } }),
    startService({ storeKind: 'local', env: { MEDIA_DELIVERY: 'proxy' } }),
  ]);
});
afterAll(() => Promise.all([proxy.close(), local.close()]));

describe('/metrics with METRICS_TOKEN', () => {
  it.each([`Bearer ${METRICS_TOKEN}`, `bearer ${METRICS_TOKEN}`, `BEARER ${METRICS_TOKEN}`, `Bearer   ${METRICS_TOKEN}`])('takes %j', async (authorization) => {
    const res = await fetch(`${proxy.baseUrl}/metrics`, { headers: { Authorization: authorization } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('mediagate_');
  });

  it.each([`Bearer ${METRICS_TOKEN}x`, `Basic ${METRICS_TOKEN}`, METRICS_TOKEN, 'Bearer', `Bearer ${METRICS_TOKEN} extra`])('refuses %j', async (authorization) => {
    const res = await fetch(`${proxy.baseUrl}/metrics`, { headers: { Authorization: authorization } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
  });
});

describe.each(['S3, proxied', 'local store, proxied', 'local store, blob URL'])('If-Range (%s)', (where) => {
  const bytes = randomBytes(1000);
  let url: string;
  let etag: string;
  let lastModified: string;
  beforeAll(async () => {
    const svc = where.startsWith('S3') ? proxy : local;
    const a = await newAccount(svc.db);
    const m = await uploadJson(svc, a, bytes);
    url = m.url;
    if (where.endsWith('blob URL')) {
      url = ((await (await fetch(`${m.url}?redirect=false`)).json()) as { url: string }).url;
      expect(new URL(url).pathname).toMatch(/^\/v1\/blobs\//);
    }
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    etag = head.headers.get('etag')!;
    lastModified = head.headers.get('last-modified')!;
    expect(etag).toMatch(/^"/);
  });

  const ranged = (ifRange: string) => fetch(url, { headers: { Range: 'bytes=10-19', 'If-Range': ifRange } });

  it('serves the range while the validator matches (its ETag, or its Last-Modified date)', async () => {
    const validators = [etag, ...(lastModified ? [lastModified] : [])];
    for (const validator of validators) {
      const res = await ranged(validator);
      expect([validator, res.status]).toEqual([validator, 206]);
      expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes.subarray(10, 20));
    }
  });

  it.each([['another ETag', '"other"'], ['a weak ETag', 'W/"x"'], ['another date', 'Thu, 01 Jan 2015 00:00:00 GMT']])('sends everything (200) for %s', async (_what, validator) => {
    const res = await ranged(validator === 'W/"x"' ? `W/${etag}` : validator);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-range')).toBeNull();
    expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes);
  });
});
