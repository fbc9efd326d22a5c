import { LRUCache } from 'lru-cache';
import type { Media } from './media.js';

interface CachedMedia {
  media: Media;
  /** when the account's retention makes the media disappear (null: kept until deleted) */
  expiresAt: number | null;
}

const TTL_JITTER = 0.25;

/**
 * Media rows kept briefly in memory for the redirect's hot path. Entries are dropped by
 * this instance right after its own changes commit, by every instance on the NOTIFY of
 * another's (delete, protect-existing, switch and retention changes, sweeps), and in any
 * case after ttlMillis. Lookups that find nothing are not cached: a media uploaded
 * through another instance must be found at once.
 */
export class MediaCache {
  private readonly entries: LRUCache<string, CachedMedia>;
  // Bumped by every invalidation: a row read before an invalidation arrived must not be
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

  get(accountSid: string, mediaSid: string, now: number): Media | undefined {
    if (!this.trusted) return undefined;
    const hit = this.entries.get(`${accountSid}/${mediaSid}`);
    if (!hit) return undefined;
    if (hit.expiresAt !== null && hit.expiresAt <= now) {
      this.entries.delete(`${accountSid}/${mediaSid}`);
      return undefined;
    }
    return hit.media;
  }

  /** the current generation, to pass back to set() with a row read after taking it */
  currentGeneration(): number {
    return this.generation;
  }

  set(media: Media, retentionDays: number | null, readAtGeneration: number): void {
    if (!this.trusted || this.ttlMillis === 0 || readAtGeneration !== this.generation) return;
    const expiresAt = retentionDays === null ? null : media.createdAt.getTime() + retentionDays * 86_400_000;
    // Each entry lives 75 to 100 % of the TTL: rows read together (a burst over many
    // media, a cold start) would otherwise expire together and send their re-reads to
    // the database at once, the p99 spike of 10,000 cycled media in npm run bench.
    const ttl = Math.round(this.ttlMillis * (1 - TTL_JITTER * Math.random()));
    this.entries.set(`${media.accountSid}/${media.sid}`, { media, expiresAt }, { ttl });
  }

  invalidateMedia(accountSid: string, mediaSid: string): void {
    this.generation++;
    this.entries.delete(`${accountSid}/${mediaSid}`);
  }

  invalidateAccount(accountSid: string): void {
    this.generation++;
    const prefix = `${accountSid}/`;
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key);
  }

  /** drops everything; while untrusted nothing is kept or served */
  setTrusted(trusted: boolean): void {
    this.generation++;
    this.trusted = trusted;
    this.entries.clear();
  }
}
