import { LRUCache } from 'lru-cache';
import type { Scheduler } from '../scheduler.js';

export interface SignedUrl {
  url: string;
  signedAt: Date;
}

/** Signs the cached URL anew, as of `signedAt` (the request's own signer, kept for refreshes). */
export type UrlSigner = (signedAt: Date) => Promise<SignedUrl>;

/** Whose URL it is: invalidations of that account or media reach it. */
export interface UrlOwner {
  accountSid: string;
  mediaSid: string;
}

/** Who signed a URL: a request that waited for it, or the refresh ahead of its window's end. */
export type SignatureSource = 'request' | 'refresh' | 'refresh_failed';

export interface RefreshOptions {
  clock: () => Date;
  scheduler: Scheduler;
  /**
   * signatures of the refresh in flight at once (default 4, libuv's pool size): a signature
   * done on the pool comes back once per turn of the event loop, so this is the refresh's
   * rate per turn; under load (turns of ~5 ms) 1 or 2 fell behind 10,000 cycled media and
   * let URLs run out of their windows, 4 kept up (docs/performance.md)
   */
  concurrency?: number;
}

interface Refresh {
  clock: () => Date;
  concurrency: number;
  /** signed anew at least this long before the window ends (a sixth of it) */
  leadMillis: number;
  /** the timer's period: URLs falling due are collected this often */
  tickMillis: number;
}

/**
 * Reuses a signed URL for the same object, method and disposition for up to
 * the reuse window, so that a hot media costs a map lookup instead of a signature (SigV4
 * HMACs, Ed25519 for the local store: ~35 µs each; CloudFront's RSA-2048: ~0.3–0.7 ms). A
 * reused URL still expires MEDIA_URL_TTL_SECONDS after it was signed, so at most the window
 * earlier than a fresh one would. Only consulted after the media row was found and access
 * decided: a deleted media never gets a cached URL.
 *
 * Refresh ahead (with `refresh`): a URL served again within its window (a reuse, not the
 * request that signed it) is signed anew shortly before the window ends, off the request:
 * a timer collects the URLs falling due, and a small queue signs them one or two at a time,
 * yielding to the event loop between signatures. A URL in use therefore never expires
 * under its requests; an idle one (not reused since it was signed) simply runs out, and
 * its next request signs, as a never-seen media's first request does. Invalidations stop
 * it: a deleted media's URLs are dropped, an account's change (a setting switched,
 * protect-existing, credentials, share links) disarms its URLs, which are refreshed again
 * only once a request, decided on fresh rows, reuses them; a refresh that finishes after
 * either is thrown away. While the invalidation feed is down nothing is refreshed.
 */
export class SignedUrlCache {
  private readonly urls: LRUCache<string, ReusableUrl>;
  private readonly reuseMillis: number;
  private readonly refresh: Refresh | undefined;
  private readonly onSignature: (source: SignatureSource) => void;
  /** URLs waiting for their refresh time, by the tick it falls in (only URLs the LRU holds) */
  private readonly due = new Map<number, Set<ReusableUrl>>();
  /** URLs fallen due and reused: signed anew in this order */
  private queue: ReusableUrl[] = [];
  private queueHead = 0;
  private workers = 0;
  private signing = 0;
  private trusted = true;
  private stopTimer: () => void = () => {};
  private waiters: (() => void)[] = [];

  /** Reuse for reuseSeconds at most, and never more than a tenth of the URLs' lifetime. */
  constructor(options: {
    ttlSeconds: number;
    reuseSeconds: number;
    max: number;
    /** set: URLs in use are signed anew before their window ends (see above) */
    refresh?: RefreshOptions | undefined;
    /** counts each signature by who made it */
    onSignature?: ((source: SignatureSource) => void) | undefined;
  }) {
    this.reuseMillis = Math.min(options.reuseSeconds, Math.floor(options.ttlSeconds / 10)) * 1000;
    this.urls = new LRUCache({ max: options.max, dispose: (entry) => this.unschedule(entry) });
    this.onSignature = options.onSignature ?? (() => {});
    if (options.refresh && this.reuseMillis > 0) {
      // Signed anew between half and a sixth of the window before it ends (30 to 10 s of
      // 60 s); the timer looks four times within the shortest lead, at most once a second.
      const leadMillis = Math.round(this.reuseMillis / 6);
      const tickMillis = Math.min(1000, Math.max(50, Math.floor(leadMillis / 4)));
      this.refresh = { clock: options.refresh.clock, concurrency: options.refresh.concurrency ?? 4, leadMillis, tickMillis };
      this.stopTimer = options.refresh.scheduler.every(tickMillis, () => this.collectDue());
    }
  }

