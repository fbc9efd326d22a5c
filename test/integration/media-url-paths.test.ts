// Which path answered the media URL (src/http/routes/media-url.ts): a repeated redirect
// from memory (credentials, media and a reusable signed URL all cached, fromMemory) or
// the whole way (handle). Every principal asks for every media twice in a row through
// HTTP: both answers must be the contract's, the warm answer to an allowed request must
// come from memory (so this fails if the fast path goes), and a refusal never does.
// test/unit/media-access.test.ts checks the decision itself; this is the wiring.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerFor, createApiKey, registerApplication } from '../support/credentials.js';
import { basicAuth, getMediaUrl, newAccount, setProtection, startService, uploadJson, type TestAccount, type TestService } from '../support/service.js';

interface Principal {
  name: string;
  authorization: string | undefined;
  /** the application a JWT speaks for */
  application?: 'A' | 'B';
  /** valid credentials of another account */
  otherAccount?: boolean;
  /** a header that fails to verify */
  invalid?: boolean;
}

interface MediaCase {
  name: string;
  url: string;
  exists: boolean;
  requiresAuth: boolean;
  application?: 'A';
}

/** The contract's decision order (the route's description), written out for this table. */
function expectedStatus(p: Principal, m: MediaCase): number {
  if (p.invalid) return 401;
  if (p.otherAccount) return 403;
  if (!m.exists) return 404;
  if (m.requiresAuth && p.authorization === undefined) return 401;
  if (p.application && m.application && p.application !== m.application) return 403;
  return 302;
}

let svc: TestService;
let owner: TestAccount;
let principals: Principal[];
let media: MediaCase[];

beforeAll(async () => {
  svc = await startService();
  owner = await newAccount(svc.db, 'paths');
  const stranger = await newAccount(svc.db, 'stranger');
  const [appA, appB] = [await registerApplication(svc, owner), await registerApplication(svc, owner)];
  const key = await createApiKey(svc, owner);
  const legacy = await uploadJson(svc, owner, randomBytes(100));
  const legacyOfA = await uploadJson(svc, owner, randomBytes(100), { applicationId: appA.id });
  // The only change here that invalidates caches: its NOTIFY is awaited, so that no late
  // invalidation empties the caches between a cold and a warm request.
  const invalidated = svc.nextInvalidation(owner.sid);
  expect((await setProtection(svc, owner, { message: true })).status).toBe(200);
  await invalidated;
  const protectedMedia = await uploadJson(svc, owner, randomBytes(100));
  const protectedOfA = await uploadJson(svc, owner, randomBytes(100), { applicationId: appA.id });

  principals = [
    { name: 'anonymous', authorization: undefined },
    { name: 'the auth token', authorization: owner.basic },
    { name: 'an API key', authorization: key.basic },
    { name: "application A's JWT", authorization: await bearerFor(appA), application: 'A' },
    { name: "application B's JWT", authorization: await bearerFor(appB), application: 'B' },
    { name: "another account's auth token", authorization: stranger.basic, otherAccount: true },
    { name: 'a wrong auth token', authorization: basicAuth(owner.sid, 'f'.repeat(32)), invalid: true },
  ];
  media = [
    { name: 'legacy', url: legacy.url, exists: true, requiresAuth: false },
    { name: 'protected', url: protectedMedia.url, exists: true, requiresAuth: true },
    { name: "protected, application A's", url: protectedOfA.url, exists: true, requiresAuth: true, application: 'A' },
    { name: "legacy, application A's", url: legacyOfA.url, exists: true, requiresAuth: false, application: 'A' },
    { name: 'never existed', url: `${svc.baseUrl}/v1/accounts/${owner.sid}/media/ME${randomBytes(16).toString('hex')}`, exists: false, requiresAuth: false },
  ];
  expect([legacy, legacyOfA, protectedMedia, protectedOfA].map((m) => m.requires_auth)).toEqual([false, false, true, true]);
});
afterAll(() => svc.close());

/** One GET and its access-log line (found by its request id). */
async function ask(url: string, authorization: string | undefined): Promise<{ status: number; line: Record<string, unknown> }> {
  const requestId = randomUUID();
  const res = await getMediaUrl(url, { headers: { 'X-Request-Id': requestId, ...(authorization === undefined ? {} : { Authorization: authorization }) } });
  await res.arrayBuffer();
  const line = await svc.logLine((l) => l.request_id === requestId);
  expect(line).toMatchObject({ route: 'getMediaUrl', status: res.status });
  return { status: res.status, line: { ...line, answered_from: line.cached === true ? 'memory' : 'full' } };
}

describe('the media URL asked twice in a row', () => {
  it('answers each principal and media as the contract says, both times; the warm answer from memory when allowed', async () => {
    for (const p of principals) {
      for (const m of media) {
        const expected = expectedStatus(p, m);
        const what = `${p.name} on ${m.name} media`;
        const cold = await ask(m.url, p.authorization);
        const warm = await ask(m.url, p.authorization);
        expect(cold.status, `${what}, cold`).toBe(expected);
        expect(warm.status, `${what}, warm`).toBe(expected);
        if (expected < 400) {
          expect(warm.line.answered_from, `${what}, warm`).toBe('memory');
        } else {
          expect([cold.line.answered_from, warm.line.answered_from], what).toEqual(['full', 'full']);
        }
      }
    }
  });

  it('answers 404 the whole way right after a delete, however warm the caches were', async () => {
    const m = await uploadJson(svc, owner, 'deleted soon');
    expect((await ask(m.url, owner.basic)).status).toBe(302);
    expect((await ask(m.url, owner.basic)).line.answered_from).toBe('memory');
    expect((await fetch(m.url, { method: 'DELETE', headers: { Authorization: owner.basic } })).status).toBe(204);
    for (const authorization of [owner.basic, undefined]) {
      const after = await ask(m.url, authorization);
      expect(after.status).toBe(404);
      expect(after.line.answered_from).toBe('full');
    }
  });
});
