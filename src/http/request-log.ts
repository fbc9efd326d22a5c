import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The route pattern (a bounded label set for metrics), never the raw path: the media
 * URL names its own; the router's is `ctx._matchedRoute`, which @koa/router documents.
 */
function routeOf(ctx: Context): string {
  return (ctx.state.route as string | undefined) ?? (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
}

/**
 * One JSON line per request, built field by field: the path (ids, no query string:
 * signed URLs carry their signature there) and never a header but the request id.
 */
export function requestLog(log: Logger, metrics: Metrics) {
  return async function logRequest(ctx: Context, next: Next): Promise<void> {
    const started = process.hrtime.bigint();
    const given = ctx.get('X-Request-Id');
    const requestId = REQUEST_ID.test(given) ? given : randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeOf(ctx);
      const principal = ctx.state.principal as { credentialSid?: string } | undefined;
      metrics.httpRequests.inc({ method: ctx.method, route, status: String(ctx.status) });
      metrics.httpDuration.observe({ method: ctx.method, route }, seconds);
      log.info(
        {
          request_id: requestId,
          method: ctx.method,
          path: ctx.path.length > 200 ? `${ctx.path.slice(0, 200)}…` : ctx.path,
          route,
          status: ctx.status,
          duration_ms: Math.round(seconds * 1e6) / 1e3,
          client: ctx.ip,
          credential: principal?.credentialSid ?? null,
          error: ctx.state.errorCode,
          ...(ctx.state.logFields as Record<string, unknown> | undefined),
        },
        'request',
      );
    }
  };
}
