import { LRUCache } from 'lru-cache';

export interface ThrottleOptions {
  /** failures allowed per window, per client address and per credential sid */
  maxFailures: number;
  windowSeconds: number;
  /** counters kept at most (oldest dropped): an attacker rotating sids cannot grow memory */
  maxTracked: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = { maxFailures: 30, windowSeconds: 60, maxTracked: 100_000 };

interface Window {
  count: number;
  startedAt: number;
}

/**
 * Counts failed authentications per client address and per credential sid in fixed
 * windows, in this instance's memory. Past maxFailures in a window, an address is
 * refused before its credentials are checked; a credential sid only has its *failed*
 * attempts answered 429 (the authenticator verifies first), so attacks on a sid never
 * lock out the clients holding its secret.
 */
export class AuthThrottle {
  private readonly windows: LRUCache<string, Window>;

  constructor(private readonly options: ThrottleOptions = DEFAULT_THROTTLE) {
    this.windows = new LRUCache({ max: options.maxTracked, ttl: options.windowSeconds * 1000, ttlAutopurge: false });
  }

  addressRetryAfterSeconds(address: string, now: number): number {
    return this.waitFor(`a:${address}`, now);
  }

  credentialRetryAfterSeconds(credentialSid: string | undefined, now: number): number {
    return credentialSid ? this.waitFor(`c:${credentialSid}`, now) : 0;
  }

  recordFailure(address: string, credentialSid: string | undefined, now: number): void {
    this.bump(`a:${address}`, now);
    if (credentialSid) this.bump(`c:${credentialSid}`, now);
  }

  private waitFor(key: string, now: number): number {
    const w = this.windows.get(key);
    if (!w || w.count < this.options.maxFailures) return 0;
    const endsAt = w.startedAt + this.options.windowSeconds * 1000;
    return endsAt > now ? Math.ceil((endsAt - now) / 1000) : 0;
  }

  private bump(key: string, now: number): void {
    const w = this.windows.get(key);
    if (!w || now - w.startedAt >= this.options.windowSeconds * 1000) {
      this.windows.set(key, { count: 1, startedAt: now });
    } else {
      w.count++;
    }
  }
}
