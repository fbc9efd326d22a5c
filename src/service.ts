import path from 'node:path';
import type { Server } from 'node:http';
import type Koa from 'koa';
import type { Logger } from 'pino';
import { redactDatabaseUrl, type Config } from './config.js';
import { openEmbeddedPostgres } from './db/embedded.js';
import { migrate, readMigrations, type MigrationFile } from './db/migrate.js';
import { listenForInvalidations, type Invalidation, type InvalidationListener } from './db/notifications.js';
import { createPool, type Db } from './db/pool.js';
import { AuthThrottle, DEFAULT_THROTTLE } from './domain/auth-throttle.js';
import { createAuthenticator, type Authenticator } from './domain/credentials.js';
import type { LocalInvalidation } from './domain/invalidation.js';
import { MediaCache } from './domain/media-cache.js';
import { SignedUrlCache } from './domain/signed-url-cache.js';
import { createApp } from './http/app.js';
import { createHttpServer } from './http/server.js';
import type { UploadPace } from './http/upload-pace.js';
import { startPeriodicJobs, type PeriodicJobs } from './jobs.js';
import { createMetrics, type Metrics } from './metrics.js';
import { loadCloudFrontPrivateKey, withCloudFrontUrls } from './storage/cloudfront.js';
import { createLocalStore, type LocalStore } from './storage/local.js';
import { openKeyring, type Keyring } from './storage/signing-keys.js';
import type { Store } from './storage/store.js';

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
  /** how often the local store looks for signing keys rotated in by the CLI */
  keyringPollMillis?: number;
}

export async function openResources(config: Config, log: Logger, options: ResourceOptions = {}): Promise<Resources> {
  // The store first: a bad CloudFront key is a configuration error (exit 2) before any
  // database is started.
  const opened = options.store === false ? undefined : await openStore(config, options.keyringPollMillis);
  try {
    const database = await openDatabase(config, log, options.serving ?? false);
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

async function openStore(config: Config, keyringPollMillis?: number): Promise<{ store: Store; localStore?: LocalStore; keyring?: Keyring }> {
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
  const keyring = await openKeyring(path.join(config.dataDir, 'keys'), keyringPollMillis);
  const localStore = createLocalStore({ dir: path.join(config.dataDir, 'objects'), keyring, baseUrl: config.blobBaseUrl });
  return { store: localStore, localStore, keyring };
}

export interface ServiceOptions extends ResourceOptions {
  /** apply pending migrations first (`serve`, and the HTTP process with WORKERS=1) */
  migrate?: boolean;
  clock?: () => Date;
  metrics?: Metrics;
  /** how long a verified credential is trusted without the database (tests shorten it) */
  credentialCacheTtlMillis?: number;
  /** false: no media row and signed-URL caches (every redirect reads the database) */
  caches?: boolean;
  uploadPace?: UploadPace;
  /** the retention sweep and gc on timers (off in tests, which run them directly) */
  periodicJobs?: boolean;
  /** sees every invalidation that arrives by NOTIFY (this instance's own changes too) */
  onInvalidation?: (invalidation: Invalidation) => void;
}

export interface Service {
  config: Config;
  resources: Resources;
  app: Koa;
  server: Server;
  authenticator: Authenticator;
  feed: InvalidationListener;
  migrations: MigrationFile[];
  /** listens on config.host:config.port; resolves with the port (config.port may be 0) */
  listen(): Promise<number>;
  /** stops taking requests, lets those in progress finish within drainMillis, then closes everything */
  stop(drainMillis: number): Promise<void>;
}

export async function buildService(config: Config, log: Logger, options: ServiceOptions = {}): Promise<Service> {
  const resources = await openResources(config, log, { ...options, store: true });
  const store = resources.store!;
  const migrations = await readMigrations();
  try {
    if (options.migrate) {
      const applied = await migrate(resources.db, migrations);
      if (applied.length) log.info({ applied }, 'migrations applied');
    }
  } catch (err) {
    await resources.close();
    throw err;
  }
  const clock = options.clock ?? (() => new Date());
  const metrics = options.metrics ?? createMetrics();
  const authenticator = createAuthenticator({
    db: resources.db,
    clock,
    throttle: new AuthThrottle({ ...DEFAULT_THROTTLE, maxFailures: config.authFailureLimit }),
    cacheTtlMillis: options.credentialCacheTtlMillis,
  });
  const mediaCache = new MediaCache({ clock });
  const invalidate: LocalInvalidation = (invalidation) => {
    if (invalidation.kind === 'credentials') authenticator.invalidateAccount(invalidation.accountSid);
    else if (invalidation.mediaSid) mediaCache.invalidateMedia(invalidation.accountSid, invalidation.mediaSid);
    else mediaCache.invalidateAccount(invalidation.accountSid);
  };
  // Keeps this instance's caches honest: a change committed through any instance
  // reaches every instance by NOTIFY; a lost LISTEN connection flushes all on reconnect.
  const feed = listenForInvalidations(resources.databaseUrl, {
    onInvalidation(invalidation) {
      invalidate(invalidation);
      options.onInvalidation?.(invalidation);
    },
    onReset() {
      authenticator.flush();
      mediaCache.flush();
    },
    onError(err) {
      log.warn({ err: err.message }, 'invalidation feed lost; reconnecting');
    },
  });
  const caches = options.caches ?? true;
  const app = createApp({
    config,
    db: resources.db,
    store,
    localStore: resources.localStore,
    authenticator,
    log,
    metrics,
    migrations,
    clock,
    mediaCache: caches ? mediaCache : undefined,
    urlCache: caches ? new SignedUrlCache(config.mediaUrlTtlSeconds) : undefined,
    invalidate,
    uploadPace: options.uploadPace,
  });
  const server = createHttpServer(app, { maxConnections: config.maxConnections });
  let jobs: PeriodicJobs | undefined;

  const closeAll = async (waitForJobsMillis: number) => {
    await jobs?.stop(waitForJobsMillis);
    await feed.close();
    await resources.close();
  };

  return {
    config,
    resources,
    app,
    server,
    authenticator,
    feed,
    migrations,
    async listen() {
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(config.port, config.host, () => {
            server.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        // Port taken, say: stop what was started (the embedded database) before failing.
        await closeAll(0);
        throw err;
      }
      if (options.periodicJobs ?? true) jobs = startPeriodicJobs({ db: resources.db, store, clock, log });
      const address = server.address();
      return typeof address === 'object' && address ? address.port : config.port;
    },
    async stop(drainMillis) {
      const deadlineAt = Date.now() + drainMillis;
      if (server.listening) {
        const closed = new Promise<void>((done) => server.close(() => done()));
        server.closeIdleConnections();
        const deadline = setTimeout(() => {
          if (drainMillis > 0) log.warn('shutdown deadline reached: closing remaining connections');
          server.closeAllConnections();
        }, drainMillis);
        deadline.unref();
        await closed;
        clearTimeout(deadline);
      }
      // A periodic job in progress holds a database client: let it finish, within the deadline.
      await closeAll(Math.max(1000, deadlineAt - Date.now()));
    },
  };
}
