import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { checkout, type Db } from './pool.js';

export const MIGRATIONS_DIR = new URL('../../migrations/', import.meta.url);

// Any constant works; it only has to be the same for every host running `migrate`.
const MIGRATION_LOCK_KEY = 0x6d656469; // "medi"

export interface MigrationFile {
  version: string;
  name: string;
  checksum: string;
  sql: string;
}

export interface MigrationStatus {
  applied: { version: string; name: string; appliedAt: Date }[];
  pending: { version: string; name: string }[];
}

export class MigrationError extends Error {}

export async function readMigrations(dir: URL | string = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
  const files: MigrationFile[] = [];
  for (const name of names) {
    const match = /^(\d{4})-[a-z0-9-]+\.sql$/.exec(name);
    if (!match) throw new MigrationError(`migration file name ${name} is not NNNN-name.sql`);
    const sql = await readFile(new URL(name, dir), 'utf8');
    const checksum = createHash('sha256').update(sql).digest('hex');
    files.push({ version: match[1]!, name, checksum, sql });
  }
  const versions = new Set(files.map((f) => f.version));
  if (versions.size !== files.length) throw new MigrationError('two migration files share a number');
  return files;
}

const CREATE_TABLE = `
  CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`;

interface AppliedRow {
  version: string;
  name: string;
  checksum: string;
  applied_at: Date;
}

function checkUnchanged(files: MigrationFile[], applied: AppliedRow[]): void {
  const byVersion = new Map(files.map((f) => [f.version, f]));
  for (const row of applied) {
    const file = byVersion.get(row.version);
    if (!file) {
      throw new MigrationError(`migration ${row.name} is applied but its file is missing; fix forward with a new file`);
    }
    if (file.checksum !== row.checksum) {
      throw new MigrationError(
        `migration ${row.name} was changed after it was applied (checksum differs); applied migrations are never edited, add a new one`,
      );
    }
  }
}

/**
 * Applies pending migrations in order, each in its own transaction. A session-level
 * advisory lock serialises concurrent runs from several hosts: the second waits, then
 * finds nothing left to do.
 */
export async function migrate(db: Db, files?: MigrationFile[]): Promise<string[]> {
  const migrations = files ?? (await readMigrations());
  const client = await checkout(db);
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(CREATE_TABLE);
      const { rows } = await client.query<AppliedRow>('SELECT version, name, checksum, applied_at FROM schema_migrations');
      checkUnchanged(migrations, rows);
      const done = new Set(rows.map((r) => r.version));
      const appliedNow: string[] = [];
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
            m.version,
            m.name,
            m.checksum,
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new MigrationError(`migration ${m.name} failed: ${(err as Error).message}`);
        }
        appliedNow.push(m.name);
      }
      return appliedNow;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

export async function migrationStatus(db: Db, files?: MigrationFile[]): Promise<MigrationStatus> {
  const migrations = files ?? (await readMigrations());
  const { rows } = await db.query<{ exists: boolean }>("SELECT to_regclass('schema_migrations') IS NOT NULL AS exists");
  const applied = rows[0]?.exists
    ? (await db.query<AppliedRow>('SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version')).rows
    : [];
  checkUnchanged(migrations, applied);
  const done = new Set(applied.map((r) => r.version));
  return {
    applied: applied.map((r) => ({ version: r.version, name: r.name, appliedAt: r.applied_at })),
    pending: migrations.filter((m) => !done.has(m.version)).map((m) => ({ version: m.version, name: m.name })),
  };
}

/** For /readyz: every migration file is applied. */
export async function isMigrated(db: Db, files: MigrationFile[]): Promise<boolean> {
  const { rows } = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM schema_migrations WHERE version = ANY($1::text[])",
    [files.map((f) => f.version)],
  );
  return rows[0]?.n === files.length;
}
