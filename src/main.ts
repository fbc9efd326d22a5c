import path from 'node:path';
import type { Logger } from 'pino';
import { redactDatabaseUrl, type Config } from './config.js';
import { openEmbeddedPostgres } from './db/embedded.js';
import { createPool, type Db } from './db/pool.js';
import { createS3Store } from './storage/s3.js';
import type { Store } from './storage/store.js';

// Building the costly, process-wide objects (pool, embedded cluster, store with its
// S3 client and presigner) happens here and only here; everything else receives them.

export interface Database {
  db: Db;
  /** for the startup banner: never a password */
  description: string;
  close(): Promise<void>;
}

export async function openDatabase(config: Config, log: Logger): Promise<Database> {
  if (config.databaseUrl !== undefined) {
    const db = createPool(config.databaseUrl, { onError: (err) => log.warn({ err: err.message }, 'idle database client failed') });
    return { db, description: redactDatabaseUrl(config.databaseUrl), close: () => db.end() };
  }
  const clusterDir = path.join(config.dataDir, 'postgres');
  const embedded = await openEmbeddedPostgres(clusterDir, (m) => log.info(m));
  const db = createPool(embedded.url, { onError: (err) => log.warn({ err: err.message }, 'idle database client failed') });
  const how = embedded.owned ? 'started by this process' : 'already running, shared';
  return {
    db,
    description: `embedded PostgreSQL in ${clusterDir} (${how}) at ${redactDatabaseUrl(embedded.url)}`,
    close: async () => {
      await db.end();
      await embedded.stop();
    },
  };
}

export async function openStore(config: Config): Promise<Store> {
  if (config.s3) {
    return createS3Store({
      bucket: config.s3.bucket,
      region: config.s3.region,
      endpoint: config.s3.endpoint,
      forcePathStyle: config.s3.forcePathStyle,
    });
  }
  throw new Error('S3_BUCKET is not set and the local-disk store is not available yet');
}
