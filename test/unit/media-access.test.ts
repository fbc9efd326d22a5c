import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/pool.js';
import { decideMediaAccess, refusalBeforeLookup, refusalOfMedia, type AccessRefusal } from '../../src/domain/access.js';
import type { Principal } from '../../src/domain/credentials.js';
import { MediaCache } from '../../src/domain/media-cache.js';
import { cachedMedia, cachedMediaUrl, findMedia, signMediaUrl, type Media, type MediaDeps } from '../../src/domain/media.js';
import { SignedUrlCache } from '../../src/domain/signed-url-cache.js';
import type { Store, UrlToSign } from '../../src/storage/store.js';
import { testMedia } from '../support/media.js';

// The media URL's decision is written once (domain/access.ts). The full path asks it in
// two steps around its lookup; the fast path asks it once with everything in memory.
// Every case must get the same answer both ways, and the contract's.

const principals: Record<string, Principal | undefined> = {
  anonymous: undefined,
  'auth token': { accountSid: 'AC1', type: 'auth_token', credentialSid: 'AC1' },
  'API key': { accountSid: 'AC1', type: 'api_key', credentialSid: 'SK1' },
  'application A': { accountSid: 'AC1', type: 'application', credentialSid: 'app-a' },
  'application B': { accountSid: 'AC1', type: 'application', credentialSid: 'app-b' },
  'another account': { accountSid: 'AC2', type: 'auth_token', credentialSid: 'AC2' },
};

const medias: Record<string, Media | undefined> = {
  none: undefined,
  legacy: testMedia('ME1', { requiresAuth: false }),
  protected: testMedia('ME2', { requiresAuth: true }),
  "application A's": testMedia('ME3', { requiresAuth: true, applicationId: 'app-a' }),
  "application A's, legacy": testMedia('ME4', { requiresAuth: false, applicationId: 'app-a' }),
};

/** The contract's order, stated as a table. */
function expected(principal: string, media: string): AccessRefusal | undefined {
  if (principal === 'another account') return 'other_account';
  if (media === 'none') return 'not_found';
  if (principal === 'anonymous' && (media === 'protected' || media === "application A's")) return 'credentials_required';
  if (principal === 'application B' && media.startsWith("application A's")) return 'other_application';
  return undefined;
}

describe('the media access decision', () => {
  for (const [principalName, principal] of Object.entries(principals)) {
    for (const [mediaName, media] of Object.entries(medias)) {
      it(`${principalName} asking for ${mediaName} media: ${expected(principalName, mediaName) ?? 'allowed'}, both ways`, () => {
        const inMemory = decideMediaAccess(principal, 'AC1', media);
        const fullPath = refusalBeforeLookup(principal, 'AC1') ?? refusalOfMedia(principal, media);
        expect(inMemory).toBe(fullPath);
        expect(inMemory).toBe(expected(principalName, mediaName));
      });
    }
  }
});

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
    db: undefined as unknown as Db, // every media below is cached: a lookup would throw
    store,
    mediaMaxBytes: 1,
    mediaUrlTtlSeconds: 14_400,
    clock: () => now,
    mediaCache: new MediaCache({ max: 100, ttlMillis: 30_000, clock: () => now }),
    urlCache: new SignedUrlCache({ ttlSeconds: 14_400, reuseSeconds: 60, max: 100 }),
    invalidate: () => undefined,
  };
  const cache = (media: Media, retentionDays: number | null = null) => deps.mediaCache!.setMedia(media, retentionDays, deps.mediaCache!.currentGeneration());
  const whole = async (sid: string) => signMediaUrl(deps, await findMedia(deps, 'AC1', sid), { method: 'GET', attachment: false });
  const fast = (sid: string) => {
    const media = cachedMedia(deps, 'AC1', sid);
    return media && cachedMediaUrl(deps, media, { method: 'GET', attachment: false });
  };
  return { deps, signed, cache, whole, fast, advance: (ms: number) => (now = new Date(now.getTime() + ms)) };
}

describe('the redirect answered from memory', () => {
  it('names the very URL the whole path signed, without signing again', async () => {
    const t = setup();
    t.cache(testMedia('ME1', { createdAt: new Date('2026-01-01T00:00:00Z') }));
    t.cache(testMedia('ME2', { contentType: 'image/svg+xml', filename: 'x.svg', createdAt: new Date('2026-01-01T00:00:00Z') }));
    for (const sid of ['ME1', 'ME2']) {
      expect(t.fast(sid)).toBeUndefined(); // nothing signed yet: the whole path signs
      const first = await t.whole(sid);
      expect(t.fast(sid)).toEqual(first);
    }
    expect(t.signed).toHaveLength(2);
    // An active type keeps its attachment in the reused URL too.
    expect(t.fast('ME2')!.url).toContain(encodeURIComponent('attachment; filename="x.svg"'));
  });

  it('declines a URL past its reuse window and media past its retention', async () => {
    const t = setup();
    t.cache(testMedia('ME1'));
    await t.whole('ME1');
    t.advance(60_000);
    t.cache(testMedia('ME1')); // the media is fresh in memory; only the URL is a minute old
    expect(t.fast('ME1')).toBeUndefined();
    expect((await t.whole('ME1')).url).toContain('n=2'); // signed anew

    // Created a day minus 10 s ago, kept a day: gone in 10 s, while still cached.
    t.cache(testMedia('ME4', { createdAt: new Date(t.deps.clock().getTime() - 86_400_000 + 10_000) }), 1);
    await t.whole('ME4');
    expect(t.fast('ME4')).toBeDefined();
    t.advance(11_000);
    expect(t.fast('ME4')).toBeUndefined();
  });
});
