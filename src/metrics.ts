import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  redirects: Counter<'outcome'>;
  shareLinkUses: Counter<'outcome'>;
  /** 1 while /readyz would answer 200 (refreshed by every /readyz and /metrics) */
  ready: Gauge;
  /** each readiness check: 1 passing, 0 failing */
  readinessCheck: Gauge<'check'>;
  /** 1 while the invalidation feed (LISTEN) is connected */
  invalidationFeedUp: Gauge;
  /** authentications that failed (wrong, unknown or malformed credentials), and those refused as throttled */
  authFailures: Counter<'reason'>;
  /** requests that failed because a dependency did (answered 503) */
  dependencyErrors: Counter<'dependency'>;
}

/** A registry per app (not prom-client's global one), so tests can run several apps. */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'mediagate_' });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'mediagate_http_requests_total',
      help: 'HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'mediagate_http_request_duration_seconds',
      help: 'HTTP request duration by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    }),
    redirects: new Counter({
      name: 'mediagate_media_redirects_total',
      help: 'Media URL requests by outcome (redirect_authenticated, redirect_anonymous, or the error code: unauthorized, forbidden, not_found, too_many_requests, ...)',
      labelNames: ['outcome'],
      registers,
    }),
    shareLinkUses: new Counter({
      name: 'mediagate_share_link_requests_total',
      help: 'Share link requests by outcome (redirect, proxied, or the error code: not_found, too_many_requests, ...)',
      labelNames: ['outcome'],
      registers,
    }),
    ready: new Gauge({ name: 'mediagate_ready', help: '1 while /readyz answers 200, else 0', registers }),
    readinessCheck: new Gauge({
      name: 'mediagate_readiness_check',
      help: 'Each readiness check (serving, database, migrations, invalidation_feed, object_store): 1 passing, 0 failing',
      labelNames: ['check'],
      registers,
    }),
    invalidationFeedUp: new Gauge({
      name: 'mediagate_invalidation_feed_up',
      help: '1 while the LISTEN connection that carries revocations is connected, else 0 (caches are bypassed meanwhile)',
      registers,
    }),
    authFailures: new Counter({
      name: 'mediagate_auth_failures_total',
      help: 'Failed authentications: invalid (wrong, unknown or malformed credentials) or throttled (refused with 429)',
      labelNames: ['reason'],
      registers,
    }),
    dependencyErrors: new Counter({
      name: 'mediagate_dependency_errors_total',
      help: 'Requests answered 503 because a dependency failed: database or object_store',
      labelNames: ['dependency'],
      registers,
    }),
  };
}
