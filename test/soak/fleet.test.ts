// Three `mediagate serve` processes over one PostgreSQL and one S3 server, behind
// Debian's nginx running deploy/nginx.conf, as operators run the service. Under steady
// load (protected redirects, 100 KB uploads) each instance is restarted in turn: not a
// request may fail and not an upload may be lost. Then revocations, two gc runs at once,
// and /readyz through a database restart and an object store outage.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort, openEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool, type Db } from '../../src/db/pool.js';
import { createAccount } from '../../src/domain/accounts.js';
import { createS3Store } from '../../src/storage/s3.js';
import { ROOT, runCli } from '../support/cli.js';
import { sha256 } from '../support/media.js';
import { spawnServe, type ServeProcess } from '../support/process.js';
import { basicAuth, S3_CREDENTIALS } from '../support/service.js';
import { until } from '../support/until.js';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
const BUCKET = 'fleet';
const DELAY_SECONDS = 1;

let work: string;
let pg: EmbeddedPostgres;
let pgPort: number;
let db: Db;
let s3: S3rver;
let s3Port: number;
let nginx: ChildProcess;
let nginxPort: number;
let base: string;
const ports: number[] = [];
const instances: ServeProcess[] = [];
let env: Record<string, string>;

async function startS3(): Promise<S3rver> {
  const server = new S3rver({ port: s3Port, address: '127.0.0.1', directory: path.join(work, 's3'), silent: true, configureBuckets: [{ name: BUCKET, configs: [] }] });
  await server.run();
  return server;
}

async function startInstance(i: number): Promise<ServeProcess> {
  const serve = await spawnServe(env, { port: ports[i]!, dataDir: path.join(work, `instance-${i}`) });
  instances[i] = serve;
  return serve;
}

