import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/pool.js';
import type { MediaRow } from '../../src/db/queries/media.js';
import type { Principal } from '../../src/domain/credentials.js';
import { InvalidCredentials, Forbidden } from '../../src/domain/errors.js';
import { MediaCache } from '../../src/domain/media-cache.js';
import { cachedMediaUrl, findAccessibleMedia, signMediaUrl, type MediaDeps } from '../../src/domain/media.js';
import { SignedUrlCache } from '../../src/domain/signed-url-cache.js';
import type { Store, UrlToSign } from '../../src/storage/store.js';
import { mediaRow } from '../support/media-row.js';

// The redirect's fast path must say yes only where the whole path (findAccessibleMedia,
// then signMediaUrl) would, and then say the same thing.

const owner: Principal = { accountSid: 'AC1', type: 'auth_token', credentialSid: 'AC1' };
const otherApp: Principal = { accountSid: 'AC1', type: 'application', credentialSid: 'app-b' };

const row = (sid: string, extra: Partial<MediaRow> = {}) =>
  mediaRow(sid, { requires_auth: true, created_at: new Date('2026-01-01T00:00:00Z'), ...extra });

function setup() {
  let now = new Date('2026-01-02T00:00:00Z');
  const signed: UrlToSign[] = [];
  const store = {
    async signUrl(request: UrlToSign) {
      signed.push(request);
      return `https://store.example/${request.key}?n=${signed.length}&cd=${encodeURIComponent(request.contentDisposition ?? '')}`;
    },
  } as unknown as Store;
  const deps: MediaDeps = {
    db: undefined as unknown as Db, // every row below is cached: a lookup would throw
    store,
    mediaMaxBytes: 1,
    mediaUrlTtlSeconds: 14_400,
    clock: () => now,
    mediaCache: new MediaCache({ clock: () => now }),
    urlCache: new SignedUrlCache(14_400),
    invalidate: () => undefined,
  };
  const cache = (media: MediaRow, retentionDays: number | null = null) =>
    deps.mediaCache!.set(media, retentionDays, deps.mediaCache!.currentGeneration());
  const whole = async (mediaSid: string, principal: Principal | undefined) => {
    const media = await findAccessibleMedia(deps, { accountSid: 'AC1', mediaSid, principal });
    return signMediaUrl(deps, media, { method: 'GET', attachment: false });
  };
  const fast = (mediaSid: string, principal: Principal | undefined) =>
    cachedMediaUrl(deps, { accountSid: 'AC1', mediaSid, principal }, { method: 'GET', attachment: false });
  return { deps, signed, cache, whole, fast, advance: (ms: number) => (now = new Date(now.getTime() + ms)) };
}

describe('cachedMediaUrl, the redirect answered from memory', () => {
  it('answers a repeated redirect exactly as the whole path does, without signing again', async () => {
    const t = setup();
    t.cache(row('ME1'));
    t.cache(row('ME2', { content_type: 'image/svg+xml', filename: 'x.svg' }));
    for (const sid of ['ME1', 'ME2']) {
      expect(t.fast(sid, owner)).toBeUndefined(); // nothing signed yet: the whole path signs
      const first = await t.whole(sid, owner);
      expect(t.fast(sid, owner)).toEqual(first);
    }
    expect(t.signed).toHaveLength(2);
    // An active type keeps its attachment in the reused URL too.
    expect(t.fast('ME2', owner)!.url).toContain(encodeURIComponent('attachment; filename="x.svg"'));
  });

  it('leaves every refusal to the whole path', async () => {
    const t = setup();
    t.cache(row('ME1'));
    t.cache(row('ME3', { application_id: 'app-a' }));
    await t.whole('ME1', owner);
    await t.whole('ME3', owner);
    expect(t.fast('ME1', undefined)).toBeUndefined();
    await expect(t.whole('ME1', undefined)).rejects.toBeInstanceOf(InvalidCredentials);
    expect(t.fast('ME3', otherApp)).toBeUndefined();
    await expect(t.whole('ME3', otherApp)).rejects.toBeInstanceOf(Forbidden);
  });

  it('declines a URL past its reuse window and media past its retention', async () => {
    const t = setup();
    t.cache(row('ME1'));
    await t.whole('ME1', owner);
    t.advance(60_000);
    t.cache(row('ME1')); // the row is fresh in memory; only the URL is a minute old
    expect(t.fast('ME1', owner)).toBeUndefined();
    expect((await t.whole('ME1', owner)).url).toContain('n=2'); // signed anew

    // Created a day minus 10 s ago, kept a day: gone in 10 s, while still cached.
    t.cache(row('ME4', { created_at: new Date(t.deps.clock().getTime() - 86_400_000 + 10_000) }), 1);
    await t.whole('ME4', owner);
    expect(t.fast('ME4', owner)).toBeDefined();
    t.advance(11_000);
    expect(t.fast('ME4', owner)).toBeUndefined();
  });
});
