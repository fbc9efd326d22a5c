/**
 * The container image: built from the Dockerfile with podman, then run zero-config on a
 * volume (media kept across a restart), and against an outside PostgreSQL and S3 server;
 * `podman stop` must drain and exit 0, as a non-root user.
 *
 * Named *.spec.ts, not *.test.ts, so that `npm test` leaves it out: it is slow and needs
 * root, podman and the base image. scripts/ci-image.sh runs it (vitest.image.config.ts).
 * It removes every container, volume and image it made, and its temporary directories.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort, openEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded.js';
import { sha256 } from '../support/media.js';
import { GLOBAL_FLAGS, podman, podmanQuietly, podmanResult, run, RUN_FLAGS } from './podman.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const UNIQUE = `${process.pid}-${Date.now().toString(36)}`;
const IMAGE = `localhost/mediagate-image-test:${UNIQUE}`;
const BUCKET = 'mediagate-image-test';
const UID = '10001';

const containers: string[] = [];
const volumes: string[] = [];
let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'mediagate-image-test-'));
  // --pull=never: CI has no registry; scripts/ci-image.sh made the base image. docker
  // format: OCI image configs have no HEALTHCHECK. --layers=false: nothing of the build
  // is left behind once its image is removed.
  const args = ['build', '--pull=never', ...RUN_FLAGS, '--format', 'docker', '--layers=false', '--tag', IMAGE];
  // npm inside the build trusts what node on this machine trusts (CI's TLS-intercepting
  // proxy), through the Dockerfile's optional `npm_ca` secret.
  const ca = process.env.NODE_EXTRA_CA_CERTS;
  if (ca && existsSync(ca)) args.push('--secret', `id=npm_ca,src=${ca}`);
  const started = Date.now();
  await podman([...args, ROOT], { timeoutMillis: 20 * 60_000 });
  const size = Number((await podman(['image', 'inspect', '--format', '{{.Size}}', IMAGE])).trim());
  console.log(`image ${IMAGE} built in ${seconds(Date.now() - started)} s; size ${(size / 1e6).toFixed(1)} MB`);
});

afterAll(async () => {
  for (const c of containers) await podmanQuietly(['rm', '--force', '--volumes', '--time', '0', c]);
  for (const v of volumes) await podmanQuietly(['volume', 'rm', '--force', v]);
  await podmanQuietly(['rmi', '--force', IMAGE]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the container image', () => {
  it('runs `mediagate serve` as a non-root user with /data as a volume, a health check, and no build tools', async () => {
    const [config] = JSON.parse(await podman(['image', 'inspect', IMAGE])) as ImageInspect[];
    expect(config!.Config.User).toBe(`${UID}:${UID}`);
    expect(Object.keys(config!.Config.Volumes ?? {})).toEqual(['/data']);
    expect(config!.Config.StopSignal).toBe('SIGTERM');
    expect([...config!.Config.Entrypoint, ...config!.Config.Cmd]).toEqual(['mediagate', 'serve']);
    expect(config!.Config.Env).toEqual(expect.arrayContaining(['HOST=0.0.0.0', 'DATA_DIR=/data', 'PUBLIC_BASE_URL=http://localhost:8080']));
    expect(config!.Healthcheck?.Test.join(' ')).toMatch(/node .*process\.env\.PORT.*\/healthz/);

    const probe = await podman([
      'run', '--rm', ...RUN_FLAGS, '--entrypoint', 'sh', IMAGE, '-c',
      'id -u; for t in npm npx tsc gcc cc make curl; do command -v $t; done; ls /app; ls /app/node_modules | grep -x -e typescript -e vitest -e s3rver; true',
    ]);
    expect(probe.trim().split('\n')).toEqual([UID, 'bin', 'console', 'dist', 'migrations', 'node_modules', 'package.json']);
  });

  it('zero-config: serves from the /data volume, keeps media across a restart, drains on SIGTERM', async () => {
    const volume = `mediagate-image-test-${UNIQUE}`;
    volumes.push(volume);
    await podman(['volume', 'create', volume]);
    const port = await findFreePort();
    const base = `http://127.0.0.1:${port}`;
    // The default SHUTDOWN_DELAY_SECONDS (5) here.
    const name = await startContainer('zero-config', { PORT: String(port), PUBLIC_BASE_URL: base }, ['--volume', `${volume}:/data`]);
    await diagnosed(name, async () => {
      await waitUntilServing(name, base);
      await expectNotRoot(name);
      // The image's HEALTHCHECK, run on demand (no systemd timers here to run it).
      await podman(['healthcheck', 'run', name]);

      const account = await createAccount(name);
      const file = path.join(work, 'zero-config.bin');
      const bytes = randomBytes(300_000);
      await writeFile(file, bytes);
      const media = await upload(base, account, file);
      expect(media.url.startsWith(`${base}/`)).toBe(true);
      expect(await download(account, media.url)).toEqual({ sha256: sha256(bytes), from: expect.stringContaining(base) });

      const stop = await stopAndTime(name, base);
      expect(stop.exitCode).toBe(0);
      expect(stop.readyzDuringDelay).toBe(503);
      expect(stop.seconds).toBeGreaterThanOrEqual(4.5);
      expect(stop.seconds).toBeLessThan(5 + 5);

      await podman(['start', name]);
      starts.set(name, 2);
      await waitUntilServing(name, base);
      expect((await download(account, media.url)).sha256).toBe(sha256(bytes));
      const again = await stopAndTime(name, base);
      expect(again.exitCode).toBe(0);
    });
  });

  it('uses the PostgreSQL and S3 server it is given (DATABASE_URL, S3_*, AWS_*)', async () => {
    const external = await startPostgresAndS3();
    try {
      const port = await findFreePort();
      const base = `http://127.0.0.1:${port}`;
      const name = await startContainer('external', {
        PORT: String(port),
        PUBLIC_BASE_URL: base,
        DATABASE_URL: external.databaseUrl,
        S3_BUCKET: BUCKET,
        S3_ENDPOINT: external.s3Endpoint,
        S3_REGION: 'us-east-1',
        S3_FORCE_PATH_STYLE: 'true',
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
        SHUTDOWN_DELAY_SECONDS: '1',
      });
      await diagnosed(name, async () => {
        await waitUntilServing(name, base);
        const logs = await podmanResult(['logs', name]);
        expect(logs.stdout + logs.stderr).toContain(`S3 bucket ${BUCKET} at ${external.s3Endpoint}`);
        expect(logs.stdout + logs.stderr).not.toContain('embedded PostgreSQL');
        await expectNotRoot(name);

        const account = await createAccount(name);
        const file = path.join(work, 'external.bin');
        const bytes = randomBytes(300_000);
        await writeFile(file, bytes);
        const media = await upload(base, account, file);
        // curl follows the 302 to the S3 server's presigned URL.
        expect(await download(account, media.url)).toEqual({ sha256: sha256(bytes), from: expect.stringContaining(external.s3Endpoint) });

        const stop = await stopAndTime(name, base);
        expect(stop.exitCode).toBe(0);
        expect(stop.seconds).toBeLessThan(1 + 4);
      });
    } finally {
      await external.stop();
    }
  });
});

interface ImageInspect {
  Config: { User: string; Volumes?: Record<string, object>; StopSignal: string; Entrypoint: string[]; Cmd: string[]; Env: string[] };
  Healthcheck?: { Test: string[] };
}

interface Account {
  sid: string;
  auth_token: string;
}

async function startContainer(label: string, env: Record<string, string>, extra: string[] = []): Promise<string> {
  const name = `mediagate-image-test-${label}-${UNIQUE}`;
  containers.push(name);
  const envArgs = Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  await podman(['run', '--detach', '--name', name, ...RUN_FLAGS, ...envArgs, ...extra, IMAGE]);
  return name;
}

/** Runs the checks; on failure, adds the container's output to the error. */
async function diagnosed(name: string, checks: () => Promise<void>): Promise<void> {
  try {
    await checks();
  } catch (err) {
    const logs = await podmanResult(['logs', '--tail', '40', name]).catch(() => undefined);
    console.error(`${name} printed:\n${logs?.stdout ?? ''}${logs?.stderr ?? ''}`);
    throw err;
  }
}

