import { ConfigError, parseConfig, type Config } from '../config.js';
import { migrate, migrationStatus, MigrationError, readMigrations } from '../db/migrate.js';
import { createAccount } from '../domain/accounts.js';
import { DomainError } from '../domain/errors.js';
import { createLogger } from '../log.js';
import { openDatabase, openStore } from '../main.js';
import { collectGarbage, sweepExpiredMedia } from '../domain/maintenance.js';
import path from 'node:path';
import { rotateKeys } from '../storage/signing-keys.js';
import { serve } from './serve.js';
import { parseCommandArgs, UsageError } from './usage.js';

const USAGE = `usage: mediagate <command> [options]

commands:
  serve                        migrate if needed, then serve (what \`npm start\` runs)
  migrate                      apply pending migrations
  migrate status               list applied and pending migrations
  accounts create --name NAME  create an account; prints {"sid", "auth_token"} as JSON
  keys rotate-signing          local store only: add a new URL-signing key
  gc                           remove stored objects no media names; report missing objects
  sweep                        delete media past its account's retention

Every command takes --help. Configuration comes from the environment (see README).`;

const SERVE_USAGE = 'usage: mediagate serve\n\nMigrates the database if needed, then serves HTTP on HOST:PORT.';
const MIGRATE_USAGE = 'usage: mediagate migrate [status]\n\nApplies pending migrations from migrations/ (or lists them with `status`).';
const KEYS_USAGE =
  'usage: mediagate keys rotate-signing\n\nLocal store only (S3_BUCKET unset): adds a new Ed25519 key for signing media URLs under\nDATA_DIR/keys. URLs signed with older keys stay valid until they expire; a running\nservice picks the new key up within seconds.';
const GC_USAGE = `usage: mediagate gc [--grace-seconds N] [--dry-run]

Removes stored objects that no media row names and that are older than the grace
period (default 3600 s: younger ones may be uploads whose row is not written yet), and
reports rows whose object is missing. Prints a JSON report.`;
const SWEEP_USAGE = `usage: mediagate sweep [--batch-size N]

Deletes media past its account's retention (objects, then rows), N rows per
transaction (default 100: the rows stay locked while their objects are deleted).
Prints {"deleted": N}.`;
const ACCOUNTS_USAGE = 'usage: mediagate accounts create --name NAME\n\nCreates an account and prints {"sid", "auth_token"} as JSON on stdout.';

