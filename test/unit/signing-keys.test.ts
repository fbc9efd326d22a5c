import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { keyFromSeed, loadKeys, openKeyring, rotateKeys, signMessage, verifyMessage } from '../../src/storage/signing-keys.js';

const WEEK = 7 * 86_400;

describe('Ed25519 signing keys', () => {
  it('node:crypto signs byte for byte like tweetnacl from the same seed', () => {
    for (let i = 0; i < 20; i++) {
      const seed = randomBytes(32);
      const message = `message ${i} ${randomBytes(8).toString('hex')}`;
      const key = keyFromSeed('0123456789abcdef', seed, new Date());
      const ours = signMessage(key, message);
      const reference = nacl.sign.detached(Buffer.from(message), nacl.sign.keyPair.fromSeed(seed).secretKey);
      expect(Buffer.from(reference).equals(ours)).toBe(true);
      expect(nacl.sign.detached.verify(Buffer.from(message), ours, nacl.sign.keyPair.fromSeed(seed).publicKey)).toBe(true);
      expect(verifyMessage(key, message, Buffer.from(reference))).toBe(true);
      expect(verifyMessage(key, `${message}!`, ours)).toBe(false);
    }
  });

  it('keeps key files private (0600) and adds a key on rotation', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mg-keys-'));
    const ring = await openKeyring(dir);
    const first = ring.current();
    const [file] = await readdir(dir);
    expect((await stat(path.join(dir, file!))).mode & 0o777).toBe(0o600);
    const { added } = await rotateKeys(dir, { retireAfterSeconds: WEEK });
    expect((await loadKeys(dir)).map((k) => k.kid)).toEqual([first.kid, added.kid]);
    // The running keyring finds the new key when asked for it, and keeps the old one.
    expect((await ring.find(added.kid))?.kid).toBe(added.kid);
    expect(ring.current().kid).toBe(added.kid);
    expect((await ring.find(first.kid))?.kid).toBe(first.kid);
    ring.close();
  });

  it('removes keys replaced longer ago than any URL can live', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mg-keys-'));
    const day = 86_400_000;
    const t0 = Date.now() - 30 * day;
    await rotateKeys(dir, { retireAfterSeconds: WEEK, now: new Date(t0) });
    const second = await rotateKeys(dir, { retireAfterSeconds: WEEK, now: new Date(t0 + day) });
    const third = await rotateKeys(dir, { retireAfterSeconds: WEEK, now: new Date(t0 + 20 * day) });
    expect(third.removed).toHaveLength(1);
    expect((await loadKeys(dir)).map((k) => k.kid)).toEqual([second.added.kid, third.added.kid]);
  });
});
