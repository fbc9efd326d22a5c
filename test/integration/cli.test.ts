import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createPool } from '../../src/db/pool.js';
import { hashSecret } from '../../src/domain/secrets.js';
import { runCli } from '../support/cli.js';

describe('mediagate accounts create', () => {
  it('prints {"sid", "auth_token"} as JSON and stores only the token digest', async () => {
    const res = await runCli(['accounts', 'create', '--name', 'Acme Inc'], { DATABASE_URL: inject('databaseUrl') });
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as { sid: string; auth_token: string };
    expect(Object.keys(out)).toEqual(['sid', 'auth_token']);
    expect(out.sid).toMatch(/^AC[0-9a-f]{32}$/);
    expect(out.auth_token).toMatch(/^[0-9a-f]{32}$/);
    const db = createPool(inject('databaseUrl'));
    try {
      const { rows } = await db.query('SELECT a.name, t.token_hash FROM accounts a JOIN auth_tokens t ON t.account_sid = a.sid WHERE a.sid = $1', [
        out.sid,
      ]);
      expect(rows).toHaveLength(1);
      expect(rows[0].name).toBe('Acme Inc');
      expect(Buffer.compare(rows[0].token_hash, hashSecret(out.auth_token))).toBe(0);
      const { rows: text } = await db.query("SELECT count(*)::int AS n FROM auth_tokens WHERE encode(token_hash, 'hex') = $1 OR token_hash::text LIKE $2", [
        out.auth_token,
        `%${out.auth_token}%`,
      ]);
      expect(text[0].n).toBe(0);
    } finally {
      await db.end();
    }
  });
});

describe('command-line usage', () => {
  it.each([
    [['accounts', 'create']],
    [['accounts', 'create', '--name']],
    [['accounts', 'delete', '--name', 'x']],
    [['accounts', 'create', '--name', 'x', '--bogus']],
    [['migrate', 'sideways']],
    [['frobnicate']],
    [[]],
  ])('prints one error line, then the usage, and exits 2 for %j', async (args) => {
    const res = await runCli(args, { DATABASE_URL: 'postgres://127.0.0.1:1/none' });
    expect(res.code).toBe(2);
    const [error, blank, usage] = res.stderr.split('\n');
    expect(error).toMatch(/^mediagate( [a-z]+)*: \S/);
    expect(blank).toBe('');
    expect(usage).toMatch(/^usage: mediagate/);
    expect(res.stdout).toBe('');
  });

  it.each([
    [['serv'], 'mediagate: unknown command "serv"; did you mean "serve"?'],
    [['acounts', 'list'], 'mediagate: unknown command "acounts"; did you mean "accounts"?'],
    [['migrate', 'statuss'], 'mediagate migrate: unknown command "statuss"; did you mean "status"?'],
    [['accounts', 'lst'], 'mediagate accounts: unknown command "lst"; did you mean "list"?'],
    [['keys', 'rotate'], 'mediagate keys: unknown command "rotate"; did you mean "rotate-signing"?'],
    [['frobnicate'], 'mediagate: unknown command "frobnicate"'],
    [['accounts', 'create', '--nme', 'x'], 'mediagate accounts create: unknown option --nme; did you mean --name?'],
    [['gc', '--dryrun'], 'mediagate gc: unknown option --dryrun; did you mean --dry-run?'],
    [['sweep', '--frobnicate'], 'mediagate sweep: unknown option --frobnicate'],
    [['accounts', 'create', '--name'], 'mediagate accounts create: option --name needs a value'],
    [['sweep', '--batch-size'], 'mediagate sweep: option --batch-size needs a value'],
    [['accounts', 'delete', `AC${'0'.repeat(32)}`, '--yes=no'], 'mediagate accounts delete: option --yes takes no value'],
    [['gc', '--dry-run=false'], 'mediagate gc: option --dry-run takes no value'],
  ])('%j: %s', async (args, line) => {
    const res = await runCli(args, { DATABASE_URL: 'postgres://127.0.0.1:1/none' });
    expect(res.code).toBe(2);
    expect(res.stderr.split('\n')[0]).toBe(line);
    // parseArgs' own advice about positionals after `--` is not passed on.
    expect(res.stderr).not.toContain('positional');
  });

  it.each([['--help'], ['serve', '--help'], ['migrate', '--help'], ['accounts', '--help'], ['accounts', 'create', '--help'], ['accounts', 'delete', '--help']])(
    'answers %s with usage on stdout and exit 0',
    async (...args) => {
      const res = await runCli(args);
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(/^usage: mediagate/);
    },
  );

  it.each([
    ['PORT', 'abc'],
    ['MEDIA_URL_TTL_SECONDS', '0'],
    ['MEDIA_URL_TTL_SECONDS', '604801'],
  ])('stops with one clear line naming %s=%s, no stack trace', async (name, value) => {
    const res = await runCli(['serve'], { [name]: value });
    expect(res.code).toBe(2);
    const lines = res.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^mediagate: invalid configuration: ${name} `));
    expect(res.stderr).not.toMatch(/\n\s+at /);
  });
});
