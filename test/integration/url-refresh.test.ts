import { afterEach, describe, expect, it } from 'vitest';
import { accountApi } from '../support/credentials.js';
import { TestClock } from '../support/clock.js';
import { ManualScheduler } from '../support/scheduler.js';
import { getMediaUrl, newAccount, servicesForFile, startService, uploadJson, type TestService } from '../support/service.js';

// Issue #24: a signed URL in use is signed again before its reuse window ends, off the
// request (CloudFront's RSA signature is the costly one), and invalidations heard by
// NOTIFY stop that. Instance B signs through CloudFront on a pinned clock whose timers the
// test moves; instance A makes the changes B hears of.

const TTL_SECONDS = 14_400;
const clock = new TestClock();
const service = servicesForFile();
afterEach(() => clock.release());

async function refreshingInstance(): Promise<{ b: TestService; step: (seconds: number) => Promise<void> }> {
  const scheduler = new ManualScheduler();
  const b = await service({ storeKind: 'cloudfront', clock: clock.now, scheduler });
  const step = async (seconds: number) => {
    for (let i = 0; i < seconds; i++) {
      clock.pin(clock.now().getTime() + 1000);
      scheduler.advance(1000);
      await b.service.urlCaches.media!.settled();
    }
  };
  return { b, step };
}

/** B's signatures of media URLs so far: by a request, and by the refresh */
async function signatures(b: TestService): Promise<{ request: number; refresh: number }> {
  const text = await (await fetch(`${b.baseUrl}/metrics`)).text();
  const count = (source: string) =>
    Number(text.split('\n').find((line) => line.startsWith('mediagate_url_signatures_total{') && line.includes('cache="media"') && line.includes(`source="${source}"`))?.split(' ')[1] ?? 0);
  return { request: count('request'), refresh: count('refresh') };
}

async function expiresOf(url: string, authorization?: string): Promise<{ location: string; expires: number }> {
  const res = await getMediaUrl(url, authorization ? { headers: { Authorization: authorization } } : {});
  expect(res.status).toBe(302);
  const location = res.headers.get('location')!;
  return { location, expires: Number(new URL(location).searchParams.get('Expires')) };
}

describe('signed URLs refreshed ahead of their reuse window', () => {
  it('signs a URL in use again before its window ends, off the request; the edge takes the new one', async () => {
    const { b, step } = await refreshingInstance();
    const owner = await newAccount(b.db, 'refresh');
    const media = await uploadJson(b, owner, 'refreshed bytes');
    const t0 = clock.pin().getTime() / 1000;
    expect((await expiresOf(media.url)).expires).toBe(t0 + TTL_SECONDS);
    let last = { location: '', expires: 0 };
    // A request every 5 s for 2 minutes: each gets a URL signed less than the window
    // (60 s) ago, from memory or after a database read of the row, never after a signature.
    for (let elapsed = 5; elapsed <= 120; elapsed += 5) {
      await step(5);
      last = await expiresOf(media.url);
      const signedAt = last.expires - TTL_SECONDS;
      expect(t0 + elapsed - signedAt).toBeLessThan(60);
    }
    expect(await signatures(b)).toMatchObject({ request: 1 });
    expect((await signatures(b)).refresh).toBeGreaterThanOrEqual(2);
    const delivered = await fetch(last.location);
    expect(delivered.status).toBe(200);
    expect(await delivered.text()).toBe('refreshed bytes');
  });

  it('does not refresh the URL of a media deleted through another instance (NOTIFY)', async () => {
    const { b, step } = await refreshingInstance();
    const a = await startService();
    try {
      const owner = await newAccount(a.db, 'deleted');
      const media = await uploadJson(a, owner, 'soon gone');
      const onB = media.url.replace(a.baseUrl, b.baseUrl);
      clock.pin();
      await expiresOf(onB);
      await step(5);
      await expiresOf(onB); // reused: armed for a refresh
      expect(b.service.urlCaches.media!.stats().entries).toBe(1);
      const heard = b.nextInvalidation(owner.sid);
      expect((await accountApi(a, owner, `/media/${media.sid}`, { method: 'DELETE' })).status).toBe(204);
      await heard;
      expect(b.service.urlCaches.media!.stats()).toMatchObject({ entries: 0, scheduled: 0 });
      await step(60);
      expect(await signatures(b)).toEqual({ request: 1, refresh: 0 });
      expect((await getMediaUrl(onB)).status).toBe(404);
    } finally {
      await a.close();
    }
  });

  it('does not refresh URLs of an account whose media were protected through another instance, until a request reuses them', async () => {
    const { b, step } = await refreshingInstance();
    const a = await startService();
    try {
      const owner = await newAccount(a.db, 'switched');
      const legacy = await uploadJson(a, owner, 'public for now');
      const onB = legacy.url.replace(a.baseUrl, b.baseUrl);
      clock.pin();
      await expiresOf(onB);
      await step(5);
      await expiresOf(onB); // reused anonymously: armed
      const heard = b.nextInvalidation(owner.sid);
      expect((await accountApi(a, owner, '/settings/media-protection/protect-existing', { method: 'POST', json: { kind: 'message' } })).status).toBe(200);
      await heard;
      expect(b.service.urlCaches.media!.stats().entries).toBe(1); // kept, but not refreshed
      await step(60);
      expect(await signatures(b)).toEqual({ request: 1, refresh: 0 });
      // Protected now: refused without credentials, whatever B had in memory.
      expect((await getMediaUrl(onB)).status).toBe(401);
      // The owner's request signs, its reuse arms the refresh again.
      await expiresOf(onB, owner.basic);
      await step(5);
      await expiresOf(onB, owner.basic);
      await step(60);
      expect(await signatures(b)).toMatchObject({ request: 2 });
      expect((await signatures(b)).refresh).toBeGreaterThanOrEqual(1);
    } finally {
      await a.close();
    }
  });
});
