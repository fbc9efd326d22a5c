import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { inject } from 'vitest';
import { checkout, createPool, type Db } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { GC_LOCK_KEY, SWEEP_LOCK_KEY } from '../../src/domain/maintenance.js';
import { createAccount } from '../../src/domain/accounts.js';
import { createScratchDatabase, runCli } from '../support/cli.js';
import { slowUpload, spawnServe, type ServeProcess } from '../support/process.js';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { createS3Store } from '../../src/storage/s3.js';
import { sha256 } from '../support/media.js';
import { basicAuth, objectExists, S3_CREDENTIALS } from '../support/service.js';

const processes: ServeProcess[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(() => {
  for (const p of processes.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function scratchDb(): Promise<{ url: string; db: Db }> {
  const scratch = await createScratchDatabase();
  const db = createPool(scratch.url);
  cleanups.push(scratch.drop, () => db.end());
  return { url: scratch.url, db };
}

const basic = basicAuth;

/** `mediagate serve` over a scratch database of its own, killed after the test if still running. */
async function serveOnScratchDb(env: Record<string, string> = {}): Promise<{ url: string; db: Db; serve: ServeProcess }> {
  const { url, db } = await scratchDb();
  const serve = await spawnServe({ DATABASE_URL: url, ...env });
  processes.push(serve);
  return { url, db, serve };
}

/**
 * The processes that wrote request lines (those `matches` accepts) to the service's
 * stdout: a request id the service made up starts with its process's own prefix.
 */
function requestPids(serve: ServeProcess, matches: (line: { route?: string; status?: number }) => boolean = () => true): Set<string> {
  return new Set(
    serve
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string; request_id: string; route?: string; status?: number })
      .filter((l) => l.msg === 'request' && matches(l))
      .map((l) => l.request_id.split('-')[0]!),
  );
}

describe('graceful shutdown', () => {
  it('SIGTERM during a slow upload: the upload completes and is stored, then the process exits 0', async () => {
    const { url, serve } = await serveOnScratchDb();
    const created = await runCli(['accounts', 'create', '--name', 'x'], { DATABASE_URL: url });
    const account = JSON.parse(created.stdout) as { sid: string; auth_token: string };
    const chunks = Array.from({ length: 15 }, () => randomBytes(4096));

    // The upload's first bytes are in when the service says 100 Continue; then SIGTERM,
    // and the rest of the body follows.
    const uploading = slowUpload(
      `${serve.baseUrl}/v1/accounts/${account.sid}/media?kind=recording`,
      basic(account.sid, account.auth_token),
      chunks,
      100,
      () => serve.child.kill('SIGTERM'),
    );
    // No new connections once draining started (waited for, not timed: the test's own
    // timeout bounds it).
    for (;;) {
      const refused = await fetch(`${serve.baseUrl}/healthz`, { headers: { Connection: 'close' } }).then(
        () => false,
        () => true,
      );
      if (refused) break;
    }

    const res = await uploading;
    expect(res.status).toBe(201);
    const media = JSON.parse(res.body) as { sha256: string; size_bytes: number; url: string };
    expect(media.sha256).toBe(sha256(Buffer.concat(chunks)));
    expect(await serve.exited).toBe(0);
    expect(serve.stdout()).toContain('"msg":"stopped"');

    // Stored for real: a new process serves the bytes.
    const again = await spawnServe({ DATABASE_URL: url }, { dataDir: serve.dataDir, port: serve.port });
    processes.push(again);
    const bytes = Buffer.from(await (await fetch(media.url, { headers: { Authorization: basic(account.sid, account.auth_token) } })).arrayBuffer());
    expect(bytes.equals(Buffer.concat(chunks))).toBe(true);
  }, 60_000);
});

describe('SHUTDOWN_DELAY_SECONDS', () => {
  it('SIGTERM: not ready at once, still serving during the delay; a SIGINT then ends the delay and it exits 0', async () => {
    const { serve } = await serveOnScratchDb({ SHUTDOWN_DELAY_SECONDS: '600' });
    expect((await fetch(`${serve.baseUrl}/readyz`)).status).toBe(200);
    serve.child.kill('SIGTERM');
    // Not ready from the signal on (asked until it says so: the test's timeout bounds it).
    while ((await fetch(`${serve.baseUrl}/readyz`, { headers: { Connection: 'close' } })).status !== 503);
    expect((await fetch(`${serve.baseUrl}/healthz`, { headers: { Connection: 'close' } })).status).toBe(200);
    // Ten minutes of delay are not waited out: a SIGINT hurries the shutdown.
    serve.child.kill('SIGINT');
    expect(await serve.exited).toBe(0);
  }, 60_000);

  it('SIGINT skips the delay', async () => {
    const { serve } = await serveOnScratchDb({ SHUTDOWN_DELAY_SECONDS: '600' });
    serve.child.kill('SIGINT');
    expect(await serve.exited).toBe(0);
    expect(serve.stdout()).not.toContain('still serving while load balancers move away');
  }, 60_000);

  it('WORKERS=2: every worker is not ready during the delay, and all exit 0', async () => {
    const { serve } = await serveOnScratchDb({ WORKERS: '2', SHUTDOWN_DELAY_SECONDS: '600' });
    // Both workers serve before the signal: the primary hands every connection to the one
    // already listening until the other is (on a loaded machine, CI's once, that took longer
    // than the 20 answers below, and one worker answered them all).
    await expect
      .poll(
        async () => {
          await (await fetch(`${serve.baseUrl}/readyz`, { headers: { Connection: 'close' } })).arrayBuffer();
          return requestPids(serve, (l) => l.route === 'getReadiness' && l.status === 200).size;
        },
        { timeout: 20_000 },
      )
      .toBe(2);
    serve.child.kill('SIGTERM');
    // Fresh connections are spread over both workers: 20 answers in a row are 503.
    for (let notReady = 0; notReady < 20; ) {
      const res = await fetch(`${serve.baseUrl}/readyz`, { headers: { Connection: 'close' } });
      notReady = res.status === 503 ? notReady + 1 : 0;
    }
    serve.child.kill('SIGINT');
    expect(await serve.exited).toBe(0);
    expect(requestPids(serve, (l) => l.route === 'getReadiness' && l.status === 503).size).toBe(2);
  }, 60_000);
});

describe('a log reader that stops reading', () => {
  it('does not keep the process from exiting on SIGTERM', async () => {
    const { serve } = await serveOnScratchDb();
    // As a supervisor that hangs: it holds the pipe of the service's stdout but reads no
    // more, so the pipe fills up with request lines.
    serve.child.stdout!.pause();
    serve.child.stdout!.removeAllListeners('data');
    const full = Array.from({ length: 20 }, async () => {
      for (let i = 0; i < 100; i++) await fetch(`${serve.baseUrl}/healthz?${'x'.repeat(150)}`);
    });
    await Promise.all(full);
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  }, 60_000);
});

describe('WORKERS', () => {
  it('runs N processes sharing the port, and SIGTERM stops them all with exit 0', async () => {
    const { url, serve } = await serveOnScratchDb({ WORKERS: '2' });
    expect(serve.stderr()).toContain('with 2 workers');
    const account = JSON.parse((await runCli(['accounts', 'create', '--name', 'w'], { DATABASE_URL: url })).stdout) as {
      sid: string;
      auth_token: string;
    };
    const auth = basic(account.sid, account.auth_token);
    // Fresh connections are spread over the workers by the primary.
    for (let i = 0; i < 40; i++) {
      const res = await fetch(`${serve.baseUrl}/v1/accounts/${account.sid}/media`, { headers: { Authorization: auth, Connection: 'close' } });
      expect(res.status).toBe(200);
    }
    // Log lines are buffered (flushed every 250 ms and at exit): stop first, then read.
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    expect(requestPids(serve).size).toBe(2);
  }, 60_000);
});

describe('no orphans, no lost media', () => {
  it('after kill -9 during 50 concurrent uploads, and gc: every row has its object, no object lacks a row', async () => {
    const { url, db, serve } = await serveOnScratchDb();
    const account = await createAccount(db, 'crash');
    const auth = basic(account.sid, account.auth_token);
    const uploads = Array.from({ length: 50 }, (_, i) =>
      slowUpload(`${serve.baseUrl}/v1/accounts/${account.sid}/media?kind=message`, auth, [randomBytes(3000 + i), randomBytes(3000)], i * 8).catch(
        () => ({ status: 0, body: '' }),
      ),
    );
    // Killed once ten uploads were stored: the others are still sending.
    let stored = 0;
    await new Promise<void>((resolve) => uploads.forEach((u) => void u.then((r) => r.status === 201 && ++stored === 10 && resolve())));
    serve.child.kill('SIGKILL');
    const results = await Promise.all(uploads);
    const finished = results.filter((r) => r.status === 201).length;
    expect(finished).toBeLessThan(50); // the kill really cut uploads short

    const gc = await runCli(['gc', '--grace-seconds', '0'], { DATABASE_URL: url, DATA_DIR: serve.dataDir });
    expect(gc.code).toBe(0);
    const report = JSON.parse(gc.stdout) as { removed_objects: string[]; missing_objects: string[] };
    expect(report.missing_objects).toEqual([]);

    const { rows } = await db.query<{ object_key: string; sha256: string }>('SELECT object_key, sha256 FROM media WHERE account_sid = $1', [
      account.sid,
    ]);
    expect(rows.length).toBeGreaterThanOrEqual(finished);
    for (const row of rows) {
      const bytes = await readFile(path.join(serve.dataDir, 'objects', row.object_key));
      expect(sha256(bytes)).toBe(row.sha256);
    }
    const again = JSON.parse((await runCli(['gc', '--grace-seconds', '0'], { DATABASE_URL: url, DATA_DIR: serve.dataDir })).stdout) as {
      removed_objects: string[];
    };
    expect(again.removed_objects).toEqual([]);
    // Nor do uploads cut short leave temp files behind once gc ran.
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(path.join(serve.dataDir, 'objects', '.tmp')).catch(() => [])).toEqual([]);
    console.log(`kill -9: ${finished}/50 uploads answered 201, ${rows.length} rows kept, gc removed ${report.removed_objects.length} objects`);
  }, 60_000);

  it('gc and sweep run one at a time: while another run holds the lock, a run says it skipped and exits 0', async () => {
    const { url, db } = await scratchDb();
    const holder = await checkout(db);
    try {
      await holder.query('SELECT pg_advisory_lock($1), pg_advisory_lock($2)', [GC_LOCK_KEY, SWEEP_LOCK_KEY]);
      const dataDir = await mkdtemp(path.join(tmpdir(), 'mg-gc-lock-'));
      cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
      for (const job of ['gc', 'sweep']) {
        const r = await runCli([job], { DATABASE_URL: url, DATA_DIR: dataDir });
        expect(r.code).toBe(0);
        expect(JSON.parse(r.stdout)).toEqual({ skipped: true, reason: `another ${job} is running (one at a time across all hosts)` });
      }
    } finally {
      holder.release();
    }
  }, 60_000);

  it('two gc runs at once on an S3 store delete each orphan once, and their reports say so', async () => {
    const { url, db } = await scratchDb();
    await migrate(db);
    const account = await createAccount(db, 'gc-twice');
    // A bucket of its own: gc with no grace would collect every other test's objects in the shared one.
    const bucket = `gc-twice-${randomBytes(4).toString('hex')}`;
    const client = new S3Client({ region: 'us-east-1', endpoint: inject('s3Endpoint'), forcePathStyle: true, credentials: S3_CREDENTIALS });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    client.destroy();
    const store = createS3Store({ bucket, region: 'us-east-1', endpoint: inject('s3Endpoint'), forcePathStyle: true, credentials: S3_CREDENTIALS });
    const keys = Array.from({ length: 80 }, () => `${account.sid}/ME${randomBytes(16).toString('hex')}`);
    await Promise.all(keys.map((k) => store.put(k, Readable.from([Buffer.from('orphan')]), 'text/plain', 100)));
    const env = { DATABASE_URL: url, S3_BUCKET: bucket, S3_ENDPOINT: inject('s3Endpoint'), AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
    const runs = await Promise.all([runCli(['gc', '--grace-seconds', '0'], env), runCli(['gc', '--grace-seconds', '0'], env)]);
    const removed: string[] = [];
    for (const r of runs) {
      expect(r.code).toBe(0);
      const report = JSON.parse(r.stdout) as { removed_objects?: string[]; skipped?: boolean };
      removed.push(...(report.removed_objects ?? []).filter((k) => k.startsWith(account.sid)));
    }
    expect(removed.sort()).toEqual([...keys].sort()); // every orphan once, none twice
    console.log(`two gc runs at once: ${runs.filter((r) => r.stdout.includes('"skipped"')).length} of them skipped`);
    for (const k of keys) expect(await objectExists(store, k)).toBe(false);
    await store.close();
  }, 60_000);

  it('gc removes only unreferenced objects older than the grace period, and reports rows without objects', async () => {
    const { url, db, serve } = await serveOnScratchDb();
    const account = await createAccount(db, 'gc');
    const auth = basic(account.sid, account.auth_token);
    const up = async () =>
      (await (
        await fetch(`${serve.baseUrl}/v1/accounts/${account.sid}/media?kind=fax`, { method: 'POST', headers: { Authorization: auth }, body: 'x' })
      ).json()) as { sid: string };
    const kept = await up();
    const orphaned = await up();
    const missing = await up();
    // Make an orphan (row gone, object left) and a missing object (object gone, row left).
    await db.query('DELETE FROM media WHERE sid = $1', [orphaned.sid]);
    const { rm } = await import('node:fs/promises');
    await rm(path.join(serve.dataDir, 'objects', account.sid, missing.sid));

    const young = JSON.parse((await runCli(['gc'], { DATABASE_URL: url, DATA_DIR: serve.dataDir })).stdout) as Record<string, unknown>;
    expect(young).toMatchObject({ removed_objects: [], young_unreferenced_objects: 1, missing_objects: [`${account.sid}/${missing.sid}`] });
    const dry = JSON.parse((await runCli(['gc', '--grace-seconds', '0', '--dry-run'], { DATABASE_URL: url, DATA_DIR: serve.dataDir })).stdout) as {
      removed_objects: string[];
    };
    expect(dry.removed_objects).toEqual([`${account.sid}/${orphaned.sid}`]);
    const old = JSON.parse((await runCli(['gc', '--grace-seconds', '0'], { DATABASE_URL: url, DATA_DIR: serve.dataDir })).stdout) as {
      removed_objects: string[];
    };
    expect(old.removed_objects).toEqual([`${account.sid}/${orphaned.sid}`]);
    const { existsSync } = await import('node:fs');
    expect(existsSync(path.join(serve.dataDir, 'objects', account.sid, kept.sid))).toBe(true);
    expect(existsSync(path.join(serve.dataDir, 'objects', account.sid, orphaned.sid))).toBe(false);
  }, 60_000);
});