/** How many times each container was started: its log then holds as many "listening" lines. */
const starts = new Map<string, number>();

/**
 * Resolves once the container's latest start says it listens (its log followed, not
 * polled), then once /readyz answers 200 (asked until it does: the test's timeout
 * bounds it). Rejects if the container stops first.
 */
async function waitUntilServing(name: string, base: string): Promise<void> {
  const expected = starts.get(name) ?? 1;
  const logs = spawn('podman', [...GLOBAL_FLAGS, 'logs', '--follow', name], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      const read = (chunk: Buffer) => {
        seen += chunk;
        if (seen.split('mediagate listening on').length - 1 >= expected) resolve();
      };
      logs.stdout.on('data', read);
      logs.stderr.on('data', read);
      logs.on('error', reject);
      logs.on('close', () => reject(new Error(`${name} stopped before it listened:\n${seen.slice(-4000)}`)));
    });
  } finally {
    logs.kill();
  }
  while ((await fetch(`${base}/readyz`).then((r) => r.status, () => 0)) !== 200);
}

/** Every process in the container (node, and the embedded PostgreSQL's) runs as the image's user. */
async function expectNotRoot(name: string): Promise<void> {
  const users = (await podman(['top', name, 'huser'])).trim().split('\n').slice(1).map((l) => l.trim());
  expect(users.length).toBeGreaterThan(0);
  expect(new Set(users)).toEqual(new Set([UID]));
  expect((await podman(['exec', name, 'id', '-u'])).trim()).toBe(UID);
}

