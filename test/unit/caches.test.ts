import { describe, expect, it } from 'vitest';
import { MediaCache } from '../../src/domain/media-cache.js';
import { SignedUrlCache } from '../../src/domain/signed-url-cache.js';
import { testMedia } from '../support/media.js';

const cacheOn = (clock: () => Date, ttlMillis = 30_000) => new MediaCache({ max: 1000, ttlMillis, clock });

describe('MediaCache', () => {
  it('does not cache a media read before an invalidation arrived', () => {
    const cache = cacheOn(() => new Date());
    const generation = cache.currentGeneration();
    cache.invalidateAccount('AC1'); // e.g. protect-existing committed while the row was read
    cache.setMedia(testMedia('ME1'), null, generation);
    expect(cache.getMedia('AC1', 'ME1', Date.now())).toBeUndefined();
    cache.setMedia(testMedia('ME1'), null, cache.currentGeneration());
    expect(cache.getMedia('AC1', 'ME1', Date.now())?.sid).toBe('ME1');
  });

  it('forgets a media once its account retention expires it', () => {
    const cache = cacheOn(() => new Date());
    cache.setMedia(testMedia('ME2', { createdAt: new Date(Date.now() - 3 * 86_400_000) }), 2, cache.currentGeneration());
    expect(cache.getMedia('AC1', 'ME2', Date.now())).toBeUndefined();
  });

  it('keeps and serves nothing while untrusted (the invalidation feed is down)', () => {
    const cache = cacheOn(() => new Date());
    cache.setMedia(testMedia('ME3'), null, cache.currentGeneration());
    cache.setTrusted(false);
    expect(cache.getMedia('AC1', 'ME3', Date.now())).toBeUndefined();
    cache.setMedia(testMedia('ME3'), null, cache.currentGeneration());
    cache.setTrusted(true);
    expect(cache.getMedia('AC1', 'ME3', Date.now())).toBeUndefined();
  });

  it('spreads the expiry of media cached together over the last quarter of the TTL', () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const cache = cacheOn(() => new Date(now), 40_000);
    const sids = Array.from({ length: 200 }, (_, i) => `ME${i}`);
    for (const sid of sids) cache.setMedia(testMedia(sid), null, cache.currentGeneration());
    const cached = () => sids.filter((sid) => cache.getMedia('AC1', sid, now)).length;
    now += 29_999; // before 75 % of the TTL: every one
    expect(cached()).toBe(200);
    now += 5_000; // between: some expired, some not (all on one side: odds 2^-199)
    expect(cached()).toBeGreaterThan(0);
    expect(cached()).toBeLessThan(200);
    now += 5_002; // past the TTL: none
    expect(cached()).toBe(0);
  });
});

describe('SignedUrlCache', () => {
  const sign = () => {
    let n = 0;
    return async (signedAt: Date) => ({ url: `url${++n}`, signedAt });
  };

  it('reuses a URL for SIGNED_URL_REUSE_SECONDS at most with the default 4-hour lifetime', async () => {
    const cache = new SignedUrlCache({ ttlSeconds: 14_400, reuseSeconds: 60, max: 1000 });
    const signer = sign();
    const t0 = new Date('2026-01-01T00:00:00Z');
    expect((await cache.get('k', t0, signer)).url).toBe('url1');
    // Reused for 75 to 100 % of the window (spread, so URLs signed together are not all
    // signed again together): 45 to 60 s.
    expect((await cache.get('k', new Date(t0.getTime() + 44_999), signer)).url).toBe('url1');
    expect((await cache.get('k', new Date(t0.getTime() + 60_000), signer)).url).toBe('url2');
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
    for (const key of keys) await cache.get(key, t0, signer);
    const reused = keys.filter((key) => cache.peek(key, new Date(t0.getTime() + 52_500))).length;
    expect(reused).toBeGreaterThan(0); // some still reused at 52.5 s, some not
    expect(reused).toBeLessThan(200);
  });

  it('never hands out a URL older than a tenth of a short lifetime', async () => {
    const signer = sign();
    const short = new SignedUrlCache({ ttlSeconds: 30, reuseSeconds: 60, max: 1000 });
    const t0 = new Date('2026-01-01T00:00:00Z');
    await short.get('k', t0, signer);
    expect((await short.get('k', new Date(t0.getTime() + 2_000), signer)).url).toBe('url1');
    expect((await short.get('k', new Date(t0.getTime() + 3_000), signer)).url).toBe('url2');
    const tiny = new SignedUrlCache({ ttlSeconds: 5, reuseSeconds: 60, max: 1000 });
    expect((await tiny.get('k', t0, signer)).url).toBe('url3');
    expect((await tiny.get('k', t0, signer)).url).toBe('url4');
  });
});
