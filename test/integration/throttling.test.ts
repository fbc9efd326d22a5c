import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestClock } from '../support/clock.js';
import { bearerFor, createApiKey, registerApplication } from '../support/credentials.js';
import { basicAuth, getMediaUrl, newAccount, setProtection, startService, uploadJson, type MediaJson, type TestAccount, type TestService } from '../support/service.js';

// Failures are counted in windows on the service's clock: pinned, Retry-After is exact.
const clock = new TestClock();
let svc: TestService;
let account: TestAccount;
let media: MediaJson;
const LIMIT = 10;

beforeAll(async () => {
  // TRUST_PROXY=1: the client address comes from X-Forwarded-For, so one test process
  // can speak for several clients. (The addresses are only header values.)
  svc = await startService({ env: { TRUST_PROXY: '1', AUTH_FAILURE_LIMIT: String(LIMIT) }, clock: clock.now });
  account = await newAccount(svc.db);
  await setProtection(svc, account, { message: true });
  media = await uploadJson(svc, account, 'x');
});
afterAll(() => svc.close());
afterEach(() => clock.release());

const from = (address: string, auth?: string) =>
  getMediaUrl(media.url, { headers: { 'X-Forwarded-For': address, ...(auth ? { Authorization: auth } : {}) } });

describe('brute-force throttling', () => {
  it('answers 429 with Retry-After to an address that keeps failing, while another address still gets 302', async () => {
    clock.pin();
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 5; i++) {
      statuses.push((await from('198.51.100.7', basicAuth(`AC${'9'.repeat(32)}`, `${i}`.padStart(32, '0')))).status);
    }
    expect(statuses.slice(0, LIMIT)).toEqual(Array(LIMIT).fill(401));
    expect(statuses.slice(LIMIT)).toEqual(Array(5).fill(429));
    const refused = await from('198.51.100.7', basicAuth(`AC${'9'.repeat(32)}`, 'x'.repeat(32)));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('60'); // AUTH_FAILURE_WINDOW_SECONDS' default
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('too_many_requests');

    expect((await from('198.51.100.8', account.basic)).status).toBe(302);
    // Anonymous access to public media is no failed authentication.
    expect((await from('198.51.100.8')).status).toBe(401);
  });

  it('never refuses the correct secret of a sid attacked from many addresses, even to a client never verified before', async () => {
    const victim = await newAccount(svc.db);
    const m = await uploadJson(svc, victim, 'v');
    clock.pin();
    for (let i = 0; i < LIMIT; i++) {
      const res = await getMediaUrl(m.url, {
        headers: { 'X-Forwarded-For': `192.0.2.${i + 1}`, Authorization: basicAuth(victim.sid, 'f'.repeat(32)) },
      });
      expect(res.status).toBe(401);
    }
    // Past the limit, further wrong guesses for the sid are told to back off...
    const next = await getMediaUrl(m.url, {
      headers: { 'X-Forwarded-For': '192.0.2.200', Authorization: basicAuth(victim.sid, 'e'.repeat(32)) },
    });
    expect(next.status).toBe(429);
    expect(next.headers.get('retry-after')).toBe('60');
    // ...while the owner's first request from a new address (nothing cached) passes.
    const owner = await getMediaUrl(m.url, { headers: { 'X-Forwarded-For': '203.0.113.1', Authorization: victim.basic } });
    expect(owner.status).toBe(302);
    const key = await createApiKey(svc, victim);
    for (let i = 0; i <= LIMIT; i++) {
      await getMediaUrl(m.url, { headers: { 'X-Forwarded-For': `192.0.2.${i + 1}`, Authorization: basicAuth(key.sid, 'f'.repeat(32)) } });
    }
    const keyHolder = await getMediaUrl(m.url, { headers: { 'X-Forwarded-For': '203.0.113.2', Authorization: key.basic } });
    expect(keyHolder.status).toBe(302);
  });

  it('never refuses a real JWT of an application whose id forged tokens name', async () => {
    const victim = await newAccount(svc.db);
    const m = await uploadJson(svc, victim, 'v');
    const app = await registerApplication(svc, victim);
    const forger = await registerApplication(svc, victim); // the same claims, signed with another key
    for (let i = 0; i <= LIMIT; i++) {
      const forged = await bearerFor({ ...forger, id: app.id });
      const res = await getMediaUrl(m.url, { headers: { 'X-Forwarded-For': `192.0.2.${i + 1}`, Authorization: forged } });
      expect(res.status).toBe(i < LIMIT ? 401 : 429);
    }
    const real = await getMediaUrl(m.url, { headers: { 'X-Forwarded-For': '203.0.113.3', Authorization: await bearerFor(app) } });
    expect(real.status).toBe(302);
  });

  it('takes the client address from the last X-Forwarded-For hop, which the client cannot choose', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 1; i++) {
      // A client rotating the hops it writes itself; our proxy appends the real address last.
      statuses.push((await from(`10.0.0.${i}, 198.51.100.50`, basicAuth(`AC${'7'.repeat(32)}`, 'x'.repeat(32)))).status);
    }
    expect(statuses.at(-1)).toBe(429);
  });

  it('counts malformed headers as failures too', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 1; i++) statuses.push((await from('198.51.100.99', 'Basic !!!')).status);
    expect(statuses.at(-1)).toBe(429);
  });

  it('ignores X-Forwarded-For without TRUST_PROXY', async () => {
    const plain = await startService({ env: { AUTH_FAILURE_LIMIT: '3' } });
    try {
      for (let i = 0; i < 3; i++) {
        await getMediaUrl(`${plain.baseUrl}/v1/accounts/${account.sid}/media/${media.sid}`, {
          headers: { 'X-Forwarded-For': `10.9.9.${i}`, Authorization: 'Basic !!!' },
        });
      }
      // All three counted against the socket's address, whatever the header said.
      const res = await getMediaUrl(`${plain.baseUrl}/v1/accounts/${account.sid}/media/${media.sid}`, {
        headers: { 'X-Forwarded-For': '10.9.9.200', Authorization: 'Basic !!!' },
      });
      expect(res.status).toBe(429);
    } finally {
      await plain.close();
    }
  });
});
