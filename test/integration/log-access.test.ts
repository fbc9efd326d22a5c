// LOG_ACCESS (#24): every request's access line (all, the default), only answers of 400
// and above (errors), or none (off: the load balancer's log is the access log). Metrics
// count every request whatever the setting.
import { describe, expect, it } from 'vitest';
import { newAccount, startService, uploadJson } from '../support/service.js';

type Line = { msg?: string; status?: number };

describe.each([
  ['all', [200, 302, 404, 401]],
  ['errors', [404, 401]],
  ['off', []],
])('LOG_ACCESS=%s', (setting, logged) => {
  it(`writes access lines for ${JSON.stringify(logged)}, and metrics for all`, async () => {
    const svc = await startService({ storeKind: 'local', env: { LOG_ACCESS: setting } });
    try {
      const a = await newAccount(svc.db);
      const m = await uploadJson(svc, a, 'x');
      const before = svc.logLines.length;
      await fetch(`${svc.baseUrl}/healthz`);
      await fetch(m.url, { redirect: 'manual' });
      await fetch(`${svc.baseUrl}/nope`);
      await fetch(`${svc.baseUrl}/v1/accounts/${a.sid}/keys`);
      const statuses = svc.logLines
        .slice(before)
        .map((l) => JSON.parse(l) as Line)
        .filter((l) => l.msg === 'request')
        .map((l) => l.status);
      expect(statuses).toEqual(logged);
      const metrics = await (await fetch(`${svc.baseUrl}/metrics`)).text();
      for (const status of [200, 302, 404, 401]) expect(metrics).toMatch(new RegExp(`mediagate_http_requests_total\\{[^}]*status="${status}"\\} [1-9]`));
    } finally {
      await svc.close();
    }
  });
});
