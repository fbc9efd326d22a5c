import cluster from 'node:cluster';
import { createServer, STATUS_CODES, type Server } from 'node:http';
import { errorBody } from '../http/errors.js';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { migrate, readMigrations } from '../db/migrate.js';
import { countAccounts } from '../db/queries/accounts.js';
import { AuthThrottle, DEFAULT_THROTTLE } from '../domain/auth-throttle.js';
import { createAuthenticator } from '../domain/credentials.js';
import { createApp } from '../http/app.js';
import { localInvalidation, openDatabase, openStore, startInvalidationFeed, type Database } from '../main.js';
import { MediaCache } from '../domain/media-cache.js';
import { SignedUrlCache } from '../domain/signed-url-cache.js';
import type { Db } from '../db/pool.js';
import type { Store } from '../storage/store.js';
import { collectGarbage, GC_LOCK_KEY, runExclusively, sweepExpiredMedia, SWEEP_LOCK_KEY } from '../domain/maintenance.js';
import { createMetrics } from '../metrics.js';

/**
 * `mediagate serve`: migrate, then listen until SIGTERM/SIGINT, then drain and exit 0.
 * With WORKERS > 1 this process becomes the primary of a node:cluster: it migrates, owns
 * the embedded database if there is one, and forks the workers that share the port.
 */
export async function serve(config: Config, log: Logger): Promise<number> {
  if (config.workers > 1 && cluster.isPrimary) return servePrimary(config, log);
  return serveHttp(config, log, { isWorker: cluster.isWorker });
}

function bannerLines(config: Config, port: number, database: Database, store: Store, firstStart: boolean, workers: number): string {
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const lines = [
    `mediagate listening on http://${host}:${port} (public URL ${config.publicBaseUrl})${workers > 1 ? ` with ${workers} workers` : ''}`,
    `  database: ${database.description}`,
    `  store:    ${store.description}`,
  ];
  if (firstStart) lines.push('  no accounts yet: create one with `npx mediagate accounts create --name me`');
  return `${lines.join('\n')}\n`;
}

async function servePrimary(config: Config, log: Logger): Promise<number> {
  const database = await openDatabase(config, log, { serving: true });
  const applied = await migrate(database.db, await readMigrations());
  if (applied.length) log.info({ applied }, 'migrations applied');
  // Open the store once here so that the local store's first signing key is made by one
  // process, not raced by every worker.
  const { store } = await openStore(config);
  await store.close();
  const firstStart = (await countAccounts(database.db)) === 0;

  let stopping = false;
  const listening = new Set<number>();
  const fork = () => cluster.fork();
  cluster.on('listening', (worker, address) => {
    listening.add(worker.id);
    if (listening.size === config.workers) {
      process.stderr.write(bannerLines(config, address.port, database, store, firstStart, config.workers));
      log.info({ port: address.port, workers: config.workers }, 'listening');
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    listening.delete(worker.id);
    if (stopping) return;
    log.error({ worker: worker.process.pid, code, signal }, 'worker died; starting another');
    setTimeout(fork, 1000).unref();
  });
  for (let i = 0; i < config.workers; i++) fork();

  return untilStopped(log, async (signal) => {
    stopping = true;
    log.info({ signal }, 'shutting down: draining workers');
    const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
    const exits = workers.map((w) => new Promise<void>((done) => (w.isDead() ? done() : w.once('exit', () => done()))));
    for (const w of workers) w.process.kill('SIGTERM');
    const kill = setTimeout(() => workers.forEach((w) => w.process.kill('SIGKILL')), (config.shutdownTimeoutSeconds + 5) * 1000);
    kill.unref();
    await Promise.all(exits);
    clearTimeout(kill);
    await database.close();
  });
}

async function serveHttp(config: Config, log: Logger, options: { isWorker: boolean }): Promise<number> {
  const database = await openDatabase(config, log, { serving: !options.isWorker });
  const migrations = await readMigrations();
  if (!options.isWorker) {
    const applied = await migrate(database.db, migrations);
    if (applied.length) log.info({ applied }, 'migrations applied');
  }
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
    urlCache: new SignedUrlCache(config.mediaUrlTtlSeconds),
    invalidate: localInvalidation({ authenticator, mediaCache }),
    extraRoutes: routes && ((router) => routes(router, clock)),
  });

  const server = createServer(app.callback());
  answerParseErrorsWithJson(server);
  // Headers must come within 20 s; a whole request (an upload of up to MEDIA_MAX_BYTES
  // on a slow link included) within an hour; an upload must also keep a minimum pace
  // (http/upload-pace.ts) and a small JSON body arrive within 10 s (http/input.ts); a
  // socket silent for 2 minutes is closed; past maxConnections new ones are refused.
  server.requestTimeout = 3600_000;
  server.headersTimeout = 20_000;
  server.maxConnections = config.maxConnections;
  server.keepAliveTimeout = 5_000;
  server.setTimeout(120_000, (socket) => socket.destroy());
  try {
    await listen(server, config.port, config.host);
  } catch (err) {
    // Port taken, say: stop what was started (the embedded database) before failing.
    await feed.close();
    await store.close();
    await database.close();
    throw err;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;

  if (!options.isWorker) {
    const firstStart = (await countAccounts(database.db)) === 0;
    process.stderr.write(bannerLines(config, port, database, store, firstStart, 1));
    log.info({ port, host: config.host, database: database.description, store: store.description }, 'listening');
  }

  const jobs = startPeriodicJobs({ db: database.db, store, clock, log });

  return untilStopped(log, async (signal) => {
    log.info({ signal, timeout_seconds: config.shutdownTimeoutSeconds }, 'shutting down: draining requests');
    const deadlineAt = Date.now() + config.shutdownTimeoutSeconds * 1000;
    const deadline = setTimeout(() => {
      log.warn('shutdown deadline reached: closing remaining connections');
      server.closeAllConnections();
    }, config.shutdownTimeoutSeconds * 1000);
    deadline.unref();
    const closed = new Promise<void>((done) => server.close(() => done()));
    server.closeIdleConnections();
    await closed;
    clearTimeout(deadline);
    // A periodic job in progress holds a database client: let it finish, within the deadline.
    await jobs.stop(Math.max(1000, deadlineAt - Date.now()));
    await feed.close();
    await store.close();
    await database.close();
  });
}

