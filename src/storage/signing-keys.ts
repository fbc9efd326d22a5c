import { createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Ed25519 keys that sign the local store's URLs, kept as files under DATA_DIR/keys.
 * The newest key signs; every key still on disk verifies, so a rotation leaves URLs
 * signed by older keys valid until they expire.
 *
 * Everything is node:crypto: Ed25519 signatures byte-identical to tweetnacl's (a unit
 * test checks it against tweetnacl, a dev dependency only) at ~35 µs to sign and
 * ~100 µs to verify, against ~4 ms and ~8 ms for tweetnacl's pure JavaScript (measured).
 */
export interface SigningKey {
  kid: string;
  createdAt: Date;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

interface KeyFile {
  kid: string;
  /** the 32-byte Ed25519 seed, base64 */
  seed: string;
  created_at: string;
}

const KID = /^[0-9a-f]{16}$/;
// The DER prefix that wraps a raw Ed25519 seed as PKCS#8 for node:crypto.
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

export function keyFromSeed(kid: string, seed: Uint8Array, createdAt: Date): SigningKey {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' });
  return { kid, createdAt, privateKey, publicKey: createPublicKey(privateKey) };
}

export function signMessage(key: SigningKey, message: string): Buffer {
  return sign(null, Buffer.from(message, 'utf8'), key.privateKey);
}

export function verifyMessage(key: SigningKey, message: string, signature: Buffer): boolean {
  return signature.length === 64 && verify(null, Buffer.from(message, 'utf8'), key.publicKey, signature);
}

export async function generateKey(dir: string, now = new Date()): Promise<SigningKey> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const seed = randomBytes(32); // an Ed25519 private key is any 32 random bytes (RFC 8032)
  const kid = randomBytes(8).toString('hex');
  const file: KeyFile = { kid, seed: Buffer.from(seed).toString('base64'), created_at: now.toISOString() };
  // Write then rename, so a reader never sees half a key file.
  const tmp = path.join(dir, `.${kid}.tmp`);
  await writeFile(tmp, JSON.stringify(file), { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path.join(dir, `${kid}.json`));
  return keyFromSeed(kid, seed, now);
}

export async function loadKeys(dir: string): Promise<SigningKey[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const keys: SigningKey[] = [];
  for (const name of names) {
    const kid = name.replace(/\.json$/, '');
    if (!name.endsWith('.json') || !KID.test(kid)) continue;
    const file = JSON.parse(await readFile(path.join(dir, name), 'utf8')) as KeyFile;
    keys.push(keyFromSeed(file.kid, Buffer.from(file.seed, 'base64'), new Date(file.created_at)));
  }
  return keys.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
}

/**
 * Adds a key (`mediagate keys rotate-signing`). Keys replaced more than
 * retireAfterSeconds ago (longer than any URL they signed can live) are removed.
 */
export async function rotateKeys(
  dir: string,
  options: { retireAfterSeconds: number; now?: Date },
): Promise<{ added: SigningKey; removed: string[] }> {
  const now = options.now ?? new Date();
  const existing = await loadKeys(dir);
  const added = await generateKey(dir, now);
  const removed: string[] = [];
  for (let i = 0; i < existing.length - 1; i++) {
    const replacedAt = existing[i + 1]!.createdAt.getTime();
    if (now.getTime() - replacedAt > options.retireAfterSeconds * 1000) {
      await rm(path.join(dir, `${existing[i]!.kid}.json`), { force: true });
      removed.push(existing[i]!.kid);
    }
  }
  return { added, removed };
}

export interface Keyring {
  current(): SigningKey;
  find(kid: string): Promise<SigningKey | undefined>;
  /** reloads the keys if the directory changed (what the poll runs); resolves when done */
  refresh(): Promise<void>;
  close(): void;
}

export interface KeyringOptions {
  /** how often the directory is looked at for keys rotated in by another process */
  pollMillis?: number;
  /** runs the poll (tests: a scheduler they move by hand) */
  every?: (millis: number, task: () => void) => () => void;
  /** the clock of the reload throttle */
  now?: () => number;
}

/**
 * The keys of a directory, kept in memory. A rotation made by another process (the
 * CLI) is picked up by a light poll of the directory's key file names (not its mtime,
 * whose coarse clock can miss a change made within the same tick), and at once when a
 * URL names a key id not yet loaded.
 */
export async function openKeyring(dir: string, options: KeyringOptions = {}): Promise<Keyring> {
  const now = options.now ?? Date.now;
  let keys = await loadKeys(dir);
  if (keys.length === 0) keys = [await generateKey(dir)];
  let lastReload = 0;

  const reload = async () => {
    lastReload = now();
    const loaded = await loadKeys(dir);
    if (loaded.length) keys = loaded;
  };
  const refresh = async () => {
    const onDisk = (await readdir(dir)).filter((n) => n.endsWith('.json') && KID.test(n.slice(0, -5)));
    const loaded = new Set(keys.map((k) => `${k.kid}.json`));
    if (onDisk.length !== loaded.size || onDisk.some((n) => !loaded.has(n))) await reload();
  };
  const every =
    options.every ??
    ((millis: number, task: () => void) => {
      const timer = setInterval(task, millis);
      timer.unref();
      return () => clearInterval(timer);
    });
  const stopPolling = every(options.pollMillis ?? 5000, () => void refresh().catch(() => undefined));

  return {
    current: () => keys[keys.length - 1]!,
    async find(kid) {
      let key = keys.find((k) => k.kid === kid);
      // An unknown kid may be a key rotated in by another process; reload at most once a second.
      if (!key && KID.test(kid) && now() - lastReload > 1000) {
        await reload();
        key = keys.find((k) => k.kid === kid);
      }
      return key;
    },
    refresh,
    close: stopPolling,
  };
}
