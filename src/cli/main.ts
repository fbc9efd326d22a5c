import { ConfigError, MAX_URL_TTL_SECONDS, parseConfig, type Config } from '../config.js';
import { migrate, migrationStatus, MigrationError, readMigrations } from '../db/migrate.js';
import { DomainError } from '../domain/errors.js';
import { createLogger } from '../log.js';
import { withResources } from '../service.js';
import { collectGarbage, sweepExpiredMedia } from '../domain/maintenance.js';
import path from 'node:path';
import { rotateKeys } from '../storage/signing-keys.js';
import { ACCOUNTS_USAGE, runAccounts } from './accounts.js';
import { serve } from './serve.js';
import { didYouMean } from './suggest.js';
import { parseCommandArgs, pickSubcommand, UsageError, unknownCommand, type CommandLine } from './usage.js';

const USAGE = `usage: mediagate <command> [options]

commands:
  serve                        migrate if needed, then serve (what \`npm start\` runs)
  migrate                      apply pending migrations
  migrate status               list applied and pending migrations
  accounts create --name NAME  create an account; prints {"sid", "auth_token"} as JSON
  accounts list                print every account as JSON Lines (no secrets)
  accounts delete SID --yes    delete an account with its media, objects and credentials
  keys rotate-signing          local store only: add a new URL-signing key
  gc                           remove stored objects no media names; report missing objects
  sweep                        delete media past its account's retention

Every command takes --help. Configuration comes from the environment (docs/configuration.md).`;

const SERVE_USAGE = 'usage: mediagate serve\n\nMigrates the database if needed, then serves HTTP on HOST:PORT.';
const MIGRATE_USAGE = 'usage: mediagate migrate [status]\n\nApplies pending migrations from migrations/ (or lists them with `status`).';
const KEYS_USAGE =
  'usage: mediagate keys rotate-signing\n\nLocal store only (S3_BUCKET unset): adds a new Ed25519 key for signing media URLs under\nDATA_DIR/keys. URLs signed with older keys stay valid until they expire; a running\nservice picks the new key up within seconds.';
const GC_USAGE = `usage: mediagate gc [--grace-seconds N] [--dry-run]

Removes stored objects that no media row names and that are older than the grace
period (default 3600 s: younger ones may be uploads whose row is not written yet), and
reports rows whose object is missing. Prints a JSON report. One run at a time across
all hosts: while another gc runs, prints {"skipped": true, …} and exits 0.`;
const SWEEP_USAGE = `usage: mediagate sweep [--batch-size N]

Deletes media past its account's retention (objects, then rows), N rows per
transaction (default 100: the rows stay locked while their objects are deleted),
then expired console sessions. Prints {"deleted": N, "expired_sessions_removed": M}. One run at a time across all hosts: while another sweep runs,
prints {"skipped": true, …} and exits 0.`;

