import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric, type MetricObjectWithValues, type MetricValue } from 'prom-client';

export interface Metrics {
  registry: Registry;
  /** mediagate_http_requests_total and mediagate_http_request_duration_seconds */
  http: HttpMetrics;
  redirects: OutcomeCounter;
  shareLinkUses: OutcomeCounter;
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
  /** store URLs signed, by cache (media, share) and source (a request waited, or the refresh ahead) */
  urlSignatures: Counter<'cache' | 'source'>;
}

/** A registry per app (not prom-client's global one), so tests can run several apps. */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'mediagate_' });
  const registers = [registry];
  return {
    registry,
    http: new HttpMetrics(registry),
    redirects: new OutcomeCounter(
      'mediagate_media_redirects_total',
      'Media URL requests by outcome (redirect_authenticated, redirect_anonymous, or the error code: unauthorized, forbidden, not_found, too_many_requests, ...)',
      registers,
    ),
    shareLinkUses: new OutcomeCounter(
      'mediagate_share_link_requests_total',
      'Share link requests by outcome (redirect, proxied, or the error code: not_found, too_many_requests, ...)',
      registers,
    ),
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
    urlSignatures: new Counter({
      name: 'mediagate_url_signatures_total',
      help: 'Store URLs signed for redirects, by cache (media, share) and source: request (a request waited for it), refresh (signed again before its reuse window ended, off the request), refresh_failed',
      labelNames: ['cache', 'source'],
      registers,
    }),
  };
}

/**
 * A counter by `outcome` for the redirects' hot paths: a request adds one to a plain Map
 * entry, where prom-client's inc() hashes and validates its label object on every call
 * (as HttpMetrics below explains). The counts become the Counter's series when it is
 * collected, at a scrape.
 */
export class OutcomeCounter {
  private readonly counts = new Map<string, number>();

  constructor(name: string, help: string, registers: Registry[]) {
    const counts = this.counts;
    new Counter({
      name,
      help,
      labelNames: ['outcome'],
      registers,
      collect(this: Counter<'outcome'>) {
        this.reset();
        for (const [outcome, n] of counts) this.inc({ outcome }, n);
      },
    });
  }

  inc(outcome: string): void {
    this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + 1);
  }
}

const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/** One (method, route)'s requests: counts by status, and its duration histogram. */
interface RouteSeries {
  byStatus: Map<number, number>;
  /** non-cumulative counts per bucket of DURATION_BUCKETS, then +Inf */
  buckets: number[];
  sum: number;
  count: number;
}

/**
 * The two series every request feeds, kept as plain numbers: prom-client's inc() and
 * observe() hash their label object on every call (sorted names joined into a string,
 * ~5 % of the hot redirect's CPU, profiled), while here a request costs two lookups on
 * strings the route table interned, a bucket search and three additions. They become
 * prom-client's own series shape at scrape time, so its registry (and the cluster's
 * aggregator, which sums them) formats them as before.
 */
export class HttpMetrics {
  private readonly routes = new Map<string, Map<string, RouteSeries>>();

  constructor(registry: Registry) {
    const series = (name: string, help: string, type: 'counter' | 'histogram', values: () => MetricValue<string>[]) =>
      ({
        name,
        help,
        type,
        aggregator: 'sum',
        get: async () => ({ name, help, type, aggregator: 'sum', values: values() }) as unknown as MetricObjectWithValues<MetricValue<string>>,
        reset: () => this.routes.clear(),
      }) as unknown as Metric;
    registry.registerMetric(series('mediagate_http_requests_total', 'HTTP requests by method, route pattern and status', 'counter', () => this.requestValues()));
    registry.registerMetric(series('mediagate_http_request_duration_seconds', 'HTTP request duration by method and route pattern', 'histogram', () => this.durationValues()));
  }

  record(method: string, route: string, status: number, seconds: number): void {
    let byMethod = this.routes.get(route);
    if (byMethod === undefined) this.routes.set(route, (byMethod = new Map()));
    let s = byMethod.get(method);
    if (s === undefined) byMethod.set(method, (s = { byStatus: new Map(), buckets: new Array<number>(DURATION_BUCKETS.length + 1).fill(0), sum: 0, count: 0 }));
    s.byStatus.set(status, (s.byStatus.get(status) ?? 0) + 1);
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    s.buckets[i]!++;
    s.sum += seconds;
    s.count++;
  }

  private *each(): Generator<[string, string, RouteSeries]> {
    for (const [route, byMethod] of this.routes) for (const [method, s] of byMethod) yield [method, route, s];
  }

  private requestValues(): MetricValue<string>[] {
    const values: MetricValue<string>[] = [];
    for (const [method, route, s] of this.each()) {
      for (const [status, value] of s.byStatus) values.push({ labels: { method, route, status: String(status) }, value });
    }
    return values;
  }

  private durationValues(): MetricValue<string>[] {
    const name = 'mediagate_http_request_duration_seconds';
    const values: (MetricValue<string> & { metricName: string })[] = [];
    for (const [method, route, s] of this.each()) {
      let cumulative = 0;
      DURATION_BUCKETS.forEach((le, i) => {
        cumulative += s.buckets[i]!;
        values.push({ metricName: `${name}_bucket`, labels: { le, method, route }, value: cumulative });
      });
      values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', method, route }, value: s.count });
      values.push({ metricName: `${name}_sum`, labels: { method, route }, value: s.sum });
      values.push({ metricName: `${name}_count`, labels: { method, route }, value: s.count });
    }
    return values;
  }
}
