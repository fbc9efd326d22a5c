import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { migrate, readMigrations } from '../db/migrate.js';
import { countAccounts } from '../db/queries/accounts.js';
import { AuthThrottle, DEFAULT_THROTTLE } from '../domain/auth-throttle.js';
import { createAuthenticator } from '../domain/credentials.js';
import { createApp } from '../http/app.js';
import { localInvalidation, openDatabase, openStore, startInvalidationFeed } from '../main.js';
import { MediaCache } from '../domain/media-cache.js';
import type { Db } from '../db/pool.js';
import type { Store } from '../storage/store.js';
import { collectGarbage, GC_LOCK_KEY, runExclusively, sweepExpiredMedia, SWEEP_LOCK_KEY } from '../domain/maintenance.js';
import { createMetrics } from '../metrics.js';

/** `mediagate serve`: migrate, then listen until SIGTERM/SIGINT, then drain and exit 0. */
export async function serve(config: Config, log: Logger): Promise<number> {
  const database = await openDatabase(config, log, { serving: true });
  const migrations = await readMigrations();
  const applied = await migrate(database.db, migrations);
  if (applied.length) log.info({ applied }, 'migrations applied');
  const { store, routes } = await openStore(config);
  const metrics = createMetrics();
  const clock = () => new Date();
  const authenticator = createAuthenticator({
    db: database.db,
    clock,
    throttle: new AuthThrottle({ ...DEFAULT_THROTTLE, maxFailures: config.authFailureLimit }),
  });
  const mediaCache = new MediaCache();
  const feed = startInvalidationFeed(database.url, { authenticator, mediaCache }, log);
  const app = createApp({
    config,
    db: database.db,
    store,
    authenticator,
    log,
    metrics,
    migrations,
    clock,
    mediaCache,
    invalidate: localInvalidation({ authenticator, mediaCache }),
    extraRoutes: routes && ((router) => routes(router, clock)),
  });

  const server = createServer(app.callback());
  // Uploads of up to MEDIA_MAX_BYTES may take minutes on a slow link; headers may not.
  server.requestTimeout = 0;
  server.headersTimeout = 20_000;
  server.keepAliveTimeout = 5_000;
  await listen(server, config.port, config.host);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;

  const firstStart = (await countAccounts(database.db)) === 0;
  const lines = [
    `mediagate listening on http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port} (public URL ${config.publicBaseUrl})`,
    `  database: ${database.description}`,
    `  store:    ${store.description}`,
  ];
  if (firstStart) lines.push('  no accounts yet: create one with `npx mediagate accounts create --name me`');
  process.stderr.write(`${lines.join('\n')}\n`);
  log.info({ port, host: config.host, database: database.description, store: store.description }, 'listening');

  const jobs = startPeriodicJobs({ db: database.db, store, clock, log });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal, timeout_seconds: config.shutdownTimeoutSeconds }, 'shutting down: draining requests');
      const deadline = setTimeout(() => {
        log.warn('shutdown deadline reached: closing remaining connections');
        server.closeAllConnections();
      }, config.shutdownTimeoutSeconds * 1000);
      deadline.unref();
      await new Promise<void>((done) => server.close(() => done()));
      server.closeIdleConnections();
      clearTimeout(deadline);
      jobs.stop();
      await feed.close();
      await store.close();
      await database.close();
      log.info('stopped');
      resolve(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
  });
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * In-process maintenance: the retention sweep every 10 minutes and gc every hour. With
 * several instances, an advisory lock lets one host at a time run each job.
 */
function startPeriodicJobs(deps: { db: Db; store: Store; clock: () => Date; log: Logger }) {
  const every = (name: string, millis: number, lockKey: number, job: () => Promise<unknown>) => {
    const timer = setInterval(() => {
      runExclusively(deps.db, lockKey, job)
        .then((result) => result !== undefined && deps.log.info({ job: name, result }, 'periodic job done'))
        .catch((err: Error) => deps.log.warn({ job: name, err: err.message }, 'periodic job failed'));
    }, millis);
    timer.unref();
    return timer;
  };
  const timers = [
    every('sweep', 10 * 60_000, SWEEP_LOCK_KEY, () => sweepExpiredMedia(deps, { batchSize: 500 })),
    every('gc', 60 * 60_000, GC_LOCK_KEY, async () => {
      const r = await collectGarbage(deps, { graceSeconds: 3600 });
      if (r.missingObjects.length) deps.log.warn({ missing: r.missingObjects.slice(0, 100) }, 'media rows whose object is missing');
      return { removed: r.removedObjects.length, missing: r.missingObjects.length };
    }),
  ];
  return { stop: () => timers.forEach(clearInterval) };
}
