import { parseArgs } from 'node:util';
import { didYouMean } from './suggest.js';

/**
 * Bad command-line arguments: main prints `mediagate <command>: <message>`, then the
 * command's usage, and exits 2.
 */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string,
    /** the command as typed so far (`accounts delete`), naming where the error is; '' at the top */
    readonly command = '',
  ) {
    super(message);
  }
}

/** Which command is parsing, for its error lines: its name as typed and its usage. */
export interface CommandLine {
  command: string;
  usage: string;
}

/** A command's options by long name, each a string (`--name VALUE`) or a flag (`--yes`). */
export type OptionSpec = Record<string, 'string' | 'boolean'>;

export type OptionValues<T extends OptionSpec> = { [K in keyof T]?: T[K] extends 'string' ? string : boolean };

/**
 * The command's options and positionals. node:util parseArgs reads the tokens; the
 * checks are ours, so that each mistake is one plain line with a suggestion when one is
 * close (parseArgs' own messages carry advice about `--` that does not apply here).
 * `--help`/`-h` is accepted everywhere (main answers it before any command runs).
 */
export function parseCommandArgs<T extends OptionSpec>(
  args: string[],
  cli: CommandLine,
  options: T,
  maxPositionals = 0,
): { values: OptionValues<T>; positionals: string[] } {
  const fail = (message: string) => new UsageError(message, cli.usage, cli.command);
  const { tokens } = parseArgs({
    args,
    options: Object.fromEntries([...Object.entries(options).map(([name, type]) => [name, { type }]), ['help', { type: 'boolean', short: 'h' }]]),
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') positionals.push(token.value);
    if (token.kind !== 'option' || token.name === 'help') continue;
    const type = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    if (type === undefined) {
      const hint = token.rawName.startsWith('--') ? didYouMean(token.name, [...Object.keys(options), 'help'], (name) => `--${name}`) : '';
      throw fail(`unknown option ${token.rawName}${hint}`);
    }
    if (type === 'boolean') {
      if (token.value !== undefined) throw fail(`option --${token.name} takes no value`);
      values[token.name] = true;
      continue;
    }
    // parseArgs takes the next argument as the value whatever it is: `--name --yes`
    // would name the account "--yes".
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-') && token.value !== '-')) {
      const hint = token.value === undefined ? '' : ` (for a value that starts with "-", write --${token.name}=VALUE)`;
      throw fail(`option --${token.name} needs a value${hint}`);
    }
    values[token.name] = token.value;
  }
  if (positionals.length > maxPositionals) throw fail(`unexpected argument ${JSON.stringify(positionals[maxPositionals])}`);
  return { values: values as OptionValues<T>, positionals };
}

/** `unknown command "serv"; did you mean "serve"?` as a usage error. */
export function unknownCommand(word: string, commands: readonly string[], cli: CommandLine): UsageError {
  return new UsageError(`unknown command ${JSON.stringify(word)}${didYouMean(word, commands)}`, cli.usage, cli.command);
}

/**
 * A command's subcommand (its first argument) and the arguments after it; usage errors
 * for a missing or unknown one.
 */
export function pickSubcommand<T extends string>(args: string[], subcommands: readonly T[], cli: CommandLine): { name: T; rest: string[] } {
  const [first, ...rest] = args;
  if (first === undefined || first.startsWith('-')) {
    throw new UsageError(`missing command; one of: ${subcommands.join(', ')}`, cli.usage, cli.command);
  }
  const name = subcommands.find((s) => s === first);
  if (name === undefined) throw unknownCommand(first, subcommands, cli);
  return { name, rest };
}
