import type { Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import path from 'node:path';
import type Koa from 'koa';
import type { Logger } from 'pino';
import { ConfigError, redactDatabaseUrl, type Config } from './config.js';
import { openEmbeddedPostgres } from './db/embedded.js';
import { migrate, readMigrations, type MigrationFile } from './db/migrate.js';
import { listenForInvalidations, type Invalidation, type InvalidationFeed } from './db/notifications.js';
import { createPool, type Db } from './db/pool.js';
import { AuthThrottle, DEFAULT_THROTTLE } from './domain/auth-throttle.js';
import { createAuthenticator, type Authenticator } from './domain/credentials.js';
import type { LocalInvalidation } from './domain/invalidation.js';
import { MediaCache } from './domain/media-cache.js';
import { createReadinessProbe, READINESS_CHECKS, type ReadinessProbe } from './domain/readiness.js';
import { ShareLinkCache, ShareLinkUses } from './domain/share-links.js';
import { SignedUrlCache } from './domain/signed-url-cache.js';
import { createApp } from './http/app.js';
import { createHttpServer } from './http/server.js';
import { startPeriodicJobs, type PeriodicJobs } from './jobs.js';
import { createMetrics, type Metrics } from './metrics.js';
import { realScheduler, type Scheduler } from './scheduler.js';
import { loadCloudFrontPrivateKey, withCloudFrontUrls } from './storage/cloudfront.js';
import { createLocalStore, type LocalStore } from './storage/local.js';
import { openKeyring, type Keyring } from './storage/signing-keys.js';
import { StoreUnavailable } from './storage/errors.js';
import type { Store } from './storage/store.js';

/**
 * A start-up failure, named by the part at fault (`database: …`, `object store: …`,
 * `port 8080 …`), so that an operator reads what to fix from the first line.
 */
export class StartupError extends Error {
  constructor(part: string, detail: string) {
    super(`${part}: ${detail}`);
    this.name = 'StartupError';
  }
}

// The one place the service is assembled: `serve`, every CLI command that needs the
// database or the store (withResources), and the tests (with overrides) all build it
// here, so a test exercises what runs, server limits and parser errors included.

/** The database and the object store: what every command needs some of. */
export interface Resources {
  db: Db;
  /** for the LISTEN connection of the invalidation feed */
  databaseUrl: string;
  /** for the startup banner: never a password */
  databaseDescription: string;
  /** undefined when not asked for (`store: false`) */
  store: Store | undefined;
  /** the zero-config store, whose blob URLs the service serves itself */
  localStore: LocalStore | undefined;
  keyring: Keyring | undefined;
  close(): Promise<void>;
}

export interface ResourceOptions {
  /** `serve` owns the embedded cluster: it takes over one orphaned by a killed process */
  serving?: boolean;
  /** open the object store too (migrations and accounts need only the database) */
  store?: boolean;
  /** the timers of requests and resources (tests move time instead of waiting) */
  scheduler?: Scheduler;
}

export async function openResources(config: Config, log: Logger, options: ResourceOptions = {}): Promise<Resources> {
  // The store first: a bad CloudFront key is a configuration error (exit 2) before any
  // database is started.
  const opened = options.store === false ? undefined : await openStore(config, options.scheduler ?? realScheduler).catch(failedPart('object store'));
  try {
    const database = await openDatabase(config, log, options.serving ?? false).catch(
      failedPart('database', config.databaseUrl && redactDatabaseUrl(config.databaseUrl)),
    );
    return {
      ...database,
      store: opened?.store,
      localStore: opened?.localStore,
      keyring: opened?.keyring,
      async close() {
        await opened?.store.close();
        await database.close();
      },
    };
  } catch (err) {
    await opened?.store.close();
    throw err;
  }
}

/** Opens what a command needs, runs it, and closes everything whatever happens. */
export async function withResources<T>(
  config: Config,
  log: Logger,
  options: ResourceOptions & { migrate?: boolean },
  run: (resources: Resources) => Promise<T>,
): Promise<T> {
  const resources = await openResources(config, log, options);
  try {
    if (options.migrate) await migrate(resources.db);
    return await run(resources);
  } finally {
    await resources.close();
  }
}

/**
 * Names the part in an error of opening or checking it (`where`: what it is, already
 * free of secrets); configuration errors keep their own form (exit 2).
 */
function failedPart(part: string, where?: string) {
  return (err: unknown): never => {
    if (err instanceof ConfigError || err instanceof StartupError) throw err;
    const detail = err instanceof StoreUnavailable ? err.reason : String((err as Error)?.message ?? err);
    throw new StartupError(part, where ? `${detail} (${where})` : detail);
  };
}

async function openDatabase(config: Config, log: Logger, serving: boolean) {
  const pool = (url: string) => createPool(url, { onError: (err) => log.warn({ err: err.message }, 'idle database client failed') });
  if (config.databaseUrl !== undefined) {
    const db = pool(config.databaseUrl);
    return {
      db,
      databaseUrl: config.databaseUrl,
      databaseDescription: redactDatabaseUrl(config.databaseUrl),
      close: () => db.end(),
    };
  }
  const clusterDir = path.join(config.dataDir, 'postgres');
  const embedded = await openEmbeddedPostgres(clusterDir, { log: (m) => log.info(m), adoptOrphan: serving });
  const db = pool(embedded.url);
  const how = embedded.owned ? 'started by this process' : 'already running, shared';
  return {
    db,
    databaseUrl: embedded.url,
    databaseDescription: `embedded PostgreSQL in ${clusterDir} (${how}) at ${redactDatabaseUrl(embedded.url)}`,
    close: async () => {
      await db.end();
      await embedded.stop();
    },
  };
}

async function openStore(config: Config, scheduler: Scheduler): Promise<{ store: Store; localStore?: LocalStore; keyring?: Keyring }> {
  if (config.s3) {
    // The key before anything else: an unreadable or non-RSA key is a ConfigError (exit 2).
    const cloudFront = config.cloudFront && {
      ...config.cloudFront,
      privateKey: await loadCloudFrontPrivateKey(config.cloudFront.privateKeyFile),
    };
    // Loaded only when used: the AWS SDK adds ~25 MB of RSS and ~120 ms to startup.
    const { createS3Store } = await import('./storage/s3.js');
    const store = createS3Store({
      bucket: config.s3.bucket,
      region: config.s3.region,
      endpoint: config.s3.endpoint,
      forcePathStyle: config.s3.forcePathStyle,
    });
    return { store: cloudFront ? withCloudFrontUrls(store, cloudFront) : store };
  }
  const keyring = await openKeyring(path.join(config.dataDir, 'keys'), { every: scheduler.every });
  const localStore = createLocalStore({ dir: path.join(config.dataDir, 'objects'), keyring, baseUrl: config.blobBaseUrl });
  return { store: localStore, localStore, keyring };
}

export interface ServiceOptions extends ResourceOptions {
  /** apply pending migrations first (`serve`, and the HTTP process with WORKERS=1) */
  migrate?: boolean;
  clock?: () => Date;
  metrics?: Metrics;
  /** false: no media row and signed-URL caches (every redirect reads the database) */
  caches?: boolean;
  /** the retention sweep and gc on timers (off in tests, which run them directly) */
  periodicJobs?: boolean;
  /** sees every invalidation that arrives by NOTIFY (this instance's own changes too) */
  onInvalidation?: (invalidation: Invalidation) => void;
}

export interface StopOptions {
  /** keep serving this long while /readyz answers 503 (load balancers move away meanwhile) */
  delayMillis?: number;
  /** then how long requests in flight have to finish before their connections are cut */
  drainMillis?: number;
}

export interface Service {
  config: Config;
  resources: Resources;
  app: Koa;
  server: Server;
  authenticator: Authenticator;
  feed: InvalidationFeed;
  readiness: ReadinessProbe;
  migrations: MigrationFile[];
  /** the signed-URL caches of media URLs and share links (undefined with caches: false) */
  urlCaches: { media: SignedUrlCache | undefined; share: SignedUrlCache | undefined };
  /** listens on config.host:config.port; resolves with the port (config.port may be 0) */
  listen(): Promise<number>;
  /**
   * The drain of SIGTERM: /readyz answers 503 at once, requests are still served for
   * delayMillis, then the listener closes, every later answer says `Connection: close`,
   * idle connections close, and what is in flight finishes within drainMillis; then
   * everything is closed. Calling it again returns the same promise.
   */
  stop(options?: StopOptions): Promise<void>;
  /** ends stop()'s delay at once (a SIGINT, or a second signal, while it waits) */
  endDelay(): void;
}

// Uses of unlimited share links are written this often (the contract: within a few seconds).
const SHARE_LINK_USES_FLUSH_MILLIS = 2000;

export async function buildService(config: Config, log: Logger, options: ServiceOptions = {}): Promise<Service> {
  const resources = await openResources(config, log, { ...options, store: true });
  const store = resources.store!;
  const migrations = await readMigrations();
  try {
    // A store that does not answer or refuses our credentials would fail every upload:
    // say so now, by name, rather than start and answer 503s.
    await store.check().catch(failedPart('object store'));
    if (options.migrate) {
      const applied = await migrate(resources.db, migrations).catch(failedPart('database', resources.databaseDescription));
      if (applied.length) log.info({ applied }, 'migrations applied');
    }
  } catch (err) {
    await resources.close();
    throw err;
  }
  const clock = options.clock ?? (() => new Date());
  const scheduler = options.scheduler ?? realScheduler;
  const metrics = options.metrics ?? createMetrics();
  const { limits } = config;
  // One count of failures per client address: failed authentications and failed share
  // link look-ups alike.
  const throttle = new AuthThrottle({ ...DEFAULT_THROTTLE, maxFailures: config.authFailureLimit, windowSeconds: limits.authFailureWindowSeconds });
  const authenticator = createAuthenticator({
    db: resources.db,
    clock,
    throttle,
    cacheTtlMillis: limits.cacheSeconds * 1000,
    cacheMax: limits.cacheEntries,
    clockSkewSeconds: limits.jwtClockSkewSeconds,
    onFailure: (reason) => metrics.authFailures.inc({ reason }),
  });
  const cacheOptions = { clock, max: limits.cacheEntries, ttlMillis: limits.cacheSeconds * 1000 };
  const mediaCache = new MediaCache(cacheOptions);
  const shareLinkCache = new ShareLinkCache(cacheOptions);
  // Signed URLs in use are signed again before their reuse window ends, off the request
  // (docs/performance.md); invalidations below drop or disarm them.
  const urlCacheOf = (cache: 'media' | 'share', ttlSeconds: number) =>
    new SignedUrlCache({
      ttlSeconds,
      reuseSeconds: limits.signedUrlReuseSeconds,
      max: limits.cacheEntries,
      refresh: { clock, scheduler },
      onSignature: (source) => metrics.urlSignatures.inc({ cache, source }),
    });
  const caches = options.caches ?? true;
  const urlCache = caches ? urlCacheOf('media', config.mediaUrlTtlSeconds) : undefined;
  const shareUrlCache = caches ? urlCacheOf('share', config.shareUrlTtlSeconds) : undefined;
  const invalidate: LocalInvalidation = (invalidation) => {
    const { accountSid } = invalidation;
    // Signed URLs: a deleted media's are dropped; any other change to the account stops
    // their refresh until a request, decided on fresh rows, reuses them.
    for (const cache of [urlCache, shareUrlCache]) {
      if (invalidation.kind === 'media' && invalidation.mediaSid) cache?.dropMedia(accountSid, invalidation.mediaSid);
      else cache?.disarmAccount(accountSid);
    }
    if (invalidation.kind === 'credentials') {
      authenticator.invalidateAccount(accountSid);
      shareLinkCache.invalidateAccount(accountSid); // a deleted key's or application's links
    } else if (invalidation.kind === 'share_links') {
      shareLinkCache.invalidateAccount(accountSid);
    } else if (invalidation.mediaSid) {
      mediaCache.invalidateMedia(accountSid, invalidation.mediaSid);
      shareLinkCache.invalidateAccount(accountSid, (live) => live.media.sid === invalidation.mediaSid);
    } else {
      mediaCache.invalidateAccount(accountSid);
      shareLinkCache.invalidateAccount(accountSid);
    }
  };
  const shareLinkUses = new ShareLinkUses(resources.db);
  shareLinkUses.start(scheduler, SHARE_LINK_USES_FLUSH_MILLIS);
  // Keeps this instance's caches honest: a change committed through any instance
  // reaches every instance by NOTIFY. While LISTEN is not connected (from start-up until
  // it first is, and after any loss) a revocation could go unheard, so the caches are
  // not trusted: every request is decided by the database until the feed is back.
  const trustCaches = (trusted: boolean) => {
    authenticator.setCacheTrusted(trusted);
    mediaCache.setTrusted(trusted);
    shareLinkCache.setTrusted(trusted);
    urlCache?.setTrusted(trusted);
    shareUrlCache?.setTrusted(trusted);
    metrics.invalidationFeedUp.set(trusted ? 1 : 0);
  };
  trustCaches(false);
  let feedWasUp = false;
  let feedFailures = 0;
  const feed = listenForInvalidations(resources.databaseUrl, {
    onInvalidation(invalidation) {
      invalidate(invalidation);
      options.onInvalidation?.(invalidation);
    },
    onConnected() {
      trustCaches(true);
      if (feedFailures > 0) log.info({ after_failures: feedFailures }, 'invalidation feed connected again: caches in use');
      feedWasUp = true;
      feedFailures = 0;
    },
    onLost(err) {
      trustCaches(false);
      // One warning per outage, not one per reconnection attempt.
      if (err && (feedWasUp || feedFailures === 0)) {
        log.warn({ cause: err.message }, 'invalidation feed lost: not ready, caches bypassed until it reconnects');
      }
      feedWasUp = false;
      feedFailures++;
    },
  });

  let shuttingDown = false;
  const readiness = createReadinessProbe({
    db: resources.db,
    migrations,
    feed,
    store,
    clock,
    isShuttingDown: () => shuttingDown,
    onReport(report) {
      metrics.ready.set(report.ready ? 1 : 0);
      for (const check of READINESS_CHECKS) metrics.readinessCheck.set({ check }, report.checks[check].ok ? 1 : 0);
    },
  });

  const app = createApp({
    config,
    db: resources.db,
    store,
    localStore: resources.localStore,
    authenticator,
    readiness,
    log,
    metrics,
    clock,
    scheduler,
    mediaCache: caches ? mediaCache : undefined,
    urlCache,
    shareLinkCache: caches ? shareLinkCache : undefined,
    shareUrlCache,
    shareLinkUses,
    throttle,
    invalidate,
  });
  const http = createHttpServer(app, { maxConnections: config.maxConnections, limits });
  const { server } = http;
  let jobs: PeriodicJobs | undefined;

  const closeAll = async (waitForJobsMillis: number) => {
    await jobs?.stop(waitForJobsMillis);
    await shareLinkUses.stop();
    urlCache?.stop();
    shareUrlCache?.stop();
    await feed.close();
    await resources.close();
  };

  let endDelay = () => {};
  let stopping: Promise<void> | undefined;
  const stop = async ({ delayMillis = 0, drainMillis = 0 }: StopOptions) => {
    shuttingDown = true;
    if (delayMillis > 0 && server.listening) {
      log.info({ delay_seconds: delayMillis / 1000 }, 'shutting down: not ready, still serving while load balancers move away');
      await new Promise<void>((done) => {
        const timer = setTimeout(done, delayMillis);
        endDelay = () => {
          clearTimeout(timer);
          done();
        };
      });
    }
    const deadlineAt = Date.now() + drainMillis;
    if (server.listening) log.info({ timeout_seconds: drainMillis / 1000 }, 'shutting down: listener closed, draining requests');
    if ((await http.drain(drainMillis)) === 'cut off') log.warn('shutdown deadline reached: remaining connections were closed');
    // A periodic job in progress holds a database client: let it finish, within the deadline.
    await closeAll(Math.max(1000, deadlineAt - Date.now()));
  };

  return {
    config,
    resources,
    app,
    server,
    authenticator,
    feed,
    readiness,
    migrations,
    urlCaches: { media: urlCache, share: shareUrlCache },
    async listen() {
      // Ready when listening, in the common case: LISTEN connects within milliseconds of
      // the migration. Not waited for beyond a few seconds: /readyz then says why.
      await Promise.race([feed.ready(), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(config.port, config.host, () => {
            server.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        // Taken since serve checked it, say: stop what was started (the embedded database) before failing.
        await closeAll(0);
        throw listenError(err as NodeJS.ErrnoException, config);
      }
      if (options.periodicJobs ?? true) jobs = startPeriodicJobs({ db: resources.db, store, clock, log });
      const address = server.address();
      return typeof address === 'object' && address ? address.port : config.port;
    },
    stop(stopOptions = {}) {
      stopping ??= stop(stopOptions);
      return stopping;
    },
    endDelay: () => endDelay(),
  };
}

/** Why the port cannot be listened on, in the operator's terms. */
export function listenError(err: NodeJS.ErrnoException, config: Pick<Config, 'host' | 'port'>): Error {
  const where = `port ${config.port} on ${config.host}`;
  if (err.code === 'EADDRINUSE') return new StartupError(`port ${config.port}`, `is in use on ${config.host} (another process listens there)`);
  if (err.code === 'EACCES') return new StartupError(where, 'permission denied (ports below 1024 need privileges)');
  if (err.code === 'EADDRNOTAVAIL') return new StartupError(where, `${config.host} is not an address of this machine`);
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return new StartupError(where, `cannot resolve HOST ${config.host}`);
  return new StartupError(where, err.message);
}

/**
 * Fails with the port's StartupError unless host:port can be listened on, before
 * anything (an embedded database, a migration) is started: a busy port is then a
 * one-line error at once, not one after seconds of work to undo.
 */
export async function assertPortFree(config: Pick<Config, 'host' | 'port'>): Promise<void> {
  if (config.port === 0) return;
  const probe = createNetServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (err) => reject(listenError(err as NodeJS.ErrnoException, config)));
    probe.listen({ port: config.port, host: config.host, exclusive: true }, () => probe.close(() => resolve()));
  });
}
