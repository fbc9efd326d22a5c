import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountApi, bearerFor, createApiKey, registerApplication } from '../support/credentials.js';
import {
  basicAuth,
  getMediaUrl,
  newAccount,
  setProtection,
  startService,
  uploadJson,
  type TestAccount,
  type TestService,
} from '../support/service.js';

// Two instances of the service over one database, as behind a load balancer. Each test
// waits for instance B to apply the invalidation that A's change sent (no polling, no
// sleep), prints how long that took, and checks B's answers right after.
let a: TestService;
let b: TestService;
beforeAll(async () => {
  a = await startService();
  b = await startService();
  await Promise.all([a.feed.ready(), b.feed.ready()]);
});
afterAll(async () => {
  await a.close();
  await b.close();
});

/** Runs `change` on instance A; resolves once B applied the invalidation it sent, with the delay. */
async function throughA(accountSid: string, change: () => Promise<unknown>): Promise<number> {
  const seenByB = b.nextInvalidation(accountSid);
  const started = performance.now();
  await change();
  await seenByB;
  return performance.now() - started;
}

/** A new account with a protected media on instance A, and that media's URL on B. */
async function protectedMediaOnB(): Promise<{ account: TestAccount; onB: string }> {
  const account = await newAccount(a.db);
  await setProtection(a, account, { message: true });
  const m = await uploadJson(a, account, 'x');
  return { account, onB: m.url.replace(a.baseUrl, b.baseUrl) };
}

describe('revocation on every instance', () => {
  it('a key deleted through instance A fails on instance B, although B had it cached', async () => {
    const { account, onB } = await protectedMediaOnB();
    const key = await createApiKey(a, account);
    const auth = key.basic;
    expect((await getMediaUrl(onB, { headers: { Authorization: auth } })).status).toBe(302); // B caches it

    const delay = await throughA(account.sid, async () => {
      expect((await accountApi(a, account, `/keys/${key.sid}`, { method: 'DELETE' })).status).toBe(204);
    });
    console.log(`revocation reached instance B after ${delay.toFixed(1)} ms`);
    expect((await getMediaUrl(onB, { headers: { Authorization: auth } })).status).toBe(401);
  });

  it('an application deleted through instance A has its JWTs refused on instance B', async () => {
    const { account, onB } = await protectedMediaOnB();
    const app = await registerApplication(a, account);
    const jwt = await bearerFor(app);
    expect((await getMediaUrl(onB, { headers: { Authorization: jwt } })).status).toBe(302);
    await throughA(account.sid, async () => {
      expect((await accountApi(a, account, `/applications/${app.id}`, { method: 'DELETE' })).status).toBe(204);
    });
    expect((await getMediaUrl(onB, { headers: { Authorization: jwt } })).status).toBe(401);
  });

  it('a token promoted through instance A retires the old primary on instance B', async () => {
    const { account, onB } = await protectedMediaOnB();
    expect((await getMediaUrl(onB, { headers: { Authorization: account.basic } })).status).toBe(302);
    const { secondary_auth_token: next } = (await (
      await accountApi(a, account, '/auth-tokens/secondary', { method: 'POST' })
    ).json()) as { secondary_auth_token: string };
    await throughA(account.sid, () => accountApi(a, account, '/auth-tokens/promote', { method: 'POST' }));
    expect((await getMediaUrl(onB, { headers: { Authorization: account.basic } })).status).toBe(401);
    expect((await getMediaUrl(onB, { headers: { Authorization: basicAuth(account.sid, next) } })).status).toBe(302);
  });

  it('media deleted or protected through instance A stops redirecting on instance B', async () => {
    const account = await newAccount(a.db);
    const gone = await uploadJson(a, account, 'x');
    const legacy = await uploadJson(a, account, 'y');
    const goneOnB = gone.url.replace(a.baseUrl, b.baseUrl);
    const legacyOnB = legacy.url.replace(a.baseUrl, b.baseUrl);
    expect((await getMediaUrl(goneOnB)).status).toBe(302); // B caches both rows
    expect((await getMediaUrl(legacyOnB)).status).toBe(302);

    await throughA(account.sid, async () => {
      expect((await fetch(gone.url, { method: 'DELETE', headers: { Authorization: account.basic } })).status).toBe(204);
    });
    expect((await getMediaUrl(goneOnB)).status).toBe(404);
    await throughA(account.sid, async () => {
      const protect = await accountApi(a, account, '/settings/media-protection/protect-existing', { method: 'POST', json: { kind: 'message' } });
      expect(await protect.json()).toEqual({ protected: 1 });
    });
    expect((await getMediaUrl(legacyOnB)).status).toBe(401);
  });

  it("a change made without a notification (behind the service's back) still reaches it after the fallback TTL", async () => {
    let now = Date.now();
    const c = await startService({ env: { CACHE_SECONDS: '30' }, clock: () => new Date(now) });
    try {
      const account = await newAccount(c.db);
      await setProtection(c, account, { message: true });
      const m = await uploadJson(c, account, 'x');
      const key = await createApiKey(c, account);
      const auth = key.basic;
      expect((await getMediaUrl(m.url, { headers: { Authorization: auth } })).status).toBe(302);
      await c.db.query('DELETE FROM api_keys WHERE sid = $1', [key.sid]); // no NOTIFY: only the fallback expiry can save us
      now += 29_000;
      expect((await getMediaUrl(m.url, { headers: { Authorization: auth } })).status).toBe(302); // still cached
      now += 2_000;
      expect((await getMediaUrl(m.url, { headers: { Authorization: auth } })).status).toBe(401);
    } finally {
      await c.close();
    }
  });
});
