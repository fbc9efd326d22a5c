import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  redirects: Counter<'outcome'>;
}

/** A registry per app (not prom-client's global one), so tests can run several apps. */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'mediagate_' });
  return {
    registry,
    httpRequests: new Counter({
      name: 'mediagate_http_requests_total',
      help: 'HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'mediagate_http_request_duration_seconds',
      help: 'HTTP request duration by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
    redirects: new Counter({
      name: 'mediagate_media_redirects_total',
      help: 'Media URL requests by outcome (redirect_authenticated, redirect_anonymous, or the error code: unauthorized, forbidden, not_found, too_many_requests, ...)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}
