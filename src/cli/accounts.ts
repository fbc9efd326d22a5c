import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { AccountContents } from '../db/queries/accounts.js';
import type { Db } from '../db/pool.js';
import { AccountDeletionIncomplete, createAccount, deleteAccount, describeAccount, listAccounts } from '../domain/accounts.js';
import { NotFound } from '../domain/errors.js';
import { isSid } from '../domain/ids.js';
import { withResources } from '../service.js';
import { parseCommandArgs, pickSubcommand, UsageError, type CommandLine } from './usage.js';

export const ACCOUNTS_USAGE = `usage: mediagate accounts create --name NAME
       mediagate accounts list
       mediagate accounts delete SID --yes

create  Creates an account and prints {"sid", "auth_token"} as JSON on stdout (the only
        time the token is shown).
list    Prints JSON Lines on stdout: one object per account, in sid order, with no
        secret: {"sid", "name", "created_at", "retention_days", "media", "api_keys",
        "applications"} (the last three are counts). Read a page at a time, so any
        number of accounts takes the same memory.
delete  Deletes the account and everything of it: its media with their stored objects,
        uploads in progress with theirs, auth tokens, API keys, applications, share
        links, console sessions, events and settings. Its credentials and share links
        stop working on every running instance at once, before the media goes. Prints
        what was deleted as JSON. Without --yes it deletes nothing, says what it would
        delete and exits 2. Exit 1: no such account, or the object store failed (what
        was done is kept and said; run it again to finish). Exit 2: not an account SID.`;

const SUBCOMMANDS = ['create', 'list', 'delete'] as const;

export async function runAccounts(args: string[], config: () => Config, logger: (config: Config) => Logger): Promise<number> {
  const { name, rest } = pickSubcommand(args, SUBCOMMANDS, { command: 'accounts', usage: ACCOUNTS_USAGE });
  const cli: CommandLine = { command: `accounts ${name}`, usage: ACCOUNTS_USAGE };
  if (name === 'create') {
    const { values } = parseCommandArgs(rest, cli, { name: 'string' });
    if (values.name === undefined || values.name.trim() === '') throw new UsageError('--name is required', cli.usage, cli.command);
    const accountName = values.name;
    const c = config();
    // Migrates first (a fresh install's first command), as `serve` does.
    return withResources(c, logger(c), { store: false, migrate: true }, async ({ db }) => {
      process.stdout.write(`${JSON.stringify(await createAccount(db, accountName))}\n`);
      return 0;
    });
  }
  if (name === 'list') {
    parseCommandArgs(rest, cli, {});
    const c = config();
    return withResources(c, logger(c), { store: false, migrate: true }, ({ db }) => printAccounts(db, process.stdout));
  }
  const { values, positionals } = parseCommandArgs(rest, cli, { yes: 'boolean' }, 1);
  const sid = positionals[0];
  if (sid === undefined) throw new UsageError('missing the SID of the account to delete', cli.usage, cli.command);
  if (!isSid(sid, 'AC')) throw new UsageError(`${JSON.stringify(sid)} is not an account SID (AC and 32 lowercase hex digits)`, cli.usage, cli.command);
  const c = config();
  const say = (line: string) => process.stderr.write(`mediagate ${cli.command}: ${line}\n`);
  try {
    if (!values.yes) {
      return await withResources(c, logger(c), { store: false, migrate: true }, async ({ db }) => {
        const contents = await describeAccount(db, sid);
        say(`nothing deleted: add --yes to delete account ${sid} ${JSON.stringify(contents.name)} with ${contentsOf(contents)}`);
        return 2;
      });
    }
    return await withResources(c, logger(c), { migrate: true }, async ({ db, store }) => {
      const done = await deleteAccount({ db, store: store! }, sid);
      process.stdout.write(`${JSON.stringify(done)}\n`);
      return 0;
    });
  } catch (err) {
    if (!(err instanceof NotFound || err instanceof AccountDeletionIncomplete)) throw err;
    say(err.message);
    return 1;
  }
}

/**
 * Writes each page as it comes, waiting for stdout to take it (a slow reader holds the
 * next page back, not memory). A reader that stops early (`| head`) ends it quietly.
 */
async function printAccounts(db: Db, out: Writable): Promise<number> {
  const write = (text: string) => new Promise<void>((resolve, reject) => out.write(text, (err) => (err ? reject(err) : resolve())));
  // The failed write rejects; without a listener the same error would also crash the process.
  const ignore = () => {};
  out.on('error', ignore);
  try {
    for await (const page of listAccounts(db)) await write(page.map((account) => `${JSON.stringify(account)}\n`).join(''));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
  } finally {
    out.off('error', ignore);
  }
  return 0;
}

function contentsOf(c: AccountContents): string {
  const n = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;
  return [
    `${n(c.media, 'media', 'media')} and their objects`,
    n(c.uploads_in_progress, 'upload in progress', 'uploads in progress'),
    n(c.auth_tokens, 'auth token'),
    n(c.api_keys, 'API key'),
    n(c.applications, 'application'),
    n(c.share_links, 'share link'),
    n(c.console_sessions, 'console session'),
    n(c.events, 'event'),
  ].join(', ') + ' and its settings';
}
