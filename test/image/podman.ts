import { runProcess, type CliResult } from '../support/cli.js';

/**
 * podman for the image test. CI's machines run podman only with runc (crun fails
 * there), host networking and these limits (the default ones cannot be set in their
 * sandbox); host networking also lets the container reach the test's own PostgreSQL
 * and S3 server on 127.0.0.1.
 */
export const GLOBAL_FLAGS = ['--runtime', 'runc'];
export const RUN_FLAGS = ['--network', 'host', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096'];

export type Result = CliResult;

/** Runs a program to its end (stdin: `input`); never throws for a non-zero exit. */
export function run(command: string, args: string[], options: { input?: string; timeoutMillis?: number } = {}): Promise<Result> {
  return runProcess(command, args, { input: options.input ?? '', timeoutMillis: options.timeoutMillis ?? 120_000 });
}

/** `podman ARGS`, whatever its exit status. */
export function podmanResult(args: string[], options: { timeoutMillis?: number } = {}): Promise<Result> {
  return run('podman', [...GLOBAL_FLAGS, ...args], options);
}

/** `podman ARGS`' output; throws, with what podman said, unless it exits 0. */
export async function podman(args: string[], options: { timeoutMillis?: number } = {}): Promise<string> {
  const r = await podmanResult(args, options);
  // The end of what it said (a failed build prints thousands of lines before its error).
  if (r.code !== 0) throw new Error(`podman ${args.join(' ')} exited ${r.code}:\n${(r.stdout + r.stderr).slice(-8000)}`);
  return r.stdout;
}

/** `podman ARGS` whose failure does not matter (clean-up). */
export async function podmanQuietly(args: string[]): Promise<void> {
  await podmanResult(args).catch(() => {});
}
