import { createHmac, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { accountApi, bearerFor, registerApplication } from '../support/credentials.js';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  basicAuth,
  getMediaUrl,
  newAccount,
  setProtection,
  serviceForFile,
  upload,
  uploadJson,
  type MediaJson,
  type TestAccount,
} from '../support/service.js';

const svc = serviceForFile();

const api = (a: TestAccount, path: string, init: RequestInit & { auth?: string } = {}) =>
  fetch(`${svc.baseUrl}/v1/accounts/${a.sid}${path}`, {
    ...init,
    headers: { Authorization: init.auth ?? a.basic, 'Content-Type': 'application/json', ...(init.headers as object) },
  });

async function createKey(a: TestAccount, name = 'ci') {
  const res = await api(a, '/keys', { method: 'POST', body: JSON.stringify({ name }) });
  expect(res.status).toBe(201);
  return (await res.json()) as { sid: string; name: string; secret: string; created_at: string };
}

async function protectedMediaOf(a: TestAccount): Promise<MediaJson> {
  await setProtection(svc, a, { message: true });
  return uploadJson(svc, a, 'secret bytes');
}

describe('API keys', () => {
  it('creates a key whose secret is shown once, lists keys without secrets', async () => {
    const a = await newAccount(svc.db);
    const key = await createKey(a, 'billing');
    expect(key.sid).toMatch(/^SK[0-9a-f]{32}$/);
    expect(key.secret).toMatch(/^[0-9a-f]{32}$/);
    expect(key.name).toBe('billing');
    const list = (await (await api(a, '/keys')).json()) as { keys: Record<string, unknown>[] };
    expect(list.keys).toEqual([{ sid: key.sid, name: 'billing', created_at: key.created_at }]);
    expect(JSON.stringify(list)).not.toContain(key.secret);
  });

  it("authenticates Basic KeySid:Secret for its account's media and media API", async () => {
    const a = await newAccount(svc.db);
    const m = await protectedMediaOf(a);
    const key = await createKey(a);
    const auth = basicAuth(key.sid, key.secret);
    expect((await getMediaUrl(m.url, { headers: { Authorization: auth } })).status).toBe(302);
    expect((await upload(svc, a, 'by key', { auth })).status).toBe(201);
    expect((await api(a, '/media', { auth })).status).toBe(200);
    expect((await fetch(`${m.url}.json`, { headers: { Authorization: auth } })).status).toBe(200);
  });

  it('cannot manage settings, keys, tokens or applications (403)', async () => {
    const a = await newAccount(svc.db);
    const key = await createKey(a);
    const auth = basicAuth(key.sid, key.secret);
    const attempts: [string, string, string?][] = [
      ['GET', '/settings/media-protection'],
      ['PATCH', '/settings/media-protection', '{"message":true}'],
      ['POST', '/keys', '{"name":"x"}'],
      ['GET', '/keys'],
      ['DELETE', `/keys/${key.sid}`],
      ['POST', '/auth-tokens/secondary'],
      ['POST', '/auth-tokens/promote'],
      ['POST', '/applications', '{"name":"x","public_key":"x"}'],
      ['GET', '/events'],
      ['PATCH', '/settings/retention', '{"days":1}'],
    ];
    for (const [method, path, body] of attempts) {
      const res = await api(a, path, { method, auth, ...(body ? { body } : {}) });
      expect([method, path, res.status]).toEqual([method, path, 403]);
    }
  });

  it('fails at once after it is deleted', async () => {
    const a = await newAccount(svc.db);
    const m = await protectedMediaOf(a);
    const key = await createKey(a);
    const auth = basicAuth(key.sid, key.secret);
    expect((await getMediaUrl(m.url, { headers: { Authorization: auth } })).status).toBe(302); // now cached
    expect((await api(a, `/keys/${key.sid}`, { method: 'DELETE' })).status).toBe(204);
    expect((await getMediaUrl(m.url, { headers: { Authorization: auth } })).status).toBe(401);
    expect((await api(a, `/keys/${key.sid}`, { method: 'DELETE' })).status).toBe(404);
  });

  it("is refused with another account's path (403) and with a wrong secret (401)", async () => {
    const a = await newAccount(svc.db);
    const b = await newAccount(svc.db);
    const m = await protectedMediaOf(b);
    const key = await createKey(a);
    expect((await getMediaUrl(m.url, { headers: { Authorization: basicAuth(key.sid, key.secret) } })).status).toBe(403);
    expect((await getMediaUrl(m.url, { headers: { Authorization: basicAuth(key.sid, 'f'.repeat(32)) } })).status).toBe(401);
  });

  it('answers 400 for a bad name', async () => {
    const a = await newAccount(svc.db);
    for (const body of ['{}', '{"name":""}', '{"name":5}', '{"name":"x","extra":1}']) {
      expect((await api(a, '/keys', { method: 'POST', body })).status).toBe(400);
    }
  });
});

