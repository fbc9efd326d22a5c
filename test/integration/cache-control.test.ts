// No cache keeps an answer to an authenticated request under /v1/accounts or /console
// (API.md, "Headers, revisited"): some carry a secret shown once (a new key, a
// secondary token), all of them carry an account's data. Every route of both areas is
// called here, with Basic credentials and with a console session, whatever it answers.
import { expect, it } from 'vitest';
import { createAreas } from '../../src/http/areas.js';
import { newAccount, serviceForFile, type TestAccount } from '../support/service.js';

const svc = serviceForFile({ storeKind: 'local' });

const PLACEHOLDERS: Record<string, (a: TestAccount) => string> = {
  AccountSid: (a) => a.sid,
  MediaSid: () => `ME${'0'.repeat(32)}`,
  KeySid: () => `SK${'0'.repeat(32)}`,
  ApplicationId: () => '00000000-0000-4000-8000-000000000000',
  ShareLinkSid: () => `SL${'0'.repeat(32)}`,
  UploadId: () => `UP${'0'.repeat(32)}`,
  File: () => 'app.js',
};

async function signIn(a: TestAccount): Promise<{ Cookie: string; 'X-CSRF-Token': string }> {
  const res = await fetch(`${svc.baseUrl}/console/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ account_sid: a.sid, auth_token: a.authToken }),
  });
  expect(res.status).toBe(201);
  expect(res.headers.get('cache-control')).toBe('no-store');
  const { csrf_token } = (await res.json()) as { csrf_token: string };
  return { Cookie: res.headers.getSetCookie()[0]!.split(';')[0]!, 'X-CSRF-Token': csrf_token };
}

it('every route under /v1/accounts and /console answers Cache-Control: no-store to credentials', async () => {
  const areas = createAreas(svc.config).filter((area) => ['api', 'media-url', 'console'].includes(area.name));
  const seen: string[] = [];
  for (const area of areas) {
    for (const route of area.routes) {
      if (route.path === '/console/session' && route.method === 'POST') continue; // signIn above
      for (const how of ['basic', 'session'] as const) {
        // A fresh account each time: a promotion or a deletion leaves the next call intact.
        const a = await newAccount(svc.db);
        const credentials = how === 'basic' ? { Authorization: a.basic } : await signIn(a);
        const path = route.path.replace(/\{(\w+)\}/g, (_, name: string) => PLACEHOLDERS[name]!(a));
        const body = ['POST', 'PATCH', 'PUT'].includes(route.method) ? '{}' : undefined;
        const res = await fetch(`${svc.baseUrl}${path}`, {
          method: route.method,
          headers: { ...credentials, ...(body && { 'Content-Type': 'application/json' }) },
          body,
          redirect: 'manual',
        });
        await res.arrayBuffer();
        const expected = area.name === 'media-url' ? 'private, no-store' : 'no-store';
        expect(`${route.method} ${route.path} (${how}): ${res.status} ${res.headers.get('cache-control')}`).toBe(
          `${route.method} ${route.path} (${how}): ${res.status} ${expected}`,
        );
        seen.push(`${res.status}`);
      }
    }
  }
  // The walk reached handlers, not only refusals: successes and the handlers' own 4xx.
  expect(seen).toContain('200');
  expect(seen).toContain('201');
  expect(seen).toContain('404');
});

it('the secrets shown once come with no-store: a new key, a secondary token', async () => {
  const a = await newAccount(svc.db);
  for (const [path, json] of [
    ['/keys', { name: 'k' }],
    ['/auth-tokens/secondary', undefined],
  ] as const) {
    const res = await fetch(`${svc.baseUrl}/v1/accounts/${a.sid}${path}`, {
      method: 'POST',
      headers: { Authorization: a.basic, ...(json && { 'Content-Type': 'application/json' }) },
      body: json && JSON.stringify(json),
    });
    expect(res.status).toBe(201);
    const answer = (await res.json()) as Record<string, unknown>;
    expect(answer.secret ?? answer.secondary_auth_token).toMatch(/\w{32}/);
    expect(res.headers.get('cache-control')).toBe('no-store');
  }
});
