import type { IncomingMessage } from 'node:http';
import Koa, { type Context } from 'koa';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { findSession } from '../domain/console-sessions.js';
import type { Authenticator } from '../domain/credentials.js';
import { NotFound } from '../domain/errors.js';
import type { LocalInvalidation } from '../domain/invalidation.js';
import type { MediaDeps } from '../domain/media.js';
import type { LocalStore } from '../domain/blobs.js';
import type { ReadinessProbe } from '../domain/readiness.js';
import type { ShareLinkDeps } from '../domain/share-links.js';
import type { Metrics } from '../metrics.js';
import type { Scheduler } from '../scheduler.js';
import { accessLog, requestIdOf } from './access-log.js';
import type { Area } from './area.js';
import { createAreas } from './areas.js';
import { authorize, sessionCookieName, type AuthDeps } from './auth.js';
import { answerError, HttpError } from './errors.js';
import { readJsonBody, readQuery, type JsonBodyLimits } from './input.js';
import { buildOpenApiDocument } from './openapi.js';
import type { z } from 'zod';
import { RouteTable, type RouteInput, type TableEntry } from './route.js';

export interface AppDeps {
  config: Pick<
    Config,
    | 'publicBaseUrl'
    | 'publicBaseUrlSet'
    | 'mediaMaxBytes'
    | 'mediaUrlTtlSeconds'
    | 'trustProxy'
    | 'logAccess'
    | 'corsOrigins'
    | 'metricsToken'
    | 'mediaDelivery'
    | 'shareLinkMaxSeconds'
    | 'shareUrlTtlSeconds'
    | 'uploadUrlTtlSeconds'
    | 'limits'
  >;
  db: MediaDeps['db'];
  store: MediaDeps['store'];
  /** set: the zero-config store, whose signed blob URLs this app serves */
  localStore?: LocalStore | undefined;
  authenticator: Authenticator;
  readiness: ReadinessProbe;
  log: Logger;
  metrics: Metrics;
  clock: () => Date;
  scheduler: Scheduler;
  mediaCache?: MediaDeps['mediaCache'];
  urlCache?: MediaDeps['urlCache'];
  shareLinkCache?: ShareLinkDeps['cache'];
  shareUrlCache?: ShareLinkDeps['urlCache'];
  shareLinkUses: ShareLinkDeps['uses'];
  /** failed authentications and failed share link look-ups, per client address */
  throttle: ShareLinkDeps['throttle'];
  /** tells this instance's caches about changes it just committed */
  invalidate: LocalInvalidation;
}

const NO_PARAMS: Record<string, string> = Object.freeze({});
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * The service's HTTP answers: one Koa layer that every request passes once (its id,
 * `nosniff`, the route table, its area's policy, the one error mapping, the access line
 * and metrics), then the route. Routes and their policies are in areas.ts.
 */
