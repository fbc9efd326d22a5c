import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import S3rver from 's3rver';
import type { TestProject } from 'vitest/node';
import { openEmbeddedPostgres, findFreePort } from '../src/db/embedded.js';
import { migrate } from '../src/db/migrate.js';
import { createPool } from '../src/db/pool.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    s3Endpoint: string;
    s3Bucket: string;
  }
}

export const TEST_BUCKET = 'mediagate-test';

interface Shared {
  databaseUrl: string;
  s3Endpoint: string;
  teardown(): Promise<void>;
}

// Vitest calls a global setup once per project (and once for the root), each time from
// a fresh import of this file: the servers are started once, kept on the process, and
// stopped when the last project is done.
const process_ = globalThis as typeof globalThis & { mediagateTestServers?: { shared: Promise<Shared>; users: number } };

/**
 * A real PostgreSQL (TEST_DATABASE_URL or DATABASE_URL if set, else an embedded one in
 * a temporary directory on a free port, so a server already on 5432 is no obstacle) and
 * a real S3 server (s3rver) on a free port, plus a fresh build of dist/ for the tests
 * that run the `mediagate` command.
 */
export default async function setup(project: TestProject) {
  const servers = (process_.mediagateTestServers ??= { shared: startShared(), users: 0 });
  servers.users++;
  const { databaseUrl, s3Endpoint, teardown } = await servers.shared;
  project.provide('databaseUrl', databaseUrl);
  project.provide('s3Endpoint', s3Endpoint);
  project.provide('s3Bucket', TEST_BUCKET);
  return async () => {
    if (--servers.users === 0) {
      delete process_.mediagateTestServers;
      await teardown();
    }
  };
}

async function startShared(): Promise<Shared> {
  const root = path.resolve(import.meta.dirname, '..');
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });

  // Everything a test makes in the temporary directory goes under one of our own, removed
  // at the end: test files and the processes they start (serve, Chromium, clients) find
  // it through TMPDIR, which os.tmpdir() and most programs follow. (npm test also checks
  // that the run left nothing: scripts/test.js.)
  const tmp = tmpdir();
  const work = await mkdtemp(path.join(tmp, 'mg-test-'));
  process.env.TMPDIR = work;
  const cleanups: (() => Promise<void>)[] = [() => rm(work, { recursive: true, force: true })];

  const givenUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  let databaseUrl: string;
  if (givenUrl) {
    databaseUrl = await createScratchDatabase(givenUrl, cleanups);
  } else {
    // As root, what is changed for the postgres user to reach the cluster is printed.
    const embedded = await openEmbeddedPostgres(path.join(work, 'postgres'), { log: (m) => console.log(`test database: ${m}`) });
    cleanups.unshift(() => embedded.stop());
    databaseUrl = embedded.url;
  }
  const pool = createPool(databaseUrl);
  await migrate(pool);
  await pool.end();

  const s3Port = await findFreePort();
  const s3 = new S3rver({
    port: s3Port,
    address: '127.0.0.1',
    directory: path.join(work, 's3'),
    silent: true,
    configureBuckets: [{ name: TEST_BUCKET, configs: [] }],
  });
  await s3.run();
  cleanups.unshift(() => s3.close());

  return {
    databaseUrl,
    s3Endpoint: `http://127.0.0.1:${s3Port}`,
    async teardown() {
      for (const cleanup of cleanups) await cleanup().catch((err) => console.error('teardown:', err));
      process.env.TMPDIR = tmp;
    },
  };
}

/** A database of our own on a given server, so a run leaves the server as it was. */
async function createScratchDatabase(serverUrl: string, cleanups: (() => Promise<void>)[]): Promise<string> {
  const name = `mediagate_test_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (err) {
    await admin.end();
    console.warn(`could not create a scratch database (${(err as Error).message}); testing in the given one`);
    return serverUrl;
  }
  await admin.end();
  cleanups.push(async () => {
    const c = new pg.Client({ connectionString: serverUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  });
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