describe('auth token rotation', () => {
  it('secondary token: both work; promote: the old primary fails at once; delete the secondary', async () => {
    const a = await newAccount(svc.db);
    const m = await protectedMediaOf(a);
    const created = await api(a, '/auth-tokens/secondary', { method: 'POST' });
    expect(created.status).toBe(201);
    const { secondary_auth_token: secondary } = (await created.json()) as { secondary_auth_token: string };
    expect(secondary).toMatch(/^[0-9a-f]{32}$/);
    const oldAuth = a.basic;
    const newAuth = basicAuth(a.sid, secondary);
    expect((await getMediaUrl(m.url, { headers: { Authorization: oldAuth } })).status).toBe(302);
    expect((await getMediaUrl(m.url, { headers: { Authorization: newAuth } })).status).toBe(302);

    expect((await api(a, '/auth-tokens/promote', { method: 'POST' })).status).toBe(200);
    expect((await getMediaUrl(m.url, { headers: { Authorization: oldAuth } })).status).toBe(401);
    expect((await getMediaUrl(m.url, { headers: { Authorization: newAuth } })).status).toBe(302);
    // Nothing left to promote.
    expect((await api(a, '/auth-tokens/promote', { method: 'POST', auth: newAuth })).status).toBe(409);

    const again = (await (await api(a, '/auth-tokens/secondary', { method: 'POST', auth: newAuth })).json()) as {
      secondary_auth_token: string;
    };
    const secondAuth = basicAuth(a.sid, again.secondary_auth_token);
    expect((await getMediaUrl(m.url, { headers: { Authorization: secondAuth } })).status).toBe(302);
    expect((await api(a, '/auth-tokens/secondary', { method: 'DELETE', auth: newAuth })).status).toBe(204);
    expect((await getMediaUrl(m.url, { headers: { Authorization: secondAuth } })).status).toBe(401);
    expect((await api(a, '/auth-tokens/secondary', { method: 'DELETE', auth: newAuth })).status).toBe(404);
  });
});

// ---- applications and Bearer JWTs ----

function rsaPair(bits = 2048) {
  return generateKeyPairSync('rsa', { modulusLength: bits });
}
function edPair() {
  return generateKeyPairSync('ed25519');
}
const pem = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }).toString();

async function registerApp(a: TestAccount, publicKey: KeyObject) {
  const res = await api(a, '/applications', { method: 'POST', body: JSON.stringify({ name: 'voice', public_key: pem(publicKey) }) });
  expect(res.status).toBe(201);
  return (await res.json()) as { application_id: string; algorithm: string };
}

const now = () => Math.floor(Date.now() / 1000);

async function joseJwt(privateKey: KeyObject, alg: 'RS256' | 'EdDSA', claims: Record<string, unknown>) {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT' }).sign(privateKey);
}

