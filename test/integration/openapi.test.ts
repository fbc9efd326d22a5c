import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../../src/http/openapi.js';
import { apiClient, ownerClient } from '../support/api-client.js';
import { basicAuth, newAccount, startService, uploadJson, type TestService } from '../support/service.js';

// Issue #12: the service carries its own API reference. (Every other test's responses
// are checked against the same document by test/support/contract-setup.ts.)

let svc: TestService;

beforeAll(async () => {
  svc = await startService();
});
afterAll(async () => {
  await svc?.close();
});

describe('GET /openapi.json', () => {
  it("serves this deployment's OpenAPI 3.1 document, which a standard validator accepts", async () => {
    const res = await fetch(`${svc.baseUrl}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const document = (await res.json()) as { openapi: string; servers: { url: string }[] };
    expect(document).toEqual(JSON.parse(JSON.stringify(buildOpenApiDocument(svc.config))));
    expect(document.servers[0]!.url).toBe(svc.baseUrl);
    const result = await new Validator().validate(document);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
  });
});

describe('GET /docs', () => {
  it('serves the reference page, whose script and styles come from the service itself, under a self-only CSP', async () => {
    const res = await fetch(`${svc.baseUrl}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'none'; script-src http:\/\/127\.0\.0\.1:\d+\/docs\/assets\/; style-src \S+; img-src 'self' data:;/);
    const html = await res.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((url) => url !== 'data:,'); // no favicon request
    expect(assets.sort()).toEqual(['docs/assets/docs.js', 'docs/assets/swagger-ui-bundle.js', 'docs/assets/swagger-ui.css']);
    expect(html).not.toMatch(/<script>|<style|style=/); // nothing inline: the CSP would refuse it
    for (const asset of assets) {
      const file = await fetch(`${svc.baseUrl}/${asset}`);
      expect(file.status, asset).toBe(200);
      expect(file.headers.get('content-type'), asset).toMatch(asset.endsWith('.css') ? /^text\/css/ : /^text\/javascript/);
      expect((await file.text()).length, asset).toBeGreaterThan(asset === 'docs/assets/docs.js' ? 50 : 100_000);
    }
  });

  it('answers 404 for a file it does not serve', async () => {
    for (const file of ['index.html', 'package.json', '..%2F..%2Fpackage.json']) {
      const res = await fetch(`${svc.baseUrl}/docs/assets/${file}`);
      expect(res.status, file).toBe(404);
    }
  });
});

describe("the console's routes (fetched here, so that the contract check sees them too)", () => {
  it('serve the page and keep a session: sign in, look, sign out', async () => {
    const page = await fetch(`${svc.baseUrl}/console`);
    expect(page.status).toBe(200);
    expect((await fetch(`${svc.baseUrl}/console/assets/app.js`)).status).toBe(200);

    const account = await newAccount(svc.db);
    const json = { 'Content-Type': 'application/json' };
    const wrong = await fetch(`${svc.baseUrl}/console/session`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ account_sid: account.sid, auth_token: '0'.repeat(32) }),
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBeNull();

    const signIn = await fetch(`${svc.baseUrl}/console/session`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ account_sid: account.sid, auth_token: account.authToken }),
    });
    expect(signIn.status).toBe(201);
    const cookie = signIn.headers.getSetCookie()[0]!.split(';')[0]!;
    const { csrf_token: csrf } = (await signIn.json()) as { csrf_token: string };

    expect((await fetch(`${svc.baseUrl}/console/session`, { headers: { Cookie: cookie } })).status).toBe(200);
    const settings = await fetch(`${svc.baseUrl}/v1/accounts/${account.sid}/settings/retention`, { headers: { Cookie: cookie, 'X-CSRF-Token': csrf } });
    expect(settings.status).toBe(200);
    const signOut = await fetch(`${svc.baseUrl}/console/session`, { method: 'DELETE', headers: { Cookie: cookie, 'X-CSRF-Token': csrf } });
    expect(signOut.status).toBe(204);
    expect((await fetch(`${svc.baseUrl}/console/session`, { headers: { Cookie: cookie } })).status).toBe(204);
    // The session has ended: a 401 without the Basic challenge (the page must not make the browser prompt).
    const ended = await fetch(`${svc.baseUrl}/v1/accounts/${account.sid}/settings/retention`, { headers: { Cookie: cookie, 'X-CSRF-Token': csrf } });
    expect(ended.status).toBe(401);
    expect(ended.headers.get('www-authenticate')).toBeNull();
  });
});

describe('the typed client generated from the document (openapi-typescript, openapi-fetch)', () => {
  it('manages settings, keys and media with the types of the document', async () => {
    const account = await newAccount(svc.db);
    const client = ownerClient(svc, account);
    const path = { AccountSid: account.sid };

    const patched = await client.PATCH('/v1/accounts/{AccountSid}/settings/media-protection', {
      params: { path },
      body: { message: true },
    });
    expect(patched.response.status).toBe(200);
    expect(patched.data?.message.enabled).toBe(true);

    const key = await client.POST('/v1/accounts/{AccountSid}/keys', { params: { path }, body: { name: 'typed' } });
    expect(key.response.status).toBe(201);
    const keySecret = basicAuth(key.data!.sid, key.data!.secret);

    const uploaded = await uploadJson(svc, account, 'hello', { contentType: 'text/plain', filename: 'hello.txt' });
    const asKey = apiClient(svc, keySecret);
    const listed = await asKey.GET('/v1/accounts/{AccountSid}/media', { params: { path, query: { kind: 'message', page_size: 10 } } });
    expect(listed.data?.media.map((m) => [m.sid, m.requires_auth])).toEqual([[uploaded.sid, true]]);
    expect(listed.data?.next_page_token).toBeNull();

    const answer = await asKey.GET('/v1/accounts/{AccountSid}/media/{MediaSid}', {
      params: { path: { ...path, MediaSid: uploaded.sid }, query: { redirect: 'false' } },
    });
    expect(answer.data).toMatchObject({ method: 'GET', content_type: 'text/plain', size_bytes: 5, filename: 'hello.txt' });

    const refused = await asKey.GET('/v1/accounts/{AccountSid}/keys', { params: { path } });
    expect(refused.response.status).toBe(403);
    expect(refused.error?.error.code).toBe('forbidden');

    const deleted = await client.DELETE('/v1/accounts/{AccountSid}/keys/{KeySid}', { params: { path: { ...path, KeySid: key.data!.sid } } });
    expect(deleted.response.status).toBe(204);
  });
});
