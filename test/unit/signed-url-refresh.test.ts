import { describe, expect, it } from 'vitest';
import { SignedUrlCache, type SignatureSource, type SignedUrl } from '../../src/domain/signed-url-cache.js';
import { TestClock } from '../support/clock.js';
import { ManualScheduler } from '../support/scheduler.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const OWNER = { accountSid: 'AC1', mediaSid: 'ME1' };

/**
 * A cache with refresh ahead on a pinned TestClock and a ManualScheduler: `advance` moves
 * both a step at a time (as the real timer would fire) and lets each step's refreshes
 * finish. Signatures are recorded with the clock's reading when they were made.
 */
function refreshingCache(options: { max?: number; ttlSeconds?: number; reuseSeconds?: number } = {}) {
  const clock = new TestClock();
  clock.pin(T0);
  const scheduler = new ManualScheduler();
  const counts: Record<SignatureSource, number> = { request: 0, refresh: 0, refresh_failed: 0 };
  const cache = new SignedUrlCache({
    ttlSeconds: options.ttlSeconds ?? 14_400,
    reuseSeconds: options.reuseSeconds ?? 60,
    max: options.max ?? 1000,
    refresh: { clock: clock.now, scheduler },
    onSignature: (source) => counts[source]++,
  });
  const signed: { key: string; signedAt: number; clockAt: number }[] = [];
  let fail = false;
  let inFlight = 0;
  let maxInFlight = 0;
  let hold: Promise<void> | undefined;
  const signer =
    (key: string) =>
    async (signedAt: Date): Promise<SignedUrl> => {
      signed.push({ key, signedAt: signedAt.getTime(), clockAt: clock.now().getTime() });
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        await new Promise((resolve) => setImmediate(resolve));
        if (hold) await hold;
        if (fail) throw new Error('signing failed');
        return { url: `https://cdn.test/${key}?signed=${signedAt.getTime()}`, signedAt };
      } finally {
        inFlight--;
      }
    };
  const request = (key: string, owner = OWNER) => cache.get(key, clock.now(), signer(key), owner);
  const advance = async (millis: number, step = 1000) => {
    for (let done = 0; done < millis; done += step) {
      clock.pin(clock.now().getTime() + step);
      scheduler.advance(step);
      await cache.settled();
    }
  };
  return {
    cache,
    clock,
    scheduler,
    counts,
    signed,
    request,
    advance,
    failSignatures: (value: boolean) => (fail = value),
    holdSignatures: () => {
      let release!: () => void;
      hold = new Promise<void>((resolve) => (release = resolve));
      return () => {
        hold = undefined;
        release();
      };
    },
    maxInFlight: () => maxInFlight,
  };
}