  /** a URL still fit for reuse at `now`, or undefined; a hit counts as a reuse (it arms the refresh) */
  peek(key: string, now: Date): SignedUrl | undefined {
    const hit = this.urls.get(key);
    if (!hit) return undefined;
    const age = now.getTime() - hit.signedAt.getTime();
    if (age < 0 || age >= hit.reuseMillis) return undefined;
    hit.reused = true;
    return hit;
  }

  async get(key: string, now: Date, sign: UrlSigner, owner?: UrlOwner): Promise<SignedUrl> {
    const hit = this.peek(key, now);
    if (hit) return hit;
    const signed = await sign(now);
    this.onSignature('request');
    if (this.reuseMillis === 0) return signed;
    this.install(key, signed, sign, owner);
    return signed;
  }

  /** a deleted media's URLs: dropped (nothing will reuse them, nothing refreshes them) */
  dropMedia(accountSid: string, mediaSid: string): void {
    const keys: string[] = [];
    for (const [key, entry] of this.urls.entries()) if (entry.owner?.accountSid === accountSid && entry.owner.mediaSid === mediaSid) keys.push(key);
    for (const key of keys) this.urls.delete(key);
  }

  /** after a change to the account: its URLs are refreshed again only once a request reuses them */
  disarmAccount(accountSid: string): void {
    for (const entry of this.urls.values()) if (entry.owner?.accountSid === accountSid) entry.reused = false;
  }

  /** untrusted (the invalidation feed is down): nothing is refreshed, and every URL is disarmed */
  setTrusted(trusted: boolean): void {
    this.trusted = trusted;
    if (!trusted) for (const entry of this.urls.values()) entry.reused = false;
  }

  /** stops the refresh's timer (signatures in flight finish, and are kept) */
  stop(): void {
    this.stopTimer();
  }

  /** what the cache holds now: URLs, those waiting for their refresh time, queued, being signed */
  stats(): { entries: number; scheduled: number; queued: number; signing: number } {
    let scheduled = 0;
    for (const bucket of this.due.values()) scheduled += bucket.size;
    return { entries: this.urls.size, scheduled, queued: this.queue.length - this.queueHead, signing: this.signing };
  }

