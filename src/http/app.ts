import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Db } from '../db/pool.js';
import { findSession } from '../domain/console-sessions.js';
import type { Authenticator } from '../domain/credentials.js';
import type { LocalInvalidation } from '../domain/invalidation.js';
import type { MediaCache } from '../domain/media-cache.js';
import type { ReadinessProbe } from '../domain/readiness.js';
import type { SignedUrlCache } from '../domain/signed-url-cache.js';
import type { Metrics } from '../metrics.js';
import type { LocalStore } from '../storage/local.js';
import type { Store } from '../storage/store.js';
import { authenticate } from './auth.js';
import { browserPolicy } from './browser-policy.js';
import { errorHandler } from './errors.js';
import { requestLog } from './request-log.js';
import { blobRoutes } from './routes/blobs.js';
import { consoleRoutes } from './routes/console.js';
import { credentialRoutes } from './routes/credentials.js';
import { docsRoutes } from './routes/docs.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { mediaRoutes } from './routes/media.js';
import { mediaUrl } from './routes/media-url.js';
import { settingsRoutes } from './routes/settings.js';
import { DEFAULT_UPLOAD_PACE, type UploadPace } from './upload-pace.js';

export interface AppDeps {
  config: Pick<
    Config,
    'publicBaseUrl' | 'mediaMaxBytes' | 'mediaUrlTtlSeconds' | 'trustProxy' | 'corsOrigins' | 'metricsToken' | 'mediaDelivery'
  >;
  db: Db;
  store: Store;
  /** set: the zero-config store, whose signed blob URLs this app serves */
  localStore?: LocalStore | undefined;
  authenticator: Authenticator;
  readiness: ReadinessProbe;
  log: Logger;
  metrics: Metrics;
  clock: () => Date;
  mediaCache?: MediaCache | undefined;
  urlCache?: SignedUrlCache | undefined;
  /** tells this instance's caches about changes it just committed */
  invalidate: LocalInvalidation;
  /** how slowly an upload's body may arrive before it is cut off (tests shorten it) */
  uploadPace?: UploadPace | undefined;
}

/** The middleware order and the routes; src/service.ts builds what they are given. */
export function createApp(deps: AppDeps): Koa {
  const { config } = deps;
  // proxy: trust X-Forwarded-For for ctx.ip only when TRUST_PROXY=1, and then only its
  // last hop (the one our proxy appended): the client writes the earlier ones itself.
  const app = new Koa({ proxy: config.trustProxy, maxIpsCount: 1 });
  // Errors are answered and logged by errorHandler; Koa's own stderr printing is not needed.
  app.silent = true;

  const authDeps = {
    authenticator: deps.authenticator,
    findSession: (sessionId: string) => findSession(deps, sessionId),
  };
  const mediaDeps = {
    ...authDeps,
    db: deps.db,
    store: deps.store,
    metrics: deps.metrics,
    clock: deps.clock,
    mediaCache: deps.mediaCache,
    urlCache: deps.urlCache,
    invalidate: deps.invalidate,
    publicBaseUrl: config.publicBaseUrl,
    mediaMaxBytes: config.mediaMaxBytes,
    mediaUrlTtlSeconds: config.mediaUrlTtlSeconds,
    mediaDelivery: config.mediaDelivery,
    uploadPace: deps.uploadPace ?? DEFAULT_UPLOAD_PACE,
  };

  // Paths match exactly, as written: `/V1/…` or a trailing slash is another (unknown)
  // path, so an exact-path rule at a proxy cannot be side-stepped.
  const router = new Router({ strict: true, sensitive: true });
  healthRoutes(router, { ...deps, metricsToken: config.metricsToken });
  if (deps.localStore) blobRoutes(router, { store: deps.localStore, clock: deps.clock });
  consoleRoutes(router, { ...deps, ...authDeps, secureCookies: config.publicBaseUrl.startsWith('https:') });
  docsRoutes(router, config);
  // Router middleware runs only for matched routes, before their handlers.
  router.use('/v1/accounts/:accountSid', authenticate(authDeps));
  mediaRoutes(router, mediaDeps);
  settingsRoutes(router, deps);
  credentialRoutes(router, deps);
  eventRoutes(router, deps);

  app.use(requestLog(deps.log, deps.metrics));
  app.use(errorHandler(deps.log, deps.metrics));
  app.use(browserPolicy(config));
  app.use(mediaUrl(mediaDeps)); // GET/HEAD of media URLs, ahead of the router: the hot path
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
