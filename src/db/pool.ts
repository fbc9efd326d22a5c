import pg from 'pg';

export type Db = pg.Pool;
export type DbClient = pg.PoolClient;

export interface PoolOptions {
  max?: number;
  /** Bound on waiting for a connection, so no request hangs while the database is down. */
  connectionTimeoutMillis?: number;
  /** Server-side bound on each statement. */
  statementTimeoutMillis?: number;
  onError?: (err: Error) => void;
}

// bigint columns (size_bytes) fit in a double for any file we accept; parse them as
// numbers on this pool only, instead of changing pg's process-wide defaults.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
};

export function createPool(databaseUrl: string, options: PoolOptions = {}): Db {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 2000,
    statement_timeout: options.statementTimeoutMillis ?? 5000,
    query_timeout: (options.statementTimeoutMillis ?? 5000) + 1000,
    idleTimeoutMillis: 30_000,
    application_name: 'mediagate',
    types,
  });
  // An idle client whose server went away emits 'error' on the pool; without a
  // listener that would crash the process during a database outage.
  pool.on('error', (err) => options.onError?.(err));
  return pool;
}

/**
 * A client of its own from the pool. pg-pool removes its 'error' listener while a client
 * is checked out, and pg emits 'error' when the server goes away mid-use: without a
 * listener that would crash the process (the failing query rejects anyway).
 */
export async function checkout(db: Db): Promise<DbClient> {
  const client = await db.connect();
  const ignore = () => {};
  client.on('error', ignore);
  const release = client.release.bind(client);
  client.release = (err?: Error | boolean) => {
    client.removeListener('error', ignore);
    release(err);
  };
  return client;
}

/** Runs fn in a transaction on one client, which is always released. */
export async function withTransaction<T>(db: Db, fn: (client: DbClient) => Promise<T>): Promise<T> {
  const client = await checkout(db);
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch {
      broken = true;
    }
    throw err;
  } finally {
    client.release(broken);
  }
}

/** What query modules accept: the pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;
