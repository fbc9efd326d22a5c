import path from 'node:path';
import type { Logger } from 'pino';
import { redactDatabaseUrl, type Config } from './config.js';
import { openEmbeddedPostgres } from './db/embedded.js';
import { createPool, type Db } from './db/pool.js';
import { blobRoutes } from './http/routes/blobs.js';
import { createLocalStore } from './storage/local.js';
import { loadCloudFrontPrivateKey, withCloudFrontUrls } from './storage/cloudfront.js';
import { openKeyring } from './storage/signing-keys.js';
import type Router from '@koa/router';
import type { Store } from './storage/store.js';
import { listenForInvalidations, type InvalidationListener } from './db/notifications.js';
import type { Authenticator } from './domain/credentials.js';
import type { LocalInvalidation, MediaCache } from './domain/media-cache.js';

// Building the costly, process-wide objects (pool, embedded cluster, store with its
// S3 client and presigner) happens here and only here; everything else receives them.

export interface Database {
  db: Db;
  /** for the LISTEN connection of the invalidation feed */
  url: string;
  /** for the startup banner: never a password */
  description: string;
  close(): Promise<void>;
}

export async function openDatabase(config: Config, log: Logger, options: { serving?: boolean } = {}): Promise<Database> {
  const pool = (url: string) => createPool(url, { onError: (err) => log.warn({ err: err.message }, 'idle database client failed') });
  if (config.databaseUrl !== undefined) {
    const db = pool(config.databaseUrl);
    return { db, url: config.databaseUrl, description: redactDatabaseUrl(config.databaseUrl), close: () => db.end() };
  }
  const clusterDir = path.join(config.dataDir, 'postgres');
  const embedded = await openEmbeddedPostgres(clusterDir, { log: (m) => log.info(m), adoptOrphan: options.serving ?? false });
  const db = pool(embedded.url);
  const how = embedded.owned ? 'started by this process' : 'already running, shared';
  return {
    db,
    url: embedded.url,
    description: `embedded PostgreSQL in ${clusterDir} (${how}) at ${redactDatabaseUrl(embedded.url)}`,
    close: async () => {
      await db.end();
      await embedded.stop();
    },
  };
}

export interface OpenedStore {
  store: Store;
  /** the local store serves its own signed URLs: the blob routes to mount */
  routes?: (router: Router, clock: () => Date) => void;
}

export async function openStore(config: Config): Promise<OpenedStore> {
  if (config.s3) {
    // Loaded only when used: the AWS SDK adds ~25 MB of RSS and ~120 ms to startup.
    const { createS3Store } = await import('./storage/s3.js');
    // The key before anything else: an unreadable or non-RSA key is a ConfigError (exit 2).
    const cloudFront = config.cloudFront && {
      ...config.cloudFront,
      privateKey: await loadCloudFrontPrivateKey(config.cloudFront.privateKeyFile),
    };
    const store = createS3Store({
      bucket: config.s3.bucket,
      region: config.s3.region,
      endpoint: config.s3.endpoint,
      forcePathStyle: config.s3.forcePathStyle,
    });
    return { store: cloudFront ? withCloudFrontUrls(store, cloudFront) : store };
  }
  const keyring = await openKeyring(path.join(config.dataDir, 'keys'));
  const store = createLocalStore({ dir: path.join(config.dataDir, 'objects'), keyring, baseUrl: config.blobBaseUrl });
  return { store, routes: (router, clock) => blobRoutes(router, { store, clock }) };
}

export function localInvalidation(caches: { authenticator: Authenticator; mediaCache: MediaCache }): LocalInvalidation {
  return {
    credentials: (accountSid) => caches.authenticator.invalidateAccount(accountSid),
    media: (accountSid, mediaSid) =>
      mediaSid ? caches.mediaCache.invalidateMedia(accountSid, mediaSid) : caches.mediaCache.invalidateAccount(accountSid),
  };
}

/**
 * Keeps this instance's caches honest: a change committed through any instance reaches
 * every instance by NOTIFY; a lost LISTEN connection flushes everything on reconnect.
 */
export function startInvalidationFeed(
  databaseUrl: string,
  caches: { authenticator: Authenticator; mediaCache: MediaCache },
  log: Logger,
): InvalidationListener {
  const local = localInvalidation(caches);
  return listenForInvalidations(databaseUrl, {
    onInvalidation(invalidation) {
      if (invalidation.kind === 'credentials') local.credentials(invalidation.accountSid);
      else local.media(invalidation.accountSid, invalidation.mediaSid);
    },
    onReset() {
      caches.authenticator.flush();
      caches.mediaCache.flush();
    },
    onError(err) {
      log.warn({ err: err.message }, 'invalidation feed lost; reconnecting');
    },
  });
}
