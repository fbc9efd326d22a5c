import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  basicAuth,
  getMediaUrl,
  newAccount,
  setProtection,
  startService,
  uploadJson,
  type TestService,
} from '../support/service.js';

// Two instances of the service over one database, as behind a load balancer.
let a: TestService;
let b: TestService;
beforeAll(async () => {
  a = await startService();
  b = await startService();
  for (let i = 0; i < 100 && !(a.feed.isConnected() && b.feed.isConnected()); i++) await new Promise((r) => setTimeout(r, 20));
});
afterAll(async () => {
  await a.close();
  await b.close();
});

/** Milliseconds until instance b refuses `auth` for the media (polling every 10 ms, up to 3 s). */
async function msUntilRefused(url: string, auth: string, startedAt: number): Promise<number> {
  for (;;) {
    const status = (await getMediaUrl(url, { headers: { Authorization: auth } })).status;
    if (status === 401) return performance.now() - startedAt;
    if (performance.now() - startedAt > 3000) return Infinity;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('revocation on every instance', () => {
  it('a key deleted through instance A fails on instance B within 1 s, although B had it cached', async () => {
    const account = await newAccount(a.db);
    await setProtection(a, account, { message: true });
    const m = await uploadJson(a, account, 'x');
    const onB = m.url.replace(a.baseUrl, b.baseUrl);
    const key = (await (
      await fetch(`${a.baseUrl}/v1/accounts/${account.sid}/keys`, {
        method: 'POST',
        headers: { Authorization: account.basic, 'Content-Type': 'application/json' },
        body: '{"name":"k"}',
      })
    ).json()) as { sid: string; secret: string };
    const auth = basicAuth(key.sid, key.secret);
    expect((await getMediaUrl(onB, { headers: { Authorization: auth } })).status).toBe(302); // B caches it

    const started = performance.now();
    const del = await fetch(`${a.baseUrl}/v1/accounts/${account.sid}/keys/${key.sid}`, {
      method: 'DELETE',
      headers: { Authorization: account.basic },
    });
    expect(del.status).toBe(204);
    const delay = await msUntilRefused(onB, auth, started);
    console.log(`revocation reached instance B after ${delay.toFixed(1)} ms`);
    expect(delay).toBeLessThan(1000);
  });

  it('a token promoted through instance A retires the old primary on instance B within 1 s', async () => {
    const account = await newAccount(a.db);
    await setProtection(a, account, { message: true });
    const m = await uploadJson(a, account, 'x');
    const onB = m.url.replace(a.baseUrl, b.baseUrl);
    expect((await getMediaUrl(onB, { headers: { Authorization: account.basic } })).status).toBe(302);
    await fetch(`${a.baseUrl}/v1/accounts/${account.sid}/auth-tokens/secondary`, {
      method: 'POST',
      headers: { Authorization: account.basic },
    });
    const started = performance.now();
    await fetch(`${a.baseUrl}/v1/accounts/${account.sid}/auth-tokens/promote`, {
      method: 'POST',
      headers: { Authorization: account.basic },
    });
    expect(await msUntilRefused(onB, account.basic, started)).toBeLessThan(1000);
  });

  it('media deleted or protected through instance A stops redirecting on instance B within 1 s', async () => {
    const account = await newAccount(a.db);
    const gone = await uploadJson(a, account, 'x');
    const legacy = await uploadJson(a, account, 'y');
    const goneOnB = gone.url.replace(a.baseUrl, b.baseUrl);
    const legacyOnB = legacy.url.replace(a.baseUrl, b.baseUrl);
    expect((await getMediaUrl(goneOnB)).status).toBe(302); // B caches both rows
    expect((await getMediaUrl(legacyOnB)).status).toBe(302);

    expect((await fetch(gone.url, { method: 'DELETE', headers: { Authorization: account.basic } })).status).toBe(204);
    const protect = await fetch(`${a.baseUrl}/v1/accounts/${account.sid}/settings/media-protection/protect-existing`, {
      method: 'POST',
      headers: { Authorization: account.basic, 'Content-Type': 'application/json' },
      body: '{"kind":"message"}',
    });
    expect(await protect.json()).toEqual({ protected: 1 });
    const started = performance.now();
    for (;;) {
      const [g, l] = [(await getMediaUrl(goneOnB)).status, (await getMediaUrl(legacyOnB)).status];
      if (g === 404 && l === 401) break;
      expect(performance.now() - started).toBeLessThan(1000);
      await new Promise((r) => setTimeout(r, 10));
    }
  });

  it('without notifications, a cached credential still expires after the fallback TTL', async () => {
    const c = await startService({ authenticator: { cacheTtlMillis: 200 } });
    try {
      await c.feed.close(); // no LISTEN: only the fallback expiry can save us
      const account = await newAccount(c.db);
      await setProtection(c, account, { message: true });
      const m = await uploadJson(c, account, 'x');
      const key = (await (
        await fetch(`${c.baseUrl}/v1/accounts/${account.sid}/keys`, {
          method: 'POST',
          headers: { Authorization: account.basic, 'Content-Type': 'application/json' },
          body: '{"name":"k"}',
        })
      ).json()) as { sid: string; secret: string };
      const auth = basicAuth(key.sid, key.secret);
      expect((await getMediaUrl(m.url, { headers: { Authorization: auth } })).status).toBe(302);
      await c.db.query('DELETE FROM api_keys WHERE sid = $1', [key.sid]); // behind the service's back
      expect((await getMediaUrl(m.url, { headers: { Authorization: auth } })).status).toBe(302); // still cached
      await new Promise((r) => setTimeout(r, 250));
      expect((await getMediaUrl(m.url, { headers: { Authorization: auth } })).status).toBe(401);
    } finally {
      await c.close();
    }
  });
});
