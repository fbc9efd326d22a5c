import { readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';

// The embedded cluster's server process, seen from outside: its postmaster.pid, whether
// that PID is (still) a postgres process, and whether its starting process died.

// After kill -9 (or a container restart) postmaster.pid survives. PostgreSQL treats it
// as stale only if its PID is dead; in a container that PID is often reused by some
// other process, and the server then refuses to start. Remove it when the PID is not
// a postgres process.
export async function removeStalePidFile(clusterDir: string): Promise<void> {
  const pidFile = await readPidFile(clusterDir);
  if (pidFile && !isPostgresProcess(pidFile.pid)) {
    await rm(path.join(clusterDir, 'postmaster.pid'), { force: true });
  }
}

/** A postmaster whose parent is gone (re-parented to init or a subreaper that is not node). */
export function isOrphan(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid <= 1) return true;
    return !readFileSync(`/proc/${ppid}/cmdline`, 'latin1').includes('node');
  } catch {
    return false; // no /proc: leave it alone
  }
}

/** SIGINT is PostgreSQL's fast shutdown: roll back, checkpoint, exit. */
export async function stopProcess(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the orphaned PostgreSQL (pid ${pid}) did not stop`);
}

export async function readPidFile(clusterDir: string): Promise<{ pid: number; port: number } | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0) return undefined;
  return { pid, port };
}

export function isPostgresProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: alive but owned by another user (the postgres user when we are not root).
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('postgres');
  } catch {
    return true; // no /proc (macOS): trust the live PID
  }
}
