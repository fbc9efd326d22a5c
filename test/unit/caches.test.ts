import { describe, expect, it } from 'vitest';
import { MediaCache } from '../../src/domain/media-cache.js';
import { SignedUrlCache } from '../../src/domain/signed-url-cache.js';
import { mediaRow } from '../support/media-row.js';

describe('MediaCache', () => {
  it('does not cache a row read before an invalidation arrived', () => {
    const cache = new MediaCache();
    const generation = cache.currentGeneration();
    cache.invalidateAccount('AC1'); // e.g. protect-existing committed while the row was read
    cache.set(mediaRow('ME1'), null, generation);
    expect(cache.get('AC1', 'ME1', Date.now())).toBeUndefined();
    cache.set(mediaRow('ME1'), null, cache.currentGeneration());
    expect(cache.get('AC1', 'ME1', Date.now())?.sid).toBe('ME1');
  });

  it('forgets a row once its account retention expires it', () => {
    const cache = new MediaCache();
    const old = { ...mediaRow('ME2'), created_at: new Date(Date.now() - 3 * 86_400_000) };
    cache.set(old, 2, cache.currentGeneration());
    expect(cache.get('AC1', 'ME2', Date.now())).toBeUndefined();
  });
});

describe('MediaCache expiry', () => {
  it('spreads the expiry of rows cached together over the last quarter of the TTL', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const cache = new MediaCache({ ttlMillis: 40_000, clock: () => new Date(now) });
    // lru-cache reuses its reading of the clock for 1 ms (ttlResolution): let that pass.
    const move = async (ms: number) => {
      now += ms;
      await new Promise((resolve) => setTimeout(resolve, 5));
    };
    const sids = Array.from({ length: 200 }, (_, i) => `ME${i}`);
    for (const sid of sids) cache.set(mediaRow(sid), null, cache.currentGeneration());
    const cached = () => sids.filter((sid) => cache.get('AC1', sid, now)).length;
    await move(29_999); // before 75 % of the TTL: every row
    expect(cached()).toBe(200);
    await move(5_000); // between: some expired, some not (all on one side: odds 2^-199)
    expect(cached()).toBeGreaterThan(0);
    expect(cached()).toBeLessThan(200);
    await move(5_002); // past the TTL: none
    expect(cached()).toBe(0);
  });
});

describe('SignedUrlCache', () => {
  it('reuses a URL for 60 s at most with the default 4-hour lifetime', async () => {
    const cache = new SignedUrlCache(14_400);
    let n = 0;
    const sign = async (signedAt: Date) => ({ url: `url${++n}`, signedAt });
    const t0 = new Date('2026-01-01T00:00:00Z');
    expect((await cache.get('k', t0, sign)).url).toBe('url1');
    // Reused for 75 to 100 % of the window (spread, so URLs signed together are not all
    // signed again together): 45 to 60 s.
    expect((await cache.get('k', new Date(t0.getTime() + 44_999), sign)).url).toBe('url1');
    expect((await cache.get('k', new Date(t0.getTime() + 60_000), sign)).url).toBe('url2');
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
    for (const key of keys) await cache.get(key, t0, sign);
    const reused = keys.filter((key) => cache.peek(key, new Date(t0.getTime() + 52_500))).length;
    expect(reused).toBeGreaterThan(0); // some still reused at 52.5 s, some not
    expect(reused).toBeLessThan(200);
  });

  it('never hands out a URL older than a tenth of a short lifetime', async () => {
    let n = 0;
    const sign = async (signedAt: Date) => ({ url: `url${++n}`, signedAt });
    const short = new SignedUrlCache(30);
    const t0 = new Date('2026-01-01T00:00:00Z');
    await short.get('k', t0, sign);
    expect((await short.get('k', new Date(t0.getTime() + 2_000), sign)).url).toBe('url1');
    expect((await short.get('k', new Date(t0.getTime() + 3_000), sign)).url).toBe('url2');
    const tiny = new SignedUrlCache(5);
    expect((await tiny.get('k', t0, sign)).url).toBe('url3');
    expect((await tiny.get('k', t0, sign)).url).toBe('url4');
  });
});
