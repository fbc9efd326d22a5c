import { describe, expect, it } from 'vitest';
import { AuthThrottle } from '../../src/domain/auth-throttle.js';
import { digestsEqual, hashSecret } from '../../src/domain/secrets.js';

describe('AuthThrottle', () => {
  it('refuses an address after maxFailures in a window, and forgives when the window ends', () => {
    const t = new AuthThrottle({ maxFailures: 3, windowSeconds: 60, maxTracked: 100 });
    const t0 = 1_000_000;
    for (let i = 0; i < 3; i++) {
      expect(t.addressRetryAfterSeconds('1.2.3.4', t0)).toBe(0);
      t.recordFailure('1.2.3.4', 'ACx', t0);
    }
    expect(t.addressRetryAfterSeconds('1.2.3.4', t0 + 1000)).toBe(59);
    expect(t.addressRetryAfterSeconds('5.6.7.8', t0 + 1000)).toBe(0);
    expect(t.addressRetryAfterSeconds('1.2.3.4', t0 + 60_000)).toBe(0);
  });

  it('counts failures per credential sid across addresses', () => {
    const t = new AuthThrottle({ maxFailures: 3, windowSeconds: 60, maxTracked: 100 });
    for (let i = 0; i < 3; i++) t.recordFailure(`10.0.0.${i}`, 'ACx', 0);
    expect(t.credentialRetryAfterSeconds('ACx', 30_000)).toBe(30);
    expect(t.credentialRetryAfterSeconds('ACy', 30_000)).toBe(0);
    expect(t.credentialRetryAfterSeconds(undefined, 30_000)).toBe(0);
  });

  it('keeps memory bounded when an attacker rotates sids and addresses: the oldest counters go first', () => {
    const t = new AuthThrottle({ maxFailures: 3, windowSeconds: 60, maxTracked: 1000 });
    for (let i = 0; i < 3; i++) t.recordFailure('192.0.2.1', undefined, 1000);
    expect(t.addressRetryAfterSeconds('192.0.2.1', 1000)).toBeGreaterThan(0);
    for (let i = 0; i < 50_000; i++) t.recordFailure(`10.0.${i >> 8}.${i & 255}`, `AC${i}`, 1000);
    expect(t.addressRetryAfterSeconds('192.0.2.1', 1000)).toBe(0);
  });
});

describe('digestsEqual', () => {
  it('compares digests (in constant time) and rejects different lengths', () => {
    expect(digestsEqual(hashSecret('a'), hashSecret('a'))).toBe(true);
    expect(digestsEqual(hashSecret('a'), hashSecret('b'))).toBe(false);
    expect(digestsEqual(hashSecret('a'), hashSecret('a').subarray(0, 16))).toBe(false);
  });
});