/**
 * Resolves with the exit status once SIGTERM or SIGINT arrived and `stop` ran (once,
 * whatever signals follow): 0, or 1 if stopping failed.
 */
function untilStopped(log: Logger, stop: (signal: NodeJS.Signals) => Promise<void>): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      stop(signal).then(
        () => {
          log.info('stopped');
          resolve(0);
        },
        (err: Error) => {
          log.error({ err: err.message }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/**
 * Requests Node's HTTP parser refuses (headers over 16 KB, a malformed request line or
 * chunk) never reach Koa; answer them with the contract's JSON error too.
 */
function answerParseErrorsWithJson(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || (err as { bytesParsed?: number }).bytesParsed === undefined) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'HPE_URI_TOO_LONG' ? 414 : 400;
    const body = JSON.stringify(errorBody(status, undefined, undefined));
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        'X-Content-Type-Options: nosniff\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
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
  const running = new Set<Promise<unknown>>();
  const every = (name: string, millis: number, lockKey: number, job: () => Promise<unknown>) => {
    const timer = setInterval(() => {
      const run = runExclusively(deps.db, lockKey, job)
        .then((result) => result !== undefined && deps.log.info({ job: name, result }, 'periodic job done'))
        .catch((err: Error) => deps.log.warn({ job: name, err: err.message }, 'periodic job failed'))
        .finally(() => running.delete(run));
      running.add(run);
    }, millis);
    timer.unref();
    return timer;
  };
  const timers = [
    every('sweep', 10 * 60_000, SWEEP_LOCK_KEY, () => sweepExpiredMedia(deps, { batchSize: 100 })),
    every('gc', 60 * 60_000, GC_LOCK_KEY, async () => {
      const r = await collectGarbage(deps, { graceSeconds: 3600 });
      if (r.missingObjects.length) deps.log.warn({ missing: r.missingObjects.slice(0, 100) }, 'media rows whose object is missing');
      return { removed: r.removedObjects.length, missing: r.missingObjects.length };
    }),
  ];
  return {
    /** no new runs; waits for a run in progress, at most waitMillis */
    async stop(waitMillis: number): Promise<void> {
      timers.forEach(clearInterval);
      if (running.size === 0) return;
      await Promise.race([Promise.all(running), new Promise((r) => setTimeout(r, waitMillis).unref())]);
    },
  };
}
