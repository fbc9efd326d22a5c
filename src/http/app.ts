import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { MigrationFile } from '../db/migrate.js';
import type { Db } from '../db/pool.js';
import type { Authenticator } from '../domain/credentials.js';
import { NotFound } from '../domain/errors.js';
import type { Metrics } from '../metrics.js';
import type { LocalInvalidation, MediaCache } from '../domain/media-cache.js';
import type { Store } from '../storage/store.js';
import { authenticate } from './auth.js';
import { errorHandler } from './errors.js';
import { requestLog } from './request-log.js';
import { healthRoutes } from './routes/health.js';
import { mediaAccessLog, mediaRoutes } from './routes/media.js';
import { credentialRoutes } from './routes/credentials.js';
import { settingsRoutes } from './routes/settings.js';

export interface AppDeps {
  config: Pick<Config, 'publicBaseUrl' | 'mediaMaxBytes' | 'mediaUrlTtlSeconds' | 'trustProxy'>;
  db: Db;
  store: Store;
  authenticator: Authenticator;
  log: Logger;
  metrics: Metrics;
  migrations: MigrationFile[];
  clock: () => Date;
  mediaCache?: MediaCache | undefined;
  /** tells this instance's caches about changes it just committed */
  invalidate: LocalInvalidation;
  /** extra routes mounted before the account routes (the local store's blob endpoint) */
  extraRoutes?: (router: Router) => void;
}

export function createApp(deps: AppDeps): Koa {
  const { config } = deps;
  // proxy: trust X-Forwarded-For for ctx.ip only when TRUST_PROXY=1.
  const app = new Koa({ proxy: config.trustProxy });
  // Errors are answered and logged by errorHandler; Koa's own stderr printing is not needed.
  app.silent = true;

  const router = new Router();
  healthRoutes(router, deps);
  deps.extraRoutes?.(router);
  // Router middleware runs only for matched routes, before their handlers.
  router.use('/v1/accounts/:accountSid/media/:mediaSid', mediaAccessLog(deps));
  router.use('/v1/accounts/:accountSid', authenticate(deps.authenticator));
  mediaRoutes(router, {
    db: deps.db,
    store: deps.store,
    metrics: deps.metrics,
    clock: deps.clock,
    mediaCache: deps.mediaCache,
    invalidate: deps.invalidate,
    publicBaseUrl: config.publicBaseUrl,
    mediaMaxBytes: config.mediaMaxBytes,
    mediaUrlTtlSeconds: config.mediaUrlTtlSeconds,
  });
  settingsRoutes(router, deps);
  credentialRoutes(router, deps);

  app.use(requestLog(deps.log, deps.metrics));
  app.use(errorHandler(deps.log));
  // Nothing answered: no route matched (allowedMethods below turns a known path with
  // another method into 405 first, once the router has run).
  app.use(async (ctx, next) => {
    await next();
    if (ctx.status === 404 && ctx.body == null) throw new NotFound('no such route');
  });
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: true }));
  return app;
}
