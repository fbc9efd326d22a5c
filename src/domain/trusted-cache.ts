import { LRUCache } from 'lru-cache';

interface Entry<V> {
  value: V;
  accountSid: string;
  /** when the value stops being true whatever the cache's TTL (a link's expiry, a retention), or null */
  expiresAt: number | null;
}

const TTL_JITTER = 0.25;

/**
 * What the database said about an account's things, kept briefly in memory for the hot
 * paths (media rows, share links). Entries are dropped by this instance right after its
 * own changes commit, by every instance on the NOTIFY of another's, and in any case
 * after ttlMillis. Lookups that find nothing are not cached: a thing created through
 * another instance must be found at once.
 */
export class TrustedCache<V> {
  private readonly entries: LRUCache<string, Entry<V>>;
  // Bumped by every invalidation: a value read before an invalidation arrived must not be
  // cached after it (the invalidation would be lost for up to the TTL).
  private generation = 0;
  // Off while the invalidation feed is down: a change made elsewhere could not be heard.
  private trusted = true;
  private readonly ttlMillis: number;

  constructor(options: { max: number; ttlMillis: number; clock?: () => Date }) {
    const clock = options.clock ?? (() => new Date());
    this.ttlMillis = options.ttlMillis;
    // ttlResolution 0: the clock is read at each lookup (the injected one in tests), not a
    // reading kept for a millisecond.
    this.entries = new LRUCache({ max: options.max, ttl: Math.max(1, this.ttlMillis), ttlResolution: 0, perf: { now: () => clock().getTime() } });
  }

  get(key: string, now: number): V | undefined {
    if (!this.trusted) return undefined;
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.expiresAt !== null && hit.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.value;
  }

  /** the current generation, to pass back to set() with a value read after taking it */
  currentGeneration(): number {
    return this.generation;
  }

  set(key: string, entry: Entry<V>, readAtGeneration: number): void {
    if (!this.trusted || this.ttlMillis === 0 || readAtGeneration !== this.generation) return;
    // Each entry lives 75 to 100 % of the TTL: values read together (a burst over many
    // media, a cold start) would otherwise expire together and send their re-reads to
    // the database at once, the p99 spike of 10,000 cycled media in npm run bench.
    const ttl = Math.round(this.ttlMillis * (1 - TTL_JITTER * Math.random()));
    this.entries.set(key, entry, { ttl });
  }

  invalidate(key: string): void {
    this.generation++;
    this.entries.delete(key);
  }

  /** drops the account's entries (those `matches` picks, or all) */
  invalidateAccount(accountSid: string, matches: (value: V) => boolean = () => true): void {
    this.generation++;
    for (const [key, entry] of this.entries.entries()) if (entry.accountSid === accountSid && matches(entry.value)) this.entries.delete(key);
  }

  /** drops everything; while untrusted nothing is kept or served */
  setTrusted(trusted: boolean): void {
    this.generation++;
    this.trusted = trusted;
    this.entries.clear();
  }
}

/** When a media past its account's retention stops being there. */
export function retentionEnd(createdAt: Date, retentionDays: number | null): number | null {
  return retentionDays === null ? null : createdAt.getTime() + retentionDays * 86_400_000;
}