/** deploy/nginx.conf as the docs give it, with this run's ports, inside a main config of the test's own. */
async function startNginx(): Promise<ChildProcess> {
  const site = (await readFile(path.join(ROOT, 'deploy/nginx.conf'), 'utf8'))
    .replace(/server 127\.0\.0\.1:808(\d)/g, (_, n: string) => `server 127.0.0.1:${ports[Number(n) - 1]}`)
    .replace(/listen 8080;/, `listen 127.0.0.1:${nginxPort};`);
  const prefix = path.join(work, 'nginx');
  await mkdir(prefix, { recursive: true });
  await writeFile(path.join(prefix, 'mediagate.conf'), site);
  await writeFile(
    path.join(prefix, 'nginx.conf'),
    [
      // As root the workers would run as nobody, who cannot enter the test's private directory.
      process.getuid?.() === 0 ? 'user root;' : '',
      'daemon off;',
      'worker_processes 1;',
      `pid ${prefix}/nginx.pid;`,
      `error_log ${prefix}/error.log warn;`,
      'events {}',
      'http {',
      `  access_log ${prefix}/access.log;`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${prefix}/${t};`),
      `  include ${prefix}/mediagate.conf;`,
      '}',
    ].join('\n'),
  );
  const child = spawn(NGINX!, ['-p', prefix, '-c', path.join(prefix, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  // Up once it answers through to an instance.
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    const ok = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
    if (ok) return child;
  }
}

beforeAll(async () => {
  if (NGINX === undefined) return;
  work = await mkdtemp(path.join(tmpdir(), 'mg-fleet-'));
  pgPort = await findFreePort();
  pg = await openEmbeddedPostgres(path.join(work, 'pg'), { port: pgPort });
  db = createPool(pg.url);
  await migrate(db);
  s3Port = await findFreePort();
  s3 = await startS3();
  nginxPort = await findFreePort();
  base = `http://127.0.0.1:${nginxPort}`;
  for (let i = 0; i < 3; i++) ports.push(await findFreePort());
  env = {
    DATABASE_URL: pg.url,
    S3_BUCKET: BUCKET,
    S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
    AWS_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
    PUBLIC_BASE_URL: base,
    TRUST_PROXY: '1',
    SHUTDOWN_DELAY_SECONDS: String(DELAY_SECONDS),
  };
  await Promise.all([0, 1, 2].map(startInstance));
  nginx = await startNginx();
}, 120_000);

afterAll(async () => {
  nginx?.kill('SIGQUIT');
  for (const serve of instances) if (serve?.child.exitCode === null) serve.child.kill('SIGKILL');
  await Promise.all(instances.map((serve) => serve?.exited));
  await db?.end();
  await s3?.close().catch(() => undefined);
  await pg?.stop();
});

interface Outcome {
  ok: number;
  failed: string[];
  uploads: { sid: string; sha256: string }[];
}

/** Keeps `redirects` + `uploaders` requests going through nginx until stopped. */
function steadyLoad(account: { sid: string; basic: string }, mediaUrl: string, redirects: number, uploaders: number) {
  const outcome: Outcome = { ok: 0, failed: [], uploads: [] };
  let running = true;
  const loop = async (one: () => Promise<void>) => {
    while (running) {
      await one().catch((err: Error) => outcome.failed.push(`network: ${err.message} ${String((err as { cause?: Error }).cause?.message ?? '')}`));
    }
  };
  const redirect = async () => {
    const res = await fetch(mediaUrl, { headers: { Authorization: account.basic }, redirect: 'manual' });
    await res.arrayBuffer();
    if (res.status === 302) outcome.ok++;
    else outcome.failed.push(`redirect: ${res.status}`);
  };
  const upload = async () => {
    const bytes = randomBytes(100 * 1024);
    const res = await fetch(`${base}/v1/accounts/${account.sid}/media?kind=recording`, {
      method: 'POST',
      headers: { Authorization: account.basic, 'Content-Type': 'application/octet-stream' },
      body: bytes,
    });
    const text = await res.text();
    if (res.status !== 201) {
      outcome.failed.push(`upload: ${res.status} ${text.slice(0, 200)}`);
      return;
    }
    outcome.ok++;
    outcome.uploads.push({ sid: (JSON.parse(text) as { sid: string }).sid, sha256: sha256(bytes) });
  };
  const loops = [...Array.from({ length: redirects }, () => loop(redirect)), ...Array.from({ length: uploaders }, () => loop(upload))];
  return {
    outcome,
    async stop() {
      running = false;
      await Promise.all(loops);
      return outcome;
    },
  };
}

const readyStatus = (port: number) => fetch(`http://127.0.0.1:${port}/readyz`, { headers: { Connection: 'close' } }).then((r) => r.status, () => 0);

/** The longest request an instance served, from its access log, in milliseconds. */
function longestRequestMillis(serve: ServeProcess): number {
  let longest = 0;
  for (const line of serve.stdout().split('\n')) {
    if (!line.includes('"msg":"request"')) continue;
    longest = Math.max(longest, (JSON.parse(line) as { ms: number }).ms);
  }
  return longest;
}

if (NGINX === undefined) console.warn('fleet tests skipped: nginx is not installed (.ci/run installs it)');

describe.skipIf(NGINX === undefined)('a fleet of three behind nginx', () => {
  it('restarts every instance in turn under load with no failed request and no lost upload', async () => {
    const owner = await createAccount(db, 'fleet');
    const account = { sid: owner.sid, basic: basicAuth(owner.sid, owner.auth_token) };
    await fetch(`${base}/v1/accounts/${account.sid}/settings/media-protection`, {
      method: 'PATCH',
      headers: { Authorization: account.basic, 'Content-Type': 'application/json' },
      body: JSON.stringify({ recording: true }),
    });
    const first = await fetch(`${base}/v1/accounts/${account.sid}/media?kind=recording`, {
      method: 'POST',
      headers: { Authorization: account.basic, 'Content-Type': 'text/plain' },
      body: 'protected',
    });
    const mediaUrl = ((await first.json()) as { url: string }).url;

    const load = steadyLoad(account, mediaUrl, 3, 2);
    const exits: string[] = [];
    for (let i = 0; i < 3; i++) {
      const old = instances[i]!;
      // Let the load reach every instance before this one goes.
      const before = load.outcome.ok;
      await until(() => load.outcome.ok >= before + 50);
      const signalledAt = performance.now();
      old.child.kill('SIGTERM');
      while ((await readyStatus(ports[i]!)) !== 503 && old.child.exitCode === null);
      const code = await old.exited;
      const tookMillis = performance.now() - signalledAt;
      const allowed = DELAY_SECONDS * 1000 + longestRequestMillis(old) + 1000;
      exits.push(`instance ${i}: exit ${code} after ${tookMillis.toFixed(0)} ms (allowed ${allowed.toFixed(0)} ms)`);
      expect(code).toBe(0);
      expect(tookMillis).toBeLessThan(allowed);
      // As docs/operations.md says: the next instance goes only once nginx sends traffic
      // to this one again (it keeps a refusing instance aside for fail_timeout).
      const back = await startInstance(i);
      await until(() => back.stdout().includes(`"route":"getMediaUrl","account":"${account.sid}"`));
    }
    const outcome = await load.stop();
    const errors = await readFile(path.join(work, 'nginx/error.log'), 'utf8').catch(() => '');
    if (outcome.failed.length) await writeFile(`/work/nginx-errors-${Date.now()}.log`, errors + '\n----\n' + outcome.failed.join('\n') + '\n----\n' + instances.map((s, i) => `instance ${i}:\n` + s.stderr()).join('\n'));
    console.log(`rolling restart: ${outcome.ok} answered, ${outcome.failed.length} failed, ${outcome.uploads.length} uploads; ${exits.join('; ')}`);
    expect(outcome.failed, outcome.failed.join('\n')).toEqual([]);
    expect(outcome.uploads.length).toBeGreaterThan(10);

    // Every upload answered 201 is there, byte for byte.
    for (const u of outcome.uploads) {
      const res = await fetch(`${base}/v1/accounts/${account.sid}/media/${u.sid}`, { headers: { Authorization: account.basic }, redirect: 'manual' });
      expect(res.status).toBe(302);
      const bytes = Buffer.from(await (await fetch(res.headers.get('location')!)).arrayBuffer());
      expect(sha256(bytes)).toBe(u.sha256);
    }
  }, 180_000);

  /** A key warmed on every instance, deleted through the first: ms until each refuses it. */
  async function revocationDelays(): Promise<number[]> {
    const owner = await createAccount(db, 'revoke');
    const ownerAuth = basicAuth(owner.sid, owner.auth_token);
    const created = await fetch(`${base}/v1/accounts/${owner.sid}/keys`, {
      method: 'POST',
      headers: { Authorization: ownerAuth, 'Content-Type': 'application/json' },
      body: '{"name":"k"}',
    });
    const key = (await created.json()) as { sid: string; secret: string };
    const keyAuth = basicAuth(key.sid, key.secret);
    const listOn = (port: number) => fetch(`http://127.0.0.1:${port}/v1/accounts/${owner.sid}/media`, { headers: { Authorization: keyAuth } }).then((r) => r.status);
    for (const port of ports) expect(await listOn(port)).toBe(200);
    const deleted = await fetch(`http://127.0.0.1:${ports[0]}/v1/accounts/${owner.sid}/keys/${key.sid}`, { method: 'DELETE', headers: { Authorization: ownerAuth } });
    expect(deleted.status).toBe(204);
    const at = performance.now();
    return Promise.all(
      ports.map(async (port) => {
        while ((await listOn(port)) !== 401) if (performance.now() - at > 5000) return Infinity;
        return performance.now() - at;
      }),
    );
  }

  it('revokes on every instance within a second, also right after PostgreSQL restarts, and /readyz says 503 meanwhile', async () => {
    const before = await revocationDelays();
    console.log(`revocation reached the three instances after ${before.map((d) => d.toFixed(0)).join(', ')} ms`);
    for (const d of before) expect(d).toBeLessThan(1000);

    await pg.stop();
    for (const port of ports) {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(res.status).toBe(503);
      const checks = ((await res.json()) as { checks: Record<string, { ok: boolean }> }).checks;
      expect(checks.database!.ok).toBe(false);
    }
    pg = await openEmbeddedPostgres(path.join(work, 'pg'), { port: pgPort });
    // Right away: the instances' LISTEN connections may still be reconnecting.
    const after = await revocationDelays();
    console.log(`right after a PostgreSQL restart: ${after.map((d) => d.toFixed(0)).join(', ')} ms`);
    for (const d of after) expect(d).toBeLessThan(1000);
    for (const port of ports) while ((await readyStatus(port)) !== 200);
  }, 60_000);

  it('answers /readyz 503 naming the object store on every instance while S3 is down, and 200 once it is back', async () => {
    await s3.close();
    for (const port of ports) {
      for (;;) {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        const body = (await res.json()) as { checks: Record<string, { ok: boolean }> };
        if (res.status === 503 && !body.checks.object_store!.ok) break;
      }
    }
    s3 = await startS3();
    for (const port of ports) while ((await readyStatus(port)) !== 200);
  }, 60_000);

  it('runs two gc at once deleting each orphan once', async () => {
    const store = createS3Store({ bucket: BUCKET, region: 'us-east-1', endpoint: env.S3_ENDPOINT, forcePathStyle: true, credentials: S3_CREDENTIALS });
    const owner = await createAccount(db, 'gc');
    const keys = Array.from({ length: 80 }, () => `${owner.sid}/ME${randomBytes(16).toString('hex')}`);
    await Promise.all(keys.map((k) => store.put(k, Readable.from([Buffer.from('orphan')]), 'text/plain', 100)));
    await store.close();
    const runs = await Promise.all([runCli(['gc', '--grace-seconds', '0'], env), runCli(['gc', '--grace-seconds', '0'], env)]);
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const removed = runs.flatMap((r) => (JSON.parse(r.stdout) as { removed_objects?: string[] }).removed_objects ?? []);
    expect(removed.filter((k) => k.startsWith(owner.sid)).sort()).toEqual([...keys].sort());
  }, 60_000);
});