/** The same JWT built by hand with node:crypto, as a 10-line client script would. */
function nodeJwt(privateKey: KeyObject, alg: 'RS256' | 'EdDSA', claims: Record<string, unknown>) {
  const b64 = (v: object | Buffer) => Buffer.from(Buffer.isBuffer(v) ? v : JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg, typ: 'JWT' })}.${b64(claims)}`;
  const signature = sign(alg === 'RS256' ? 'sha256' : null, Buffer.from(input), privateKey);
  return `${input}.${b64(signature)}`;
}

const claimsFor = (applicationId: string, extra: Record<string, unknown> = {}) => ({
  application_id: applicationId,
  iat: now(),
  exp: now() + 900,
  jti: randomUUID(),
  ...extra,
});

describe('applications', () => {
  it('registers RSA (RS256) and Ed25519 (EdDSA) public keys', async () => {
    const a = await newAccount(svc.db);
    expect((await registerApp(a, rsaPair().publicKey)).algorithm).toBe('RS256');
    const ed = await registerApp(a, edPair().publicKey);
    expect(ed.algorithm).toBe('EdDSA');
    expect(ed.application_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it.each([
    ['a 1024-bit RSA key', () => pem(rsaPair(1024).publicKey)],
    ['an EC P-256 key', () => pem(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)],
    ['a private key', () => edPair().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
    ['garbage', () => '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----'],
    ['no PEM at all', () => 'ssh-ed25519 AAAA'],
  ])('answers 400 for %s', async (_name, key) => {
    const a = await newAccount(svc.db);
    const res = await api(a, '/applications', { method: 'POST', body: JSON.stringify({ name: 'x', public_key: key() }) });
    expect(res.status).toBe(400);
  });
});

describe('Bearer JWT', () => {
  let a: TestAccount;
  let media: MediaJson;
  let rsa: ReturnType<typeof rsaPair>;
  let ed: ReturnType<typeof edPair>;
  let rsaApp: { application_id: string };
  let edApp: { application_id: string };

  beforeAll(async () => {
    a = await newAccount(svc.db);
    media = await protectedMediaOf(a);
    rsa = rsaPair();
    ed = edPair();
    rsaApp = await registerApp(a, rsa.publicKey);
    edApp = await registerApp(a, ed.publicKey);
  });

  const bearer = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });

  it.each([
    ['RS256 by jose', () => joseJwt(rsa.privateKey, 'RS256', claimsFor(rsaApp.application_id))],
    ['EdDSA by jose', () => joseJwt(ed.privateKey, 'EdDSA', claimsFor(edApp.application_id))],
    ['RS256 by node:crypto', async () => nodeJwt(rsa.privateKey, 'RS256', claimsFor(rsaApp.application_id))],
    ['EdDSA by node:crypto', async () => nodeJwt(ed.privateKey, 'EdDSA', claimsFor(edApp.application_id))],
  ])('authenticates a JWT signed %s as the application account', async (_name, mint) => {
    const res = await getMediaUrl(media.url, bearer(await mint()));
    expect(res.status).toBe(302);
  });

  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const attacks: [string, () => Promise<string> | string][] = [
    ['alg none', () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claimsFor(rsaApp.application_id))}.`],
    [
      'HS256 keyed with the public key',
      () => {
        const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claimsFor(rsaApp.application_id))}`;
        return `${input}.${createHmac('sha256', pem(rsa.publicKey)).update(input).digest('base64url')}`;
      },
    ],
    ['a token signed by another key', () => joseJwt(rsaPair().privateKey, 'RS256', claimsFor(rsaApp.application_id))],
    ["another application's token under this id", () => joseJwt(ed.privateKey, 'EdDSA', claimsFor(rsaApp.application_id))],
    ['RS256 for an Ed25519 application', () => joseJwt(rsa.privateKey, 'RS256', claimsFor(edApp.application_id))],
    ['an expired token', () => joseJwt(ed.privateKey, 'EdDSA', claimsFor(edApp.application_id, { iat: now() - 7200, exp: now() - 3600 }))],
    ['a lifetime over 24 h', () => joseJwt(ed.privateKey, 'EdDSA', claimsFor(edApp.application_id, { exp: now() + 25 * 3600 }))],
    ['an iat in the future', () => joseJwt(ed.privateKey, 'EdDSA', claimsFor(edApp.application_id, { iat: now() + 3600, exp: now() + 7200 }))],
    ['no jti', () => joseJwt(ed.privateKey, 'EdDSA', { application_id: edApp.application_id, iat: now(), exp: now() + 60 })],
    ['no exp', () => joseJwt(ed.privateKey, 'EdDSA', { application_id: edApp.application_id, iat: now(), jti: 'x' })],
    ['no application_id', () => joseJwt(ed.privateKey, 'EdDSA', { iat: now(), exp: now() + 60, jti: 'x' })],
    ['an unknown application_id', () => joseJwt(ed.privateKey, 'EdDSA', claimsFor(randomUUID()))],
    ['a malformed token', () => 'abc.def.ghi'],
  ];
  it.each(attacks)('answers 401 to %s', async (_name, mint) => {
    const res = await getMediaUrl(media.url, bearer(await mint()));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="mediagate"');
  });

  it("answers 403 to a valid token of another account's application", async () => {
    const b = await newAccount(svc.db);
    const pair = edPair();
    const app = await registerApp(b, pair.publicKey);
    const res = await getMediaUrl(media.url, bearer(await joseJwt(pair.privateKey, 'EdDSA', claimsFor(app.application_id))));
    expect(res.status).toBe(403);
  });

  it('lets media uploaded with ?application_id= answer only to that application', async () => {
    const own = await uploadJson(svc, a, 'app media', { applicationId: edApp.application_id });
    expect(own.application_id).toBe(edApp.application_id);
    const edToken = await joseJwt(ed.privateKey, 'EdDSA', claimsFor(edApp.application_id));
    const rsaToken = await joseJwt(rsa.privateKey, 'RS256', claimsFor(rsaApp.application_id));
    expect((await getMediaUrl(own.url, bearer(edToken))).status).toBe(302);
    expect((await getMediaUrl(own.url, bearer(rsaToken))).status).toBe(403);
    // Media without an application accepts any application of the account.
    expect((await getMediaUrl(media.url, bearer(rsaToken))).status).toBe(302);
  });

  it('lets an application upload for itself, not for another application', async () => {
    const edToken = `Bearer ${await joseJwt(ed.privateKey, 'EdDSA', claimsFor(edApp.application_id))}`;
    expect((await upload(svc, a, 'x', { auth: edToken, applicationId: edApp.application_id })).status).toBe(201);
    expect((await upload(svc, a, 'x', { auth: edToken, applicationId: rsaApp.application_id })).status).toBe(403);
    expect((await upload(svc, a, 'x', { applicationId: randomUUID() })).status).toBe(400);
  });

  it('cannot manage the account', async () => {
    const edToken = `Bearer ${await joseJwt(ed.privateKey, 'EdDSA', claimsFor(edApp.application_id))}`;
    expect((await api(a, '/settings/media-protection', { auth: edToken })).status).toBe(403);
  });
});

describe('GET /v1/accounts/:account/events', () => {
  it('lists credential and setting changes newest first, page by page, without secrets', async () => {
    const a = await newAccount(svc.db);
    const key = await createKey(a);
    await api(a, `/keys/${key.sid}`, { method: 'DELETE' });
    await setProtection(svc, a, { fax: true });
    const { secondary_auth_token: secondary } = (await (await api(a, '/auth-tokens/secondary', { method: 'POST' })).json()) as {
      secondary_auth_token: string;
    };
    await api(a, '/auth-tokens/promote', { method: 'POST' });
    const auth = basicAuth(a.sid, secondary);

    const all = (await (await api(a, '/events?page_size=100', { auth })).json()) as {
      events: { id: string; type: string; detail: Record<string, unknown>; created_at: string }[];
      next_page_token: string | null;
    };
    expect(all.events.map((e) => e.type)).toEqual([
      'auth_token.promoted',
      'auth_token.secondary_created',
      'media_protection.changed',
      'api_key.deleted',
      'api_key.created',
    ]);
    expect(all.events[2]!.detail).toEqual({ kind: 'fax', enabled: true });
    expect(all.events[3]!.detail).toEqual({ key_sid: key.sid });
    expect(all.next_page_token).toBeNull();
    const text = JSON.stringify(all);
    expect(text).not.toContain(key.secret);
    expect(text).not.toContain(secondary);

    const first = (await (await api(a, '/events?page_size=2', { auth })).json()) as { events: { type: string }[]; next_page_token: string };
    const second = (await (await api(a, `/events?page_size=2&page_token=${first.next_page_token}`, { auth })).json()) as {
      events: { type: string }[];
    };
    expect([...first.events, ...second.events].map((e) => e.type)).toEqual(all.events.slice(0, 4).map((e) => e.type));
    expect((await api(a, '/events?page_token=abc', { auth })).status).toBe(400);
  });
});

describe('GET and DELETE /v1/accounts/:account/applications', () => {
  it('lists applications with their public key only, newest first', async () => {
    const a = await newAccount(svc.db);
    const first = await registerApplication(svc, a);
    const second = await registerApplication(svc, a, 'RS256');
    const res = await accountApi(svc, a, '/applications');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { applications: Record<string, unknown>[] };
    expect(body.applications.map((x) => x.application_id)).toEqual([second.id, first.id]);
    for (const app of body.applications) {
      expect(Object.keys(app).sort()).toEqual(['account_sid', 'algorithm', 'application_id', 'created_at', 'name', 'public_key']);
      expect(app.public_key).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    }
  });

  it('revokes an application: its JWTs fail at once, its media stays reachable with the token and keys', async () => {
    const a = await newAccount(svc.db);
    const app = await registerApplication(svc, a);
    await setProtection(svc, a, { message: true });
    const m = await uploadJson(svc, a, 'bound', { applicationId: app.id });
    const jwt = await bearerFor(app);
    expect((await getMediaUrl(m.url, { headers: { Authorization: jwt } })).status).toBe(302); // now cached

    const del = await accountApi(svc, a, `/applications/${app.id}`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect((await getMediaUrl(m.url, { headers: { Authorization: jwt } })).status).toBe(401);
    expect((await getMediaUrl(m.url, { headers: { Authorization: await bearerFor(app) } })).status).toBe(401);
    expect((await getMediaUrl(m.url, { headers: { Authorization: a.basic } })).status).toBe(302);
    const key = await createKey(a);
    expect((await getMediaUrl(m.url, { headers: { Authorization: basicAuth(key.sid, key.secret) } })).status).toBe(302);
    expect(((await (await accountApi(svc, a, '/applications')).json()) as { applications: unknown[] }).applications).toEqual([]);
    const events = (await (await accountApi(svc, a, '/events')).json()) as { events: { type: string }[] };
    expect(events.events.map((e) => e.type)).toContain('application.deleted');
  });

  it("answers 404 for an unknown, malformed or other account's application, and 403 to API keys", async () => {
    const a = await newAccount(svc.db);
    const other = await newAccount(svc.db);
    const theirs = await registerApplication(svc, other);
    expect((await accountApi(svc, a, `/applications/${randomUUID()}`, { method: 'DELETE' })).status).toBe(404);
    expect((await accountApi(svc, a, '/applications/not-a-uuid', { method: 'DELETE' })).status).toBe(404);
    expect((await accountApi(svc, a, `/applications/${theirs.id}`, { method: 'DELETE' })).status).toBe(404);
    const key = await createKey(a);
    const mine = await registerApplication(svc, a);
    const byKey = await accountApi(svc, a, `/applications/${mine.id}`, { method: 'DELETE', auth: basicAuth(key.sid, key.secret) });
    expect(byKey.status).toBe(403);
    expect((await getMediaUrl(`${svc.baseUrl}/v1/accounts/${other.sid}/media/ME${'0'.repeat(32)}`, { headers: { Authorization: await bearerFor(theirs) } })).status).toBe(404);
  });
});