async function createAccount(name: string): Promise<Account> {
  const out = await podman(['exec', name, 'mediagate', 'accounts', 'create', '--name', 'image-test']);
  return JSON.parse(out) as Account;
}

async function upload(base: string, account: Account, file: string): Promise<{ sid: string; url: string }> {
  const r = await run('curl', [
    '-sS', '--fail-with-body', '-u', `${account.sid}:${account.auth_token}`, '-H', 'Content-Type: image/png',
    '--data-binary', `@${file}`, `${base}/v1/accounts/${account.sid}/media?kind=message`,
  ]);
  if (r.code !== 0) throw new Error(`upload failed (curl ${r.code}): ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as { sid: string; url: string };
}

/** curl -L -u, as a client would; the sha256 of what arrived and the URL it came from. */
async function download(account: Account, url: string): Promise<{ sha256: string; from: string }> {
  const out = path.join(work, `download-${randomBytes(4).toString('hex')}`);
  const r = await run('curl', ['-sS', '--fail', '-L', '-u', `${account.sid}:${account.auth_token}`, '-o', out, '-w', '%{url_effective}', url]);
  if (r.code !== 0) throw new Error(`download failed (curl ${r.code}): ${r.stderr}`);
  const bytes = await readFile(out);
  await rm(out);
  return { sha256: sha256(bytes), from: r.stdout };
}

/**
 * `podman stop` (SIGTERM; SIGKILL only after 60 s, which would show as exit 137): how
 * long it took, the exit status, and what /readyz said meanwhile.
 */
async function stopAndTime(name: string, base: string): Promise<{ seconds: number; exitCode: number; readyzDuringDelay: number | undefined }> {
  const started = Date.now();
  const stopping = podman(['stop', '--time', '60', name]);
  // Asked until it is no longer 200: 503 during the delay, or no answer once it has exited.
  let readyzDuringDelay: number | undefined = 200;
  while (readyzDuringDelay === 200) readyzDuringDelay = await fetch(`${base}/readyz`).then((r) => r.status, () => undefined);
  await stopping;
  const seconds = (Date.now() - started) / 1000;
  const exitCode = Number((await podman(['inspect', '--format', '{{.State.ExitCode}}', name])).trim());
  console.log(`${name}: podman stop took ${seconds.toFixed(1)} s, exit status ${exitCode}`);
  return { seconds, exitCode, readyzDuringDelay };
}

/** A PostgreSQL and an S3 server on this machine, on free ports of 127.0.0.1. */
async function startPostgresAndS3(): Promise<{ databaseUrl: string; s3Endpoint: string; stop: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mediagate-image-test-services-'));
  let postgres: EmbeddedPostgres | undefined;
  let s3: S3rver | undefined;
  const stop = async () => {
    await s3?.close().catch(() => {});
    await postgres?.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  try {
    postgres = await openEmbeddedPostgres(path.join(dir, 'postgres'));
    const s3Port = await findFreePort();
    s3 = new S3rver({ port: s3Port, address: '127.0.0.1', directory: path.join(dir, 's3'), silent: true, configureBuckets: [{ name: BUCKET, configs: [] }] });
    await s3.run();
    return { databaseUrl: postgres.url, s3Endpoint: `http://127.0.0.1:${s3Port}`, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(0);
}