export function createApp(deps: AppDeps): Koa {
  const { config } = deps;
  // proxy: trust X-Forwarded-For for ctx.ip only when TRUST_PROXY=1, and then only its
  // last hop (the one our proxy appended): the client writes the earlier ones itself.
  const app = new Koa({ proxy: config.trustProxy, maxIpsCount: 1 });
  // Errors are answered and logged here; Koa's own stderr printing is not needed.
  app.silent = true;

  const secureCookies = config.publicBaseUrl.startsWith('https:');
  const auth: AuthDeps = {
    authenticator: deps.authenticator,
    sessionCookie: sessionCookieName(secureCookies),
    findSession: (sessionId) => findSession(deps, sessionId),
  };
  let documentText: string | undefined;
  const shareLinks: ShareLinkDeps = {
    db: deps.db,
    store: deps.store,
    clock: deps.clock,
    invalidate: deps.invalidate,
    maxSeconds: config.shareLinkMaxSeconds,
    maxLivePerAccount: config.limits.shareLinksPerAccount,
    urlTtlSeconds: config.shareUrlTtlSeconds,
    cache: deps.shareLinkCache,
    urlCache: deps.shareUrlCache,
    throttle: deps.throttle,
    uses: deps.shareLinkUses,
  };
  const areas = createAreas(config, {
    config,
    shareLinks: { ...shareLinks, metrics: deps.metrics, mediaDelivery: config.mediaDelivery },
    api: {
      shareLinks,
      caps: { apiKeys: config.limits.apiKeysPerAccount, applications: config.limits.applicationsPerAccount },
      uploads: { db: deps.db, store: deps.store, clock: deps.clock, mediaMaxBytes: config.mediaMaxBytes, uploadUrlTtlSeconds: config.uploadUrlTtlSeconds },
      ...auth,
      db: deps.db,
      store: deps.store,
      clock: deps.clock,
      mediaCache: deps.mediaCache,
      urlCache: deps.urlCache,
      invalidate: deps.invalidate,
      metrics: deps.metrics,
      publicBaseUrl: config.publicBaseUrl,
      mediaMaxBytes: config.mediaMaxBytes,
      mediaUrlTtlSeconds: config.mediaUrlTtlSeconds,
      mediaDelivery: config.mediaDelivery,
      uploadPace: { minBytesPerWindow: config.limits.uploadMinBytesPerMinute, windowMillis: 60_000, scheduler: deps.scheduler },
    },
    console: {
      ...auth,
      db: deps.db,
      clock: deps.clock,
      sessionSeconds: config.limits.consoleSessionSeconds,
      maxSessions: config.limits.consoleSessionsPerAccount,
      secureCookies,
      uploadOrigins: [deps.store.uploadOrigin],
    },
    localStore: deps.localStore,
    clock: deps.clock,
    readiness: deps.readiness,
    metrics: deps.metrics,
    // Built on first use, then kept: it depends on the configuration alone.
    openApiDocument: () => (documentText ??= JSON.stringify(buildOpenApiDocument(config))),
  });
  const table = new RouteTable<Area>();
  for (const area of areas) table.add(area, area.routes);
  const json: JsonBodyLimits = {
    maxBytes: config.limits.jsonBodyMaxBytes,
    timeoutMillis: config.limits.jsonBodyTimeoutSeconds * 1000,
    scheduler: deps.scheduler,
  };
  const logRequest = accessLog(deps.log, deps.metrics, config.logAccess);
  const errorDeps = { log: deps.log, metrics: deps.metrics };

  const finish = (ctx: Context, area: Area | undefined, entry: TableEntry<Area> | undefined, params: Record<string, string>, started: bigint) => {
    area?.leave(ctx);
    // Whatever the answer, a body left unread (a refused upload, a 405 to a POST, a body
    // dripped byte by byte) must not keep the connection: Node would otherwise read and
    // discard it to reuse the socket, for as long as the client sends. A request without
    // a body is not `complete` yet when answered at once (the parser marks it so right
    // after the 'request' event): it keeps its connection.
    if (!ctx.req.complete && hasBody(ctx.req)) ctx.set('Connection', 'close');
    logRequest(ctx, entry, params, started, area?.redactsPath);
  };

  const fail = (ctx: Context, area: Area | undefined, err: unknown) => answerError(ctx, err, errorDeps, area?.challenge(ctx));

  const runRoute = async (ctx: Context, entry: TableEntry<Area>, params: Record<string, string>) => {
    const route = entry.route;
    // `optional` routes read credentials themselves, as the first step of their decision.
    if (route.auth === 'account' || route.auth === 'owner') await authorize(ctx, route.auth, auth, params.accountSid);
    const input: RouteInput<z.ZodType, z.ZodType> = {
      params,
      query: () => readQuery(ctx, route.query!),
      body: () => readJsonBody(ctx, (route.body as { json: z.ZodType }).json, json),
    };
    await route.handle(ctx, input, entry.area.deps);
    // Nothing answered: a static file that is not there.
    if (ctx.body == null && ctx.status === 404) throw new NotFound('no such route');
  };

  app.use(function answer(ctx: Context): Promise<void> | undefined {
    const started = process.hrtime.bigint();
    const requestId = requestIdOf(ctx);
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    // No guessing a script out of an upload's bytes, on any answer.
    ctx.set('X-Content-Type-Options', 'nosniff');
    const found = KNOWN_METHODS.has(ctx.method) ? table.lookup(ctx.method, ctx.path) : undefined;
    if (found?.found === 'route') {
      const { entry, params } = found;
      try {
        if (entry.area.enter(ctx, [])) {
          finish(ctx, entry.area, entry, params, started);
          return undefined;
        }
        // The hot path: answered from memory without a promise, or not at all.
        if (entry.route.fromMemory?.(ctx, params, entry.area.deps)) {
          finish(ctx, entry.area, entry, params, started);
          return undefined;
        }
      } catch (err) {
        fail(ctx, entry.area, err);
        finish(ctx, entry.area, entry, params, started);
        return undefined;
      }
      return runRoute(ctx, entry, params).then(
        () => finish(ctx, entry.area, entry, params, started),
        (err: unknown) => {
          fail(ctx, entry.area, err);
          finish(ctx, entry.area, entry, params, started);
        },
      );
    }
    const area = found?.found === 'path' ? found.area : undefined;
    try {
      if (found === undefined) throw new HttpError('not_implemented', `${ctx.method.slice(0, 20)} is not a method this service knows`);
      if (found.found === 'nothing') throw new NotFound('no such route');
      if (!found.area.enter(ctx, found.allow)) {
        ctx.set('Allow', found.allow.join(', '));
        if (ctx.method !== 'OPTIONS') throw new HttpError('method_not_allowed', `use one of ${found.allow.join(', ')}`);
        ctx.status = 204;
      }
    } catch (err) {
      fail(ctx, area, err);
    }
    finish(ctx, area, undefined, NO_PARAMS, started);
    return undefined;
  });
  return app;
}

/** Whether the request's framing announces a body (RFC 9112 §6.3): Transfer-Encoding, or a Content-Length above 0. */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
