import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate, migrationStatus, MigrationError, MIGRATIONS_DIR, readMigrations } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { createScratchDatabase, runCli } from '../support/cli.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function scratch() {
  const db = await createScratchDatabase();
  cleanups.push(db.drop);
  return db.url;
}

describe('mediagate migrate', () => {
  it('applies every migration in order, then finds nothing to apply', async () => {
    const url = await scratch();
    const files = await readMigrations();
    const first = await runCli(['migrate'], { DATABASE_URL: url });
    expect(first.code).toBe(0);
    expect(first.stdout.trim().split('\n')).toEqual(files.map((f) => `applied ${f.name}`));
    const second = await runCli(['migrate'], { DATABASE_URL: url });
    expect(second.code).toBe(0);
    expect(second.stdout).toBe('nothing to apply\n');
  });

  it('lists applied and pending migrations with `migrate status`', async () => {
    const url = await scratch();
    const files = await readMigrations();
    const before = await runCli(['migrate', 'status'], { DATABASE_URL: url });
    expect(before.code).toBe(0);
    expect(before.stdout.trim().split('\n')).toEqual(files.map((f) => `pending  ${f.name}`));
    await runCli(['migrate'], { DATABASE_URL: url });
    const after = await runCli(['migrate', 'status'], { DATABASE_URL: url });
    expect(after.stdout.trim().split('\n').map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual(
      files.map((f) => `applied ${f.name}`),
    );
  });

  it('applies each file once when two processes migrate at the same moment', async () => {
    const url = await scratch();
    const [a, b] = await Promise.all([runCli(['migrate'], { DATABASE_URL: url }), runCli(['migrate'], { DATABASE_URL: url })]);
    expect([a.code, b.code, a.stderr + b.stderr]).toEqual([0, 0, '']);
    const files = await readMigrations();
    // Between them, every file was applied exactly once.
    const applied = [...a.stdout.split('\n'), ...b.stdout.split('\n')].filter((l) => l.startsWith('applied '));
    expect(applied.sort()).toEqual(files.map((f) => `applied ${f.name}`).sort());
    const pool = createPool(url);
    try {
      const { rows } = await pool.query('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(files.map((f) => f.version));
    } finally {
      await pool.end();
    }
  });

  it('refuses a migration file changed after it was applied', async () => {
    const url = await scratch();
    const dir = await mkdtemp(path.join(tmpdir(), 'mg-migrations-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await cp(new URL(MIGRATIONS_DIR).pathname, dir, { recursive: true });
    const dirUrl = pathToFileURL(`${dir}/`);
    const pool = createPool(url);
    cleanups.push(() => pool.end());
    await migrate(pool, await readMigrations(dirUrl));

    const file = path.join(dir, '0002-create-media.sql');
    await writeFile(file, `${await readFile(file, 'utf8')}\n-- edited\n`);
    const changed = await readMigrations(dirUrl);
    await expect(migrate(pool, changed)).rejects.toThrow(MigrationError);
    await expect(migrate(pool, changed)).rejects.toThrow(/0002-create-media\.sql was changed after it was applied/);
    await expect(migrationStatus(pool, changed)).rejects.toThrow(/changed after it was applied/);
  });

  it('rolls back a failing migration and records nothing for it', async () => {
    const url = await scratch();
    const dir = await mkdtemp(path.join(tmpdir(), 'mg-migrations-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(path.join(dir, '0001-good.sql'), 'CREATE TABLE good (id int);');
    await writeFile(path.join(dir, '0002-bad.sql'), 'CREATE TABLE half (id int); SELECT * FROM missing_table;');
    const pool = createPool(url);
    cleanups.push(() => pool.end());
    await expect(migrate(pool, await readMigrations(pathToFileURL(`${dir}/`)))).rejects.toThrow(/0002-bad\.sql failed/);
    const { rows } = await pool.query("SELECT to_regclass('half') AS half, to_regclass('good') AS good");
    expect(rows[0]).toEqual({ half: null, good: 'good' });
    const status = await migrationStatus(pool, await readMigrations(pathToFileURL(`${dir}/`)));
    expect(status.pending.map((p) => p.name)).toEqual(['0002-bad.sql']);
  });
});
