import Router from '@koa/router';
import type { ReadinessProbe, ReadinessReport } from '../../domain/readiness.js';
import { digestsEqual, hashSecret } from '../../domain/secrets.js';
import type { Metrics } from '../../metrics.js';
import { errorBody } from '../errors.js';

export function healthRoutes(
  router: Router,
  deps: { readiness: ReadinessProbe; metrics: Metrics; metricsToken: string | undefined },
): void {
  const expected = deps.metricsToken === undefined ? undefined : hashSecret(`Bearer ${deps.metricsToken}`);
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  // 200 only when every check passes; otherwise 503 with the contract's error body, its
  // message naming the failed checks, and every check's answer beside it.
  router.get('/readyz', async (ctx) => {
    const report = await deps.readiness.check();
    ctx.set('Cache-Control', 'no-store');
    if (report.ready) {
      ctx.body = { status: 'ready', checks: report.checks };
      return;
    }
    ctx.status = 503;
    ctx.set('Retry-After', '5');
    ctx.body = { ...errorBody(503, 'service_unavailable', `not ready: ${failures(report)}`), checks: report.checks };
    ctx.state.errorCode = 'service_unavailable';
  });

  router.get('/metrics', async (ctx) => {
    // Optional: metrics name routes and volumes, which some operators keep private.
    if (expected && !digestsEqual(hashSecret(ctx.get('Authorization')), expected)) {
      ctx.status = 401;
      ctx.set('WWW-Authenticate', 'Bearer realm="metrics"');
      ctx.body = errorBody(401, 'unauthorized', 'metrics need Authorization: Bearer <METRICS_TOKEN>');
      return;
    }
    await deps.readiness.check(); // the readiness gauges, as of this scrape
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });
}

function failures(report: ReadinessReport): string {
  return Object.entries(report.checks)
    .filter(([, c]) => !c.ok)
    .map(([name, c]) => `${name} (${c.detail})`)
    .join('; ');
}