function wantsHelp(args: string[]): boolean {
  return args.includes('--help') || args.includes('-h');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) throw new UsageError('no command given', USAGE);
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  switch (command) {
    case 'serve': {
      if (wantsHelp(rest)) return help(SERVE_USAGE);
      parseCommandArgs(rest, {}, SERVE_USAGE);
      const config = loadConfig();
      return serve(config, createLogger(config.logLevel));
    }
    case 'migrate': {
      if (wantsHelp(rest)) return help(MIGRATE_USAGE);
      const { positionals } = parseCommandArgs(rest, {}, MIGRATE_USAGE, 1);
      if (positionals[0] !== undefined && positionals[0] !== 'status') {
        throw new UsageError(`unknown migrate subcommand ${JSON.stringify(positionals[0])}`, MIGRATE_USAGE);
      }
      return positionals[0] === 'status' ? runMigrateStatus(loadConfig()) : runMigrate(loadConfig());
    }
    case 'accounts': {
      if (wantsHelp(rest)) return help(ACCOUNTS_USAGE);
      const { values, positionals } = parseCommandArgs(rest, { name: { type: 'string' } }, ACCOUNTS_USAGE, 1);
      if (positionals[0] !== 'create') {
        throw new UsageError(
          positionals[0] === undefined ? 'missing subcommand' : `unknown accounts subcommand ${JSON.stringify(positionals[0])}`,
          ACCOUNTS_USAGE,
        );
      }
      if (values.name === undefined || values.name.trim() === '') throw new UsageError('--name is required', ACCOUNTS_USAGE);
      return runAccountsCreate(loadConfig(), values.name);
    }
    case 'gc': {
      if (wantsHelp(rest)) return help(GC_USAGE);
      const { values } = parseCommandArgs(rest, { 'grace-seconds': { type: 'string' }, 'dry-run': { type: 'boolean' } }, GC_USAGE);
      const graceSeconds = wholeNumber(values['grace-seconds'], 3600, '--grace-seconds', GC_USAGE);
      return runGc(loadConfig(), graceSeconds, values['dry-run'] ?? false);
    }
    case 'sweep': {
      if (wantsHelp(rest)) return help(SWEEP_USAGE);
      const { values } = parseCommandArgs(rest, { 'batch-size': { type: 'string' } }, SWEEP_USAGE);
      const batchSize = wholeNumber(values['batch-size'], 100, '--batch-size', SWEEP_USAGE);
      if (batchSize < 1 || batchSize > 10_000) throw new UsageError('--batch-size must be from 1 to 10000', SWEEP_USAGE);
      return runSweep(loadConfig(), batchSize);
    }
    case 'keys': {
      if (wantsHelp(rest)) return help(KEYS_USAGE);
      const { positionals } = parseCommandArgs(rest, {}, KEYS_USAGE, 1);
      if (positionals[0] !== 'rotate-signing') {
        throw new UsageError(
          positionals[0] === undefined ? 'missing subcommand' : `unknown keys subcommand ${JSON.stringify(positionals[0])}`,
          KEYS_USAGE,
        );
      }
      return runRotateSigning(loadConfig());
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`, USAGE);
  }
}

function wholeNumber(value: string | undefined, fallback: number, name: string, usage: string): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,9}$/.test(value)) throw new UsageError(`${name} must be a whole number`, usage);
  return Number(value);
}

function help(usage: string): number {
  process.stdout.write(`${usage}\n`);
  return 0;
}

function loadConfig(): Config {
  return parseConfig(process.env);
}

// CLI commands log only warnings to stderr: their stdout is for results (JSON).
function cliLogger(config: Config) {
  return createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, process.stderr);
}

async function runMigrate(config: Config): Promise<number> {
  const database = await openDatabase(config, cliLogger(config));
  try {
    const applied = await migrate(database.db);
    process.stdout.write(applied.length ? applied.map((n) => `applied ${n}\n`).join('') : 'nothing to apply\n');
    return 0;
  } finally {
    await database.close();
  }
}

async function runMigrateStatus(config: Config): Promise<number> {
  const database = await openDatabase(config, cliLogger(config));
  try {
    const status = await migrationStatus(database.db, await readMigrations());
    for (const m of status.applied) process.stdout.write(`applied  ${m.name}  ${m.appliedAt.toISOString()}\n`);
    for (const m of status.pending) process.stdout.write(`pending  ${m.name}\n`);
    return 0;
  } finally {
    await database.close();
  }
}

async function runAccountsCreate(config: Config, name: string): Promise<number> {
  const database = await openDatabase(config, cliLogger(config));
  try {
    await migrate(database.db);
    const account = await createAccount(database.db, name);
    process.stdout.write(`${JSON.stringify(account)}\n`);
    return 0;
  } finally {
    await database.close();
  }
}

async function runGc(config: Config, graceSeconds: number, dryRun: boolean): Promise<number> {
  const database = await openDatabase(config, cliLogger(config));
  const { store } = await openStore(config);
  try {
    await migrate(database.db);
    const report = await collectGarbage({ db: database.db, store, clock: () => new Date() }, { graceSeconds, dryRun });
    process.stdout.write(
      `${JSON.stringify({
        dry_run: dryRun,
        removed_objects: report.removedObjects,
        missing_objects: report.missingObjects,
        young_unreferenced_objects: report.youngUnreferenced,
        abandoned_uploads_removed: report.abandonedUploads,
      })}\n`,
    );
    return 0;
  } finally {
    await store.close();
    await database.close();
  }
}

async function runSweep(config: Config, batchSize: number): Promise<number> {
  const database = await openDatabase(config, cliLogger(config));
  const { store } = await openStore(config);
  try {
    await migrate(database.db);
    const deleted = await sweepExpiredMedia({ db: database.db, store }, { batchSize });
    process.stdout.write(`${JSON.stringify({ deleted })}\n`);
    return 0;
  } finally {
    await store.close();
    await database.close();
  }
}

async function runRotateSigning(config: Config): Promise<number> {
  if (config.s3) {
    process.stderr.write('mediagate: keys rotate-signing is for the local store; with S3_BUCKET set, URLs are signed with the AWS credentials\n');
    return 1;
  }
  const { added, removed } = await rotateKeys(path.join(config.dataDir, 'keys'));
  process.stdout.write(`${JSON.stringify({ kid: added.kid, created_at: added.createdAt.toISOString(), removed })}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.usage}\n\nmediagate: ${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`mediagate: ${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof MigrationError || err instanceof DomainError) {
      process.stderr.write(`mediagate: ${err.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`mediagate: ${(err as Error)?.message ?? String(err)}\n`);
    if (process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace') console.error(err);
    process.exit(1);
  },
);
