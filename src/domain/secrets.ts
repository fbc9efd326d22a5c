import { createHash, timingSafeEqual } from 'node:crypto';

// Tokens and key secrets are 128-bit random values, not passwords: a single SHA-256
// makes the stored digest useless to a thief, and costs ~1 µs where a slow KDF would
// cost tens of milliseconds on every request.
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Constant-time comparison of two digests (length is not secret: both are 32 bytes). */
export function digestsEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
