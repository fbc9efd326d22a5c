// PostgreSQL refuses to run as root; as root, the embedded cluster runs as the
// `postgres` user, which must reach the binaries and the data. A checkout or data
// directory under a private (0700) directory, as root's home or `mktemp -d` makes, is
// the hard case: `npm start` and `npm test` go through the same code for it.
import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openEmbeddedPostgres } from '../../src/db/embedded.js';

const isRoot = userInfo().uid === 0;
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe.skipIf(!isRoot)('the embedded cluster, run as root', () => {
  it('starts under a chmod 700 parent, and says which directories it opened for the postgres user', async () => {
    const outer = await mkdtemp(path.join(tmpdir(), 'mg-private-'));
    cleanups.push(() => rm(outer, { recursive: true, force: true }));
    const privateDir = path.join(outer, 'home');
    await mkdir(privateDir, { mode: 0o700 });
    await chmod(outer, 0o700);
    const lines: string[] = [];
    const embedded = await openEmbeddedPostgres(path.join(privateDir, 'data', 'postgres'), { log: (m) => lines.push(m) });
    cleanups.push(() => embedded.stop());

    const client = new pg.Client({ connectionString: embedded.url });
    await client.connect();
    expect((await client.query('SELECT current_user AS u')).rows[0].u).toBe('mediagate');
    await client.end();
    // Search permission only, and said: the private directories and nothing more.
    const granted = lines.find((l) => l.includes('granted search permission (o+x)'));
    expect(granted).toContain(privateDir);
    expect(granted).toContain(outer);
    expect((await stat(privateDir)).mode & 0o777).toBe(0o701);
  });
});
