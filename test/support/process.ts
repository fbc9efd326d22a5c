import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
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
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (c) => {
      stderr += c;
      if (stderr.includes('mediagate listening on')) resolve();
    });
    void exited.then((code) => reject(new Error(`serve exited (${code}) before listening: ${stderr}${stdout}`)));
  });
  return { child, baseUrl: `http://127.0.0.1:${port}`, port, dataDir, env: fullEnv, stdout: () => stdout, stderr: () => stderr, exited };
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
