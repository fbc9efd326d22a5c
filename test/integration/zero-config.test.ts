import { type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../../src/db/embedded.js';
import { curl, runCli } from '../support/cli.js';
import { sha256 } from '../support/media.js';
import { spawnServe } from '../support/process.js';
import { basicAuth } from '../support/service.js';

/** `mediagate serve` (what `npm start` runs) in dir, with no configuration but a free port. */
const startServe = (dir: string, port: number) => spawnServe({}, { cwd: dir, port });

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

describe('npm start with no configuration', () => {
  it('serves the quick start with embedded PostgreSQL and the local store, and keeps data across restarts', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mg-zero-'));
    const port = await findFreePort();
    const base = `http://127.0.0.1:${port}`;
    const cli = (...args: string[]) => runCli(args, { PORT: String(port) }, dir);

    let serve = await startServe(dir, port);
    children.push(serve.child);
    expect(serve.stderr()).toContain(`mediagate listening on http://127.0.0.1:${port}`);
    expect(serve.stderr()).toMatch(/database: embedded PostgreSQL in .*data\/postgres/);
    expect(serve.stderr()).toMatch(/store: +local disk at .*data\/objects/);
    expect(serve.stderr()).toContain('npx mediagate accounts create --name me');
    expect(serve.stderr()).not.toMatch(/postgres:\/\/[^:]+:[^*@]+@/); // no password

    // The CLI, while the service runs, uses the same embedded cluster.
    const created = await cli('accounts', 'create', '--name', 'me');
    expect(created.code).toBe(0);
    const account = JSON.parse(created.stdout) as { sid: string; auth_token: string };
    const auth = basicAuth(account.sid, account.auth_token);
    const status = await cli('migrate', 'status');
    expect(status.code).toBe(0);
    expect(status.stdout).not.toContain('pending');

    const legacyBytes = randomBytes(2048);
    const up1 = await fetch(`${base}/v1/accounts/${account.sid}/media?kind=message&filename=old.jpg`, {
      method: 'POST',
      headers: { Authorization: auth, 'Content-Type': 'image/jpeg' },
      body: legacyBytes,
    });
    expect(up1.status).toBe(201);
    const legacy = (await up1.json()) as { url: string };

    const patch = await fetch(`${base}/v1/accounts/${account.sid}/settings/media-protection`, {
      method: 'PATCH',
      headers: { Authorization: auth, 'Content-Type': 'application/json' },
      body: '{"message": true}',
    });
    expect(patch.status).toBe(200);

    const bytes = randomBytes(4096);
    const up2 = await fetch(`${base}/v1/accounts/${account.sid}/media?kind=message&filename=new.jpg`, {
      method: 'POST',
      headers: { Authorization: auth, 'Content-Type': 'image/jpeg' },
      body: bytes,
    });
    const protectedMedia = (await up2.json()) as { url: string; sha256: string };

    expect((await fetch(protectedMedia.url, { redirect: 'manual' })).status).toBe(401);
    expect(Buffer.from(await (await fetch(legacy.url)).arrayBuffer()).equals(legacyBytes)).toBe(true);
    const viaFetch = await fetch(protectedMedia.url, { headers: { Authorization: auth } });
    expect(new URL(viaFetch.url).pathname).toMatch(/^\/v1\/blobs\//);
    expect(Buffer.from(await viaFetch.arrayBuffer()).equals(bytes)).toBe(true);
    const viaCurl = await curl(protectedMedia.url, { sid: account.sid, authToken: account.auth_token });
    expect(sha256(viaCurl)).toBe(protectedMedia.sha256);

    // SIGTERM: exits 0 and stops the embedded cluster it started.
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    expect(existsSync(path.join(dir, 'data/postgres/postmaster.pid'))).toBe(false);

    // A restart keeps accounts and media, and no longer suggests creating an account.
    serve = await startServe(dir, port);
    children.push(serve.child);
    expect(serve.stderr()).not.toContain('accounts create');
    const again = await fetch(protectedMedia.url, { headers: { Authorization: auth } });
    expect(Buffer.from(await again.arrayBuffer()).equals(bytes)).toBe(true);

    // kill -9 leaves the postmaster orphaned; the next start takes it over and still works.
    const pid = Number((await readFile(path.join(dir, 'data/postgres/postmaster.pid'), 'utf8')).split('\n')[0]);
    serve.child.kill('SIGKILL');
    await serve.exited;
    serve = await startServe(dir, port);
    children.push(serve.child);
    expect(serve.stderr()).toContain('started by this process');
    const newPid = Number((await readFile(path.join(dir, 'data/postgres/postmaster.pid'), 'utf8')).split('\n')[0]);
    expect(newPid).not.toBe(pid);
    expect((await fetch(legacy.url)).status).toBe(200);
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  }, 240_000);

  it('starts despite a stale postmaster.pid whose PID now belongs to another process', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mg-stale-'));
    const port = await findFreePort();
    let serve = await startServe(dir, port);
    children.push(serve.child);
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    // What a container restart leaves: the lock file of a dead server, naming a PID that
    // is alive again as something else (here: this test process).
    const { writeFile } = await import('node:fs/promises');
    await writeFile(
      path.join(dir, 'data/postgres/postmaster.pid'),
      `${process.pid}\n${path.join(dir, 'data/postgres')}\n1700000000\n${port + 1}\n\n127.0.0.1\n  5432001  32768\nready   \n`,
    );
    serve = await startServe(dir, port);
    children.push(serve.child);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  }, 120_000);
});
