// Start-up failures name the part at fault in one line, and a busy port is found
// before anything is created. Real `mediagate serve` processes.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { findFreePort } from '../../src/db/embedded.js';
import { runCli } from '../support/cli.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const dataDir = async () => {
  const d = await mkdtemp(path.join(tmpdir(), 'mg-startup-'));
  dirs.push(d);
  return d;
};

describe('mediagate serve at start-up', () => {
  it('names the database, without its password, when it cannot be reached', async () => {
    const port = await findFreePort();
    const r = await runCli(['serve'], { DATABASE_URL: `postgres://me:hunter2secret@127.0.0.1:${port}/x`, DATA_DIR: await dataDir(), PORT: String(await findFreePort()) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^mediagate: database: .*ECONNREFUSED.*\\(postgres://me:\\*\\*\\*@127\\.0\\.0\\.1:${port}/x\\)`, 'm'));
    expect(r.stderr + r.stdout).not.toContain('hunter2secret');
  });

  it('finds a busy port at once, before an embedded database is created', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    const dir = await dataDir();
    try {
      const r = await runCli(['serve'], { DATA_DIR: dir, PORT: String(port) });
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(`mediagate: port ${port}: is in use on 127.0.0.1 (another process listens there)`);
      expect(existsSync(path.join(dir, 'postgres'))).toBe(false);
    } finally {
      busy.close();
    }
  });

  it('names the object store when it refuses to work without credentials', async () => {
    const r = await runCli(['serve'], {
      DATABASE_URL: inject('databaseUrl'),
      S3_BUCKET: inject('s3Bucket'),
      S3_ENDPOINT: inject('s3Endpoint'),
      PORT: String(await findFreePort()),
      // No credentials anywhere in the SDK's chain (and no instance metadata to ask).
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_EC2_METADATA_DISABLED: 'true',
      HOME: await dataDir(),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^mediagate: object store: .*credentials/im);
  });
});