  /** resolves once no refresh is queued or in flight (tests) */
  settled(): Promise<void> {
    if (this.workers === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private install(key: string, signed: SignedUrl, sign: UrlSigner, owner: UrlOwner | undefined): void {
    // Each URL is reused for 75 to 100 % of the window: URLs signed together (a burst
    // over many media) would otherwise all fall due together, a queue of signatures
    // (~0.3–0.7 ms each for CloudFront's RSA) that showed as the p99 of 10,000 cycled
    // media in npm run bench.
    const entry: ReusableUrl = {
      url: signed.url,
      signedAt: signed.signedAt,
      reuseMillis: Math.round(this.reuseMillis * (1 - REUSE_JITTER * Math.random())),
      reused: false,
      owner,
      sign: this.refresh ? sign : undefined,
      dueTick: undefined,
      key,
    };
    this.urls.set(key, entry);
    if (this.refresh) {
      // A lead drawn at random: URLs signed in one burst (a cold start, a first pass over
      // many media) are refreshed over a third of the window rather than together, a
      // burst of signatures that took CPU from every request (measured, 10,000 cycled media).
      const { leadMillis, tickMillis } = this.refresh;
      const lead = leadMillis * (1 + 2 * Math.random());
      const dueTick = Math.ceil((entry.signedAt.getTime() + entry.reuseMillis - lead) / tickMillis);
      let bucket = this.due.get(dueTick);
      if (!bucket) this.due.set(dueTick, (bucket = new Set()));
      bucket.add(entry);
      entry.dueTick = dueTick;
    }
  }

  /** the LRU let go of the entry (evicted, replaced, dropped): it no longer falls due */
  private unschedule(entry: ReusableUrl): void {
    if (entry.dueTick === undefined) return;
    const bucket = this.due.get(entry.dueTick);
    bucket?.delete(entry);
    if (bucket?.size === 0) this.due.delete(entry.dueTick);
    entry.dueTick = undefined;
  }

  /** the timer: URLs whose refresh time has come, and that were reused, join the queue */
  private collectDue(): void {
    const refresh = this.refresh!;
    const nowTick = Math.floor(refresh.clock().getTime() / refresh.tickMillis);
    for (const [tick, bucket] of this.due) {
      if (tick > nowTick) continue;
      this.due.delete(tick);
      for (const entry of bucket) {
        entry.dueTick = undefined;
        // Bounded as the cache is: past `max` waiting, the rest are signed by their requests.
        if (this.trusted && entry.reused && this.queue.length - this.queueHead < this.urls.max) this.queue.push(entry);
      }
    }
    this.pump();
  }

  /**
   * Starts workers up to `concurrency`. Each signs one URL at a time; after a signature
   * that never left the event loop (SigV4, Ed25519: computed in place) it yields a turn
   * before the next, while one signed on libuv's pool (CloudFront's RSA) already let the
   * loop run meanwhile and goes straight on.
   */
  private pump(): void {
    const refresh = this.refresh!;
    while (this.workers < refresh.concurrency && this.queueHead < this.queue.length) {
      this.workers++;
      void this.work().finally(() => {
        this.workers--;
        if (this.workers === 0) for (const resolve of this.waiters.splice(0)) resolve();
      });
    }
  }

  private async work(): Promise<void> {
    while (this.queueHead < this.queue.length) {
      const entry = this.queue[this.queueHead++]!;
      if (this.queueHead >= this.queue.length) {
        this.queue = [];
        this.queueHead = 0;
      }
      if (!this.stillWanted(entry)) continue;
      let loopRan = false;
      const probe = setImmediate(() => (loopRan = true));
      this.signing++;
      try {
        await this.signAgain(entry);
      } finally {
        this.signing--;
      }
      if (!loopRan) await new Promise((resolve) => setImmediate(resolve));
      clearImmediate(probe);
    }
  }

  /** still the cached URL, reused since it was signed or armed again, and trusted */
  private stillWanted(entry: ReusableUrl): boolean {
    return this.trusted && entry.reused && this.urls.peek(entry.key) === entry;
  }

  private async signAgain(entry: ReusableUrl): Promise<void> {
    const refresh = this.refresh!;
    const now = refresh.clock();
    // Its window ended while it waited: the next request signs, as for an idle URL.
    if (now.getTime() - entry.signedAt.getTime() >= entry.reuseMillis) return;
    let signed: SignedUrl;
    try {
      signed = await entry.sign!(now);
    } catch {
      // The URL in hand stays good until its window ends; then a request signs, and
      // reports whatever fails.
      this.onSignature('refresh_failed');
      return;
    }
    this.onSignature('refresh');
    // An invalidation (or a request that signed meanwhile) while this one signed: kept out.
    if (this.stillWanted(entry)) this.install(entry.key, signed, entry.sign!, entry.owner);
  }
}

const REUSE_JITTER = 0.25;

interface ReusableUrl extends SignedUrl {
  reuseMillis: number;
  /** served from the cache since it was signed (armed for a refresh) */
  reused: boolean;
  owner: UrlOwner | undefined;
  /** the signer that made it, kept to sign it anew (refresh only) */
  sign: UrlSigner | undefined;
  /** the tick it falls due in, while it waits for it */
  dueTick: number | undefined;
  key: string;
}
