import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runProcess, type CliResult } from './cli.js';

// The previous release, built from its git tag, for the upgrade test: data written by it
// must survive the current checkout starting on the same database and store.

export type PreviousRelease = { tag: string; commit: string } | { reason: string };

function git(root: string, args: string[]): string {
  return execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/**
 * The newest release tag (`v*`) behind the checkout: `git describe --tags --abbrev=0`,
 * or the one before it when HEAD itself is that release. UPGRADE_FROM names another.
 * Without git history or tags (a tarball, a shallow clone) the reason to skip.
 */
export function findPreviousRelease(root: string): PreviousRelease {
  try {
    git(root, ['rev-parse', '--is-inside-work-tree']);
  } catch {
    return { reason: `${root} is not a git checkout (a tarball?): no history to find the previous release in` };
  }
  const head = git(root, ['rev-parse', 'HEAD']);
  const describe = (rev: string): string | undefined => {
    try {
      return git(root, ['describe', '--tags', '--abbrev=0', '--match', 'v*', rev]);
    } catch {
      return undefined;
    }
  };
  let tag = process.env.UPGRADE_FROM || describe('HEAD');
  if (tag && !process.env.UPGRADE_FROM && git(root, ['rev-parse', `${tag}^{commit}`]) === head) {
    tag = describe(`${tag}^`);
  }
  // A clone made without its tags (CI's, often) still has the history: the CHANGELOG names
  // each release's commit, and the newest one behind HEAD is the previous release.
  if (!tag) {
    const fromChangelog = releaseInChangelog(root, head, (rev) => {
      try {
        git(root, ['merge-base', '--is-ancestor', rev, head]);
        return true;
      } catch {
        return false;
      }
    });
    if (fromChangelog) return fromChangelog;
    return { reason: 'no release tag (v*) before HEAD, and no release commit of CHANGELOG.md in this history: a shallow clone?' };
  }
  try {
    return { tag, commit: git(root, ['rev-parse', `${tag}^{commit}`]) };
  } catch {
    return { reason: `UPGRADE_FROM=${tag} names no commit` };
  }
}

/** The newest release of CHANGELOG.md ("git tag `vX.Y.Z`, commit `abc1234`") whose commit is behind HEAD. */
function releaseInChangelog(root: string, head: string, isBehindHead: (rev: string) => boolean): PreviousRelease | undefined {
  const changelog = path.join(root, 'CHANGELOG.md');
  if (!existsSync(changelog)) return undefined;
  for (const m of readFileSync(changelog, 'utf8').matchAll(/git tag `(v[0-9.]+)`, commit `([0-9a-f]{7,40})`/g)) {
    const [, tag, short] = m as unknown as [string, string, string];
    let commit: string;
    try {
      commit = git(root, ['rev-parse', '--verify', '--quiet', `${short}^{commit}`]);
    } catch {
      continue;
    }
    if (commit !== head && isBehindHead(commit)) return { tag, commit };
  }
  return undefined;
}

export interface BuiltRelease {
  tag: string;
  dir: string;
  bin: string;
  /** how its node_modules came to be: the checkout's (same versions) or `npm ci` */
  dependencies: 'linked' | 'installed';
  remove(): Promise<void>;
}

/**
 * `git archive <tag>` into a temporary directory, node_modules, and its own tsc build.
 * node_modules is a link to the checkout's when every package the release runs or
 * builds with is installed there at the version its lock file names; otherwise
 * `npm ci --prefer-offline` (from npm's cache where it can).
 */
export async function buildRelease(root: string, tag: string, rev: string = tag): Promise<BuiltRelease> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mg-release-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    execFileSync('sh', ['-c', 'git -C "$1" archive "$2" | tar -x -C "$3"', 'sh', root, rev, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    const mismatches = dependencyMismatches(root, dir);
    let dependencies: BuiltRelease['dependencies'];
    if (mismatches.length === 0) {
      await symlink(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
      dependencies = 'linked';
    } else {
      console.log(`upgrade test: ${tag} needs other packages than the checkout's (${mismatches.slice(0, 5).join(', ')}…): npm ci`);
      await mustSucceed(runProcess('npm', ['ci', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, env: process.env }), 'npm ci');
      dependencies = 'installed';
    }
    await mustSucceed(
      runProcess(process.execPath, [path.join(dir, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: dir, env: process.env }),
      `tsc of ${tag}`,
    );
    return { tag, dir, bin: path.join(dir, 'bin/mediagate.js'), dependencies, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

/**
 * Packages of the release's lock file that the checkout's node_modules holds at another
 * version or not at all: those it runs with, and TypeScript and the type packages it
 * builds with. (Optional packages of other platforms are in neither.)
 */
function dependencyMismatches(root: string, dir: string): string[] {
  const lock = JSON.parse(readFileSync(path.join(dir, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string; dev?: boolean; optional?: boolean }>;
  };
  const mismatches: string[] = [];
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key === '' || !entry.version) continue;
    const forBuild = key === 'node_modules/typescript' || key.startsWith('node_modules/@types/');
    if (entry.dev && !forBuild) continue;
    const manifest = path.join(root, key, 'package.json');
    if (!existsSync(manifest)) {
      if (!entry.optional) mismatches.push(`${key} missing`);
      continue;
    }
    const installed = (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
    if (installed !== entry.version) mismatches.push(`${key} ${entry.version} → ${installed}`);
  }
  return mismatches;
}

async function mustSucceed(run: Promise<CliResult>, what: string): Promise<CliResult> {
  const result = await run;
  if (result.code !== 0) throw new Error(`${what} failed (${result.code}):\n${result.stdout}${result.stderr}`);
  return result;
}

/** The environment a release's process gets: nothing of the test runner's but what it needs. */
export function releaseEnv(env: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH!,
    HOME: process.env.HOME ?? '/tmp',
    ...(process.env.TMPDIR && { TMPDIR: process.env.TMPDIR }),
    ...(process.env.AWS_ACCESS_KEY_ID && { AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID }),
    ...(process.env.AWS_SECRET_ACCESS_KEY && { AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY }),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...env,
  };
}

/** A command of the release (`accounts create`, `migrate`, …), run to its end. */
export function runReleaseCli(release: BuiltRelease, args: string[], env: Record<string, string>): Promise<CliResult> {
  return runProcess(process.execPath, [release.bin, ...args], { env: releaseEnv(env), timeoutMillis: 60_000 });
}

export interface ReleaseServe {
  child: ChildProcess;
  output: () => string;
  /** SIGTERM, then its exit status once it has drained and stopped */
  stop(): Promise<number | null>;
}

/** The release's `mediagate serve`, resolved once its banner says it listens. */
export async function spawnReleaseServe(release: BuiltRelease, env: Record<string, string>): Promise<ReleaseServe> {
  const child = spawn(process.execPath, [release.bin, 'serve'], { env: releaseEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c) => (output += c));
    child.stderr!.on('data', (c) => {
      output += c;
      if (output.includes('mediagate listening on')) resolve();
    });
    void exited.then((code) => reject(new Error(`${release.tag} serve exited (${code}) before listening:\n${output}`)));
  });
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return await exited;
    },
  };
}
