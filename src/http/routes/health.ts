import type { Context } from 'koa';
import type { ReadinessProbe, ReadinessReport } from '../../domain/readiness.js';
import { digestsEqual, hashSecret } from '../../domain/secrets.js';
import type { Metrics } from '../../metrics.js';
import { errorBody } from '../errors.js';
import { route } from '../route.js';

export interface HealthDeps {
  readiness: ReadinessProbe;
  metrics: Metrics;
  metricsToken: string | undefined;
}

const noStore = { 'Cache-Control': 'Cache-Control-No-Store' };

/** Liveness, readiness and metrics, for orchestrators and Prometheus. */
export function healthRoutes(metricsToken: string | undefined) {
  const expected = metricsToken === undefined ? undefined : hashSecret(metricsToken);
  return [
    route({
      method: 'GET',
      path: '/healthz',
      operationId: 'getHealth',
      tag: 'Service',
      summary: 'The process is alive',
      auth: 'none',
      answers: { 200: { description: 'Alive.', schema: 'Health' } },
      handle(ctx) {
        answerAlive(ctx);
      },
      // Probes call it often: answered at once, without a promise.
      fromMemory: (ctx) => answerAlive(ctx),
    }),
    route({
      method: 'GET',
      path: '/readyz',
      operationId: 'getReadiness',
      tag: 'Service',
      summary: 'Whether this instance should get traffic',
      description:
        '200 when not shutting down, the database answers with every migration applied, the invalidation feed (LISTEN) is connected and the object store answers; otherwise 503 naming the failed checks. From SIGTERM on it is 503 while the service still serves for SHUTDOWN_DELAY_SECONDS.',
      auth: 'none',
      answers: {
        200: { description: 'Ready.', schema: 'Readiness', headers: noStore },
        503: { description: 'Not ready; the message and `checks` say why.', schema: 'NotReady', headers: { 'Retry-After': 'Retry-After', ...noStore } },
      },
      // 200 only when every check passes; otherwise 503 with the contract's error body, its
      // message naming the failed checks, and every check's answer beside it.
      async handle(ctx, _input, deps: HealthDeps) {
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
      },
    }),
    route({
      method: 'GET',
      path: '/metrics',
      operationId: 'getMetrics',
      tag: 'Service',
      summary: 'Prometheus metrics',
      description:
        'Requests by route and status, durations, media URL outcomes, readiness, authentication failures, dependency errors. With METRICS_TOKEN set, needs `Authorization: Bearer <METRICS_TOKEN>`.',
      auth: 'none',
      answers: {
        200: { description: 'The Prometheus text format.', content: { 'text/plain': { schema: { type: 'string' } } } },
        401: {
          description: 'METRICS_TOKEN is set and the request does not carry it.',
          schema: 'Error401',
          headers: { 'WWW-Authenticate': { required: true, schema: { type: 'string', const: 'Bearer realm="metrics"' } } },
        },
      },
      async handle(ctx, _input, deps: HealthDeps) {
        // Optional: metrics name routes and volumes, which some operators keep private.
        if (expected && !digestsEqual(hashSecret(bearerToken(ctx.get('Authorization'))), expected)) {
          ctx.status = 401;
          ctx.set('WWW-Authenticate', 'Bearer realm="metrics"');
          ctx.body = errorBody(401, 'unauthorized', 'metrics need Authorization: Bearer <METRICS_TOKEN>');
          ctx.state.errorCode = 'unauthorized';
          return;
        }
        await deps.readiness.check(); // the readiness gauges, as of this scrape
        ctx.type = deps.metrics.registry.contentType;
        ctx.body = await deps.metrics.registry.metrics();
      },
    }),
  ];
}

function failures(report: ReadinessReport): string {
  return Object.entries(report.checks)
    .filter(([, c]) => !c.ok)
    .map(([name, c]) => `${name} (${c.detail})`)
    .join('; ');
}

/** The token of `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 9110 §11.1). */
function bearerToken(authorization: string): string {
  return /^bearer[ \t]+([^ \t]+)[ \t]*$/i.exec(authorization)?.[1] ?? '';
}

const ALIVE = '{"status":"ok"}';

function answerAlive(ctx: Context): true {
  ctx.type = 'application/json; charset=utf-8';
  ctx.body = ALIVE;
  return true;
}