describe('SignedUrlCache: refresh ahead', () => {
  it('signs a URL reused within its window again before the window ends, off the request', async () => {
    const t = refreshingCache();
    expect((await t.request('k')).signedAt.getTime()).toBe(T0);
    expect(t.counts.request).toBe(1);
    // A request every 5 s for 10 minutes: every one answered from the cache with a URL
    // signed less than the window (60 s) ago; no request ever signs again.
    for (let elapsed = 5_000; elapsed <= 600_000; elapsed += 5_000) {
      await t.advance(5_000);
      const now = t.clock.now().getTime();
      const hit = t.cache.peek('k', t.clock.now());
      expect(hit, `at ${elapsed} ms`).toBeDefined();
      expect(now - hit!.signedAt.getTime()).toBeLessThan(60_000);
      expect((await t.request('k')).url).toBe(hit!.url);
    }
    expect(t.counts.request).toBe(1);
    // Once per 15-50 s (45-60 s of reuse, the window's jitter, less a lead of 10-30 s).
    expect(t.counts.refresh).toBeGreaterThanOrEqual(11);
    expect(t.counts.refresh).toBeLessThanOrEqual(41);
    // Each refresh signed as of the clock's reading when it ran (exact expiries follow from it).
    for (const s of t.signed) expect(s.signedAt).toBe(s.clockAt);
    const current = t.cache.peek('k', t.clock.now())!;
    expect(t.signed.at(-1)!.signedAt).toBe(current.signedAt.getTime());
  });

  it('lets an idle URL run out: not reused since it was signed, not signed again', async () => {
    const t = refreshingCache();
    await t.request('k');
    await t.advance(61_000);
    expect(t.counts.refresh).toBe(0);
    expect(t.cache.peek('k', t.clock.now())).toBeUndefined();
    await t.request('k'); // its next request signs, as a first request does
    expect(t.counts.request).toBe(2);
    expect(t.cache.stats().scheduled).toBe(1);
  });

  it('refreshes a URL reused once a single time, then lets it run out', async () => {
    const t = refreshingCache();
    await t.request('k');
    await t.advance(5_000);
    await t.request('k'); // a reuse
    await t.advance(180_000);
    expect(t.counts.refresh).toBe(1);
    expect(t.counts.request).toBe(1);
    expect(t.cache.peek('k', t.clock.now())).toBeUndefined();
  });

  it('does not refresh a deleted media: its URLs are dropped', async () => {
    const t = refreshingCache();
    await t.request('k');
    await t.request('other', { accountSid: 'AC1', mediaSid: 'ME2' });
    await t.advance(5_000);
    await t.request('k');
    await t.request('other', { accountSid: 'AC1', mediaSid: 'ME2' });
    t.cache.dropMedia('AC1', 'ME1');
    expect(t.cache.peek('k', t.clock.now())).toBeUndefined();
    await t.advance(60_000);
    expect(t.signed.filter((s) => s.key === 'k')).toHaveLength(1); // its first request's only
    expect(t.signed.filter((s) => s.key === 'other')).toHaveLength(2); // the other media: refreshed
    expect(t.cache.stats()).toMatchObject({ entries: 1, queued: 0, signing: 0 });
  });

  it("does not refresh an account's URLs after a change to it, until a request reuses them again", async () => {
    const t = refreshingCache();
    await t.request('k');
    await t.request('elsewhere', { accountSid: 'AC2', mediaSid: 'ME9' });
    await t.advance(5_000);
    await t.request('k');
    await t.request('elsewhere', { accountSid: 'AC2', mediaSid: 'ME9' });
    t.cache.disarmAccount('AC1'); // e.g. a protection switch, heard by NOTIFY
    await t.advance(60_000);
    expect(t.signed.filter((s) => s.key === 'k')).toHaveLength(1);
    expect(t.signed.filter((s) => s.key === 'elsewhere')).toHaveLength(2); // another account's: refreshed
    // A request after the change (decided on fresh rows) signs, and its reuse arms the refresh again.
    await t.request('k');
    await t.advance(5_000);
    await t.request('k');
    await t.advance(60_000);
    expect(t.counts.request).toBe(3);
    expect(t.signed.filter((s) => s.key === 'k')).toHaveLength(3);
  });

  it('throws away a refresh that was being signed when an invalidation arrived', async () => {
    for (const invalidate of [
      (cache: SignedUrlCache) => cache.dropMedia('AC1', 'ME1'),
      (cache: SignedUrlCache) => cache.disarmAccount('AC1'),
      (cache: SignedUrlCache) => cache.setTrusted(false),
    ]) {
      const t = refreshingCache();
      const first = await t.request('k');
      await t.advance(5_000);
      await t.request('k');
      const release = t.holdSignatures();
      // Step to the refresh: it starts signing, and waits.
      for (let i = 0; i < 60 && t.cache.stats().signing === 0; i++) {
        t.clock.pin(t.clock.now().getTime() + 1000);
        t.scheduler.advance(1000);
      }
      expect(t.cache.stats().signing).toBe(1);
      invalidate(t.cache);
      release();
      await t.cache.settled();
      expect(t.counts.refresh).toBe(1); // signed, and not kept
      const hit = t.cache.peek('k', t.clock.now());
      expect(hit === undefined || hit.url === first.url).toBe(true);
      await t.advance(60_000);
      expect(t.counts.refresh).toBe(1);
      expect(t.cache.peek('k', t.clock.now())).toBeUndefined();
    }
  });

  it('refreshes nothing while untrusted (the invalidation feed is down), not even URLs reused meanwhile', async () => {
    const t = refreshingCache();
    await t.request('a');
    await t.advance(5_000);
    t.cache.setTrusted(false);
    await t.request('a'); // reused during the outage (a request decided by the database)
    await t.advance(55_000); // past the window: never refreshed
    expect(t.signed.filter((s) => s.key === 'a')).toHaveLength(1);
    expect(t.cache.peek('a', t.clock.now())).toBeUndefined();
    t.cache.setTrusted(true);
    await t.request('a'); // the feed is back: signed by its request, refreshed once reused
    await t.advance(5_000);
    await t.request('a');
    await t.advance(50_000);
    expect(t.counts).toEqual({ request: 2, refresh: 1, refresh_failed: 0 });
  });

  it('keeps serving the URL in hand when a refresh fails; a request signs once its window ends', async () => {
    const t = refreshingCache();
    const first = await t.request('k');
    await t.advance(5_000);
    await t.request('k');
    t.failSignatures(true);
    await t.advance(40_000);
    const hit = t.cache.peek('k', t.clock.now());
    expect(hit === undefined || hit.url === first.url).toBe(true);
    await t.advance(20_000);
    expect(t.counts.refresh_failed).toBe(1);
    t.failSignatures(false);
    expect((await t.request('k')).signedAt.getTime()).toBe(t.clock.now().getTime());
    expect(t.counts.request).toBe(2);
  });

  it('signs at most four at once, and stays within the cache size', async () => {
    const t = refreshingCache({ max: 100 });
    const keys = Array.from({ length: 1000 }, (_, i) => `k${i}`);
    for (const key of keys) await t.request(key, { accountSid: 'AC1', mediaSid: key });
    await t.advance(1000);
    for (const key of keys.slice(-100)) await t.request(key, { accountSid: 'AC1', mediaSid: key }); // reused
    expect(t.counts.request).toBe(1000);
    const { entries, scheduled, queued } = t.cache.stats();
    expect(entries).toBe(100);
    // Only URLs the cache holds wait for their refresh time: the 900 evicted are gone.
    expect(scheduled).toBe(100);
    expect(queued).toBe(0);
    await t.advance(60_000);
    expect(t.counts.refresh).toBe(100); // the hundred held (and reused), each once
    expect(t.maxInFlight()).toBe(4);
    expect(t.cache.stats().entries).toBe(100);
    expect(t.cache.stats().scheduled).toBeLessThanOrEqual(100); // the refreshed ones, until they fall due
  });

  it('refreshes within a short window too (a tenth of a 30 s lifetime: 3 s)', async () => {
    const t = refreshingCache({ ttlSeconds: 30 });
    await t.request('k');
    for (let elapsed = 0; elapsed < 30_000; elapsed += 250) {
      await t.advance(250, 50);
      expect(t.cache.peek('k', t.clock.now()), `at ${elapsed} ms`).toBeDefined();
    }
    expect(t.counts.request).toBe(1);
    expect(t.counts.refresh).toBeGreaterThanOrEqual(10);
  });

  it('stops its timer', () => {
    const scheduler = new ManualScheduler();
    const cache = new SignedUrlCache({ ttlSeconds: 14_400, reuseSeconds: 60, max: 10, refresh: { clock: () => new Date(), scheduler } });
    expect(scheduler.pending).toBe(1);
    cache.stop();
    expect(scheduler.pending).toBe(0);
    // No window, nothing to refresh: no timer at all.
    new SignedUrlCache({ ttlSeconds: 5, reuseSeconds: 60, max: 10, refresh: { clock: () => new Date(), scheduler } });
    expect(scheduler.pending).toBe(0);
  });
});
