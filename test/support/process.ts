import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { inject } from 'vitest';
import { findFreePort } from '../../src/db/embedded.js';
import { BIN } from './cli.js';

export interface ServeProcess {
  child: ChildProcess;
  baseUrl: string;
  port: number;
  dataDir: string;
  env: Record<string, string>;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/**
 * `mediagate serve` as a real process, resolved once it says it listens. With `cwd`
 * and no dataDir it runs as `npm start` does in a checkout: no DATA_DIR, so ./data.
 */
export async function spawnServe(
  env: Record<string, string> = {},
  options: { dataDir?: string; port?: number; cwd?: string } = {},
): Promise<ServeProcess> {
  const port = options.port ?? (await findFreePort());
  const dataDir = options.dataDir ?? (options.cwd ? path.join(options.cwd, 'data') : await mkdtemp(path.join(tmpdir(), 'mg-serve-')));
  const fullEnv: Record<string, string> = {
    PATH: process.env.PATH!,
    HOME: process.env.HOME ?? '/tmp',
    ...(process.env.TMPDIR && { TMPDIR: process.env.TMPDIR }),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    PORT: String(port),
    // No delay before draining unless a test asks for one: it would only slow the suite.
    SHUTDOWN_DELAY_SECONDS: '0',
    ...(options.cwd && !options.dataDir ? {} : { DATA_DIR: dataDir }),
    ...env,
  };
  const child = spawn(process.execPath, [BIN, 'serve'], { cwd: options.cwd, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  const exited = exitedWithOutput(child);
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (c) => {
      stderr += c;
      if (stderr.includes('mediagate listening on')) resolve();
    });
    void exited.then((code) => reject(new Error(`serve exited (${code}) before listening: ${stderr}${stdout}`)));
  });
  return { child, baseUrl: `http://127.0.0.1:${port}`, port, dataDir, env: fullEnv, stdout: () => stdout, stderr: () => stderr, exited };
}

/** A field of /proc/<pid>/status in KiB (VmRSS: resident now; VmHWM: the peak so far). */
export async function procStatusKib(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]);
}

/** What points a `mediagate` process (serve, or a command) at the shared test PostgreSQL and S3 server. */
export function sharedStoresEnv(): Record<string, string> {
  return {
    DATABASE_URL: inject('databaseUrl'),
    S3_BUCKET: inject('s3Bucket'),
    S3_ENDPOINT: inject('s3Endpoint'),
    S3_FORCE_PATH_STYLE: '1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
  };
}

/**
 * The exit status, once the output is read too: 'exit' can come before the last lines
 * in the pipe (workers share it, and write theirs at their own exit). A reader that
 * stopped reading gets the status after 2 s anyway.
 */
function exitedWithOutput(child: ChildProcess): Promise<number | null> {
  const ended = (stream: Readable | null) => (stream && !stream.readableEnded ? new Promise<void>((done) => stream.once('end', done)) : undefined);
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      const timer = setTimeout(() => resolve(code), 2000);
      void Promise.all([ended(child.stdout), ended(child.stderr)]).then(() => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  });
}

/** SIGTERM unless it has exited already; resolves once it has. */
export async function stopServe(serve: ServeProcess | undefined): Promise<void> {
  if (!serve) return;
  if (serve.child.exitCode === null) serve.child.kill('SIGTERM');
  await serve.exited;
}

/**
 * A POST whose body arrives in pieces, `delayMillis` apart. It asks for 100 Continue:
 * the chunks start once the service is reading, after `onReading` ran.
 */
export function slowUpload(
  url: string,
  auth: string,
  chunks: Buffer[],
  delayMillis: number,
  onReading: () => void = () => {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/octet-stream', Expect: '100-continue' } },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.on('continue', () => {
      onReading();
      (async () => {
        for (const c of chunks) {
          req.write(c);
          await new Promise((r) => setTimeout(r, delayMillis));
        }
        req.end();
      })().catch(reject);
    });
  });
}
