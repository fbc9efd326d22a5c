import { describe, expect, it } from 'vitest';
import { closestMatches, didYouMean, editDistance } from '../../src/cli/suggest.js';
import { parseCommandArgs, pickSubcommand, UsageError } from '../../src/cli/usage.js';

const cli = { command: 'accounts create', usage: 'usage: mediagate accounts create --name NAME' };

/** The usage error a parse throws (fails the test when it throws none). */
function usageError(run: () => unknown): UsageError {
  try {
    run();
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error('no usage error thrown');
}

describe('editDistance', () => {
  it.each([
    ['serv', 'serve', 1],
    ['acounts', 'accounts', 1],
    ['statuss', 'status', 1],
    ['lst', 'list', 1],
    ['kitten', 'sitting', 3],
    ['', 'gc', 2],
    ['gc', 'gc', 0],
  ])('%s → %s is %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });
});

describe('did you mean', () => {
  const commands = ['serve', 'migrate', 'accounts', 'keys', 'gc', 'sweep'];

  it.each([
    ['serv', ['serve']],
    ['acounts', ['accounts']],
    ['SERVE', ['serve']],
    ['swep', ['sweep']],
    ['mig', ['migrate']], // a prefix, however far
    ['s', ['serve', 'sweep']], // ambiguous prefix: both
    ['gx', ['gc']],
    ['x', []], // one letter is not mostly replaced
    ['frobnicate', []],
    ['', []],
  ])('%j suggests %j', (word, expected) => {
    expect(closestMatches(word, commands)).toEqual(expected);
  });

  it('phrases none, one or several suggestions', () => {
    expect(didYouMean('frobnicate', commands)).toBe('');
    expect(didYouMean('serv', commands)).toBe('; did you mean "serve"?');
    expect(didYouMean('s', commands)).toBe('; did you mean "serve" or "sweep"?');
    expect(didYouMean('nme', ['name', 'help'], (o) => `--${o}`)).toBe('; did you mean --name?');
  });
});

describe('parseCommandArgs', () => {
  const options = { name: 'string', yes: 'boolean' } as const;

  it('reads string options (separate or inline), flags and positionals', () => {
    expect(parseCommandArgs(['--name', 'Acme', '--yes'], cli, options)).toEqual({ values: { name: 'Acme', yes: true }, positionals: [] });
    expect(parseCommandArgs(['--name=-dash-'], cli, options).values).toEqual({ name: '-dash-' });
    expect(parseCommandArgs(['--name', '-'], cli, options).values).toEqual({ name: '-' });
    expect(parseCommandArgs(['a', '--', '--b'], cli, options, 2).positionals).toEqual(['a', '--b']);
    expect(parseCommandArgs(['--help'], cli, options).values).toEqual({});
  });

  it.each([
    [['--nme', 'x'], 'unknown option --nme; did you mean --name?'],
    [['--ye'], 'unknown option --ye; did you mean --yes?'],
    [['--frobnicate'], 'unknown option --frobnicate'],
    [['-n', 'x'], 'unknown option -n'],
    [['--name'], 'option --name needs a value'],
    [['--name', '--yes'], 'option --name needs a value (for a value that starts with "-", write --name=VALUE)'],
    [['--yes=no'], 'option --yes takes no value'],
    [['--yes='], 'option --yes takes no value'],
    [['stray'], 'unexpected argument "stray"'],
  ])('%j: %s', (args, message) => {
    const err = usageError(() => parseCommandArgs(args, cli, options));
    expect(err.message).toBe(message);
    expect(err.command).toBe('accounts create');
    expect(err.usage).toBe(cli.usage);
  });

  it('reports the first mistake in the order typed', () => {
    expect(usageError(() => parseCommandArgs(['--yes=1', '--nme'], cli, options)).message).toBe('option --yes takes no value');
  });
});

describe('pickSubcommand', () => {
  const accounts = { command: 'accounts', usage: 'usage: mediagate accounts …' };
  const subcommands = ['create', 'list', 'delete'] as const;

  it('returns the subcommand and the arguments after it', () => {
    expect(pickSubcommand(['delete', 'AC1', '--yes'], subcommands, accounts)).toEqual({ name: 'delete', rest: ['AC1', '--yes'] });
  });

  it.each([
    [['lst'], 'unknown command "lst"; did you mean "list"?'],
    [['delet', 'x'], 'unknown command "delet"; did you mean "delete"?'],
    [['purge'], 'unknown command "purge"'],
    [[], 'missing command; one of: create, list, delete'],
    [['--name', 'x'], 'missing command; one of: create, list, delete'],
  ])('%j: %s', (args, message) => {
    const err = usageError(() => pickSubcommand(args, subcommands, accounts));
    expect(err.message).toBe(message);
    expect(err.command).toBe('accounts');
  });
});