interface Command {
  usage: string;
  run(args: string[], config: () => Config): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  serve: {
    usage: SERVE_USAGE,
    async run(args, config) {
      parseCommandArgs(args, { command: 'serve', usage: SERVE_USAGE }, {});
      const c = config();
      return serve(c, createLogger(c.logLevel));
    },
  },
  migrate: {
    usage: MIGRATE_USAGE,
    async run(args, config) {
      const cli = { command: 'migrate', usage: MIGRATE_USAGE };
      const { positionals } = parseCommandArgs(args, cli, {}, 1);
      const status = positionals[0] === 'status';
      if (positionals[0] !== undefined && !status) throw unknownCommand(positionals[0], ['status'], cli);
      const c = config();
      return withResources(c, cliLogger(c), { store: false }, async ({ db }) => {
        if (status) {
          const { applied, pending } = await migrationStatus(db, await readMigrations());
          for (const m of applied) process.stdout.write(`applied  ${m.name}  ${m.appliedAt.toISOString()}\n`);
          for (const m of pending) process.stdout.write(`pending  ${m.name}\n`);
        } else {
          const applied = await migrate(db);
          process.stdout.write(applied.length ? applied.map((n) => `applied ${n}\n`).join('') : 'nothing to apply\n');
        }
        return 0;
      });
    },
  },
  accounts: {
    usage: ACCOUNTS_USAGE,
    run: (args, config) => runAccounts(args, config, cliLogger),
  },
  gc: {
    usage: GC_USAGE,
    async run(args, config) {
      const cli = { command: 'gc', usage: GC_USAGE };
      const { values } = parseCommandArgs(args, cli, { 'grace-seconds': 'string', 'dry-run': 'boolean' });
      const graceSeconds = wholeNumber(values['grace-seconds'], 3600, '--grace-seconds', cli);
      const dryRun = values['dry-run'] ?? false;
      const c = config();
      return withResources(c, cliLogger(c), { migrate: true }, async ({ db, store }) => {
        const report = await collectGarbage({ db, store: store!, clock: () => new Date() }, { graceSeconds, dryRun });
        if (!report) return skipped('gc');
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
      });
    },
  },
  sweep: {
    usage: SWEEP_USAGE,
    async run(args, config) {
      const cli = { command: 'sweep', usage: SWEEP_USAGE };
      const { values } = parseCommandArgs(args, cli, { 'batch-size': 'string' });
      const batchSize = wholeNumber(values['batch-size'], 100, '--batch-size', cli);
      if (batchSize < 1 || batchSize > 10_000) throw new UsageError('--batch-size must be from 1 to 10000', cli.usage, cli.command);
      const c = config();
      return withResources(c, cliLogger(c), { migrate: true }, async ({ db, store }) => {
        const report = await sweepExpiredMedia({ db, store: store! }, { batchSize });
        if (report === undefined) return skipped('sweep');
        process.stdout.write(`${JSON.stringify({ deleted: report.deletedMedia, expired_sessions_removed: report.expiredSessions })}\n`);
        return 0;
      });
    },
  },
  keys: {
    usage: KEYS_USAGE,
    async run(args, config) {
      const { rest } = pickSubcommand(args, ['rotate-signing'], { command: 'keys', usage: KEYS_USAGE });
      parseCommandArgs(rest, { command: 'keys rotate-signing', usage: KEYS_USAGE }, {});
      const c = config();
      if (c.s3) {
        process.stderr.write('mediagate: keys rotate-signing is for the local store; with S3_BUCKET set, URLs are signed with the AWS credentials\n');
        return 1;
      }
      // Keys replaced longer ago than any URL can live are removed with the rotation.
      const { added, removed } = await rotateKeys(path.join(c.dataDir, 'keys'), { retireAfterSeconds: MAX_URL_TTL_SECONDS + 3600 });
      process.stdout.write(`${JSON.stringify({ kid: added.kid, created_at: added.createdAt.toISOString(), removed })}\n`);
      return 0;
    },
  },
};

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) throw new UsageError('no command given', USAGE);
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (name.startsWith('-')) throw new UsageError(`unknown option ${name}${didYouMean(name.replace(/^-+/, ''), ['help'], (o) => `--${o}`)}`, USAGE);
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) throw unknownCommand(name, Object.keys(COMMANDS), { command: '', usage: USAGE });
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  return command.run(args, () => parseConfig(process.env));
}

/**
 * Another run of the job (a timer of a running service, or a CLI run, on any host) holds
 * its lock: this one did nothing. Not a failure (exit 0): the work is being done.
 */
function skipped(job: string): number {
  process.stdout.write(`${JSON.stringify({ skipped: true, reason: `another ${job} is running (one at a time across all hosts)` })}\n`);
  process.stderr.write(`mediagate: ${job} skipped: another ${job} is running\n`);
  return 0;
}

function wholeNumber(value: string | undefined, fallback: number, name: string, cli: CommandLine): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,9}$/.test(value)) throw new UsageError(`${name} must be a whole number`, cli.usage, cli.command);
  return Number(value);
}

// CLI commands log only warnings to stderr: their stdout is for results (JSON).
function cliLogger(config: Config) {
  return createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, process.stderr);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    // The mistake first, where it is seen, then how the command is used.
    if (err instanceof UsageError) {
      process.stderr.write(`mediagate${err.command ? ` ${err.command}` : ''}: ${err.message}\n\n${err.usage}\n`);
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
