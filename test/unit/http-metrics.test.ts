// The request series are kept as plain numbers (src/metrics.ts, HttpMetrics) and shaped
// as prom-client's at scrape time: the exposition must be exactly what prom-client's own
// Counter and Histogram write for the same requests, in one process and summed over a
// cluster's workers.
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { expect, it } from 'vitest';
import { HttpMetrics } from '../../src/metrics.js';

const REQUESTS: [string, string, number, number][] = [
  ['GET', '/v1/accounts/:accountSid/media/:mediaSid', 302, 0.0004],
  ['GET', '/v1/accounts/:accountSid/media/:mediaSid', 302, 0.0005],
  ['GET', '/v1/accounts/:accountSid/media/:mediaSid', 401, 0.003],
  ['HEAD', '/v1/accounts/:accountSid/media/:mediaSid', 302, 0.02],
  ['GET', '/healthz', 200, 0.0001],
  ['POST', '/v1/accounts/:accountSid/media', 201, 12.5],
  ['GET', 'unmatched', 404, 0.001],
];

function prom(): Registry {
  const registry = new Registry();
  const requests = new Counter({ name: 'mediagate_http_requests_total', help: 'HTTP requests by method, route pattern and status', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const duration = new Histogram({
    name: 'mediagate_http_request_duration_seconds',
    help: 'HTTP request duration by method and route pattern',
    labelNames: ['method', 'route'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  for (const [method, route, status, seconds] of REQUESTS) {
    requests.inc({ method, route, status: String(status) });
    duration.observe({ method, route }, seconds);
  }
  return registry;
}

function ours(): Registry {
  const registry = new Registry();
  const http = new HttpMetrics(registry);
  for (const [method, route, status, seconds] of REQUESTS) http.record(method, route, status, seconds);
  return registry;
}

/** The exposition's lines, sorted: the order of series within a metric is not part of the format. */
const lines = (text: string) => text.split('\n').filter(Boolean).sort();

it("writes exactly prom-client's exposition for the same requests", async () => {
  expect(lines(await ours().metrics())).toEqual(lines(await prom().metrics()));
});

it('sums over workers as prom-client does (WORKERS=N)', async () => {
  const aggregate = async (make: () => Registry) => (await AggregatorRegistry.aggregate([await make().getMetricsAsJSON(), await make().getMetricsAsJSON()]).metrics());
  expect(lines(await aggregate(ours))).toEqual(lines(await aggregate(prom)));
});
