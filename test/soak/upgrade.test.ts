import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findFreePort } from '../../src/db/embedded.js';
import { createScratchDatabase, ROOT, runCli } from '../support/cli.js';
import { uncheckedFetch } from '../support/contract.js';
import { buildRelease, findPreviousRelease, runReleaseCli, spawnReleaseServe, type BuiltRelease } from '../support/previous-release.js';
import { spawnServe } from '../support/process.js';

// An upgrade keeps what the previous release wrote. The previous release (the last tag:
// git describe) is built from git and serves a fresh database and store; real requests
// write legacy media, a protection switch, protected media, an API key, a secondary auth
// token, an application with a JWT, and take signed store URLs. Then, as
// docs/operations.md's "Upgrading" says, the current `mediagate migrate` runs while the
// old release still serves (which it must keep doing), the old release stops, and the
// current `mediagate serve` starts on the same database, store and address: every item
// is checked again with real requests, redirects followed to the bytes.
// The old release's answers go through the unchecked fetch: the contract is this
// checkout's, not the old one's. The current service's go through the checked one.

const release = findPreviousRelease(ROOT);
if ('reason' in release) console.warn(`upgrade test skipped: ${release.reason}`);
const tag = 'tag' in release ? release.tag : 'none';

interface Written {
  account: { sid: string; authToken: string; secondaryToken: string };
  key: { sid: string; secret: string };
  jwt: string;
  legacy: { sid: string; url: string; bytes: Buffer; json: Record<string, unknown> };
  protectedMedia: { sid: string; url: string; bytes: Buffer; json: Record<string, unknown> };
  /** store URLs the old release handed out: its 302s' Location and a ?redirect=false URL */
  issued: { what: string; url: string; bytes: Buffer }[];
}

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

describe.skipIf(!('tag' in release))(`upgrade from ${tag} to this checkout`, () => {
  let built: BuiltRelease | undefined;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    const started = Date.now();
    built = await buildRelease(ROOT, tag, 'commit' in release ? release.commit : tag);
    console.log(`upgrade test: ${tag} built in ${((Date.now() - started) / 1000).toFixed(1)} s (node_modules ${built.dependencies})`);
  }, 240_000);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err) => console.error('cleanup:', err));
    await built?.remove();
  });

  it.each(['local', 's3'] as const)(
    'what %s-store data the old release wrote works after the current version starts',
    async (storeKind) => {
      const started = Date.now();
      const database = await createScratchDatabase();
      cleanups.push(() => database.drop());
      const dataDir = await mkdtemp(path.join(tmpdir(), 'mg-upgrade-'));
      cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
      const port = await findFreePort();
      const baseUrl = `http://127.0.0.1:${port}`;
      // The same address, database, data directory (signing keys, objects) and bucket for both.
      const env: Record<string, string> = {
        DATABASE_URL: database.url,
        DATA_DIR: dataDir,
        PUBLIC_BASE_URL: baseUrl,
        AUTH_FAILURE_LIMIT: '100000',
        ...(storeKind === 's3'
          ? {
              S3_BUCKET: inject('s3Bucket'),
              S3_ENDPOINT: inject('s3Endpoint'),
              S3_FORCE_PATH_STYLE: '1',
              AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID!,
              AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY!,
            }
          : {}),
      };

      // --- the previous release writes ---------------------------------------------
      const old = await spawnReleaseServe(built!, { ...env, PORT: String(port) });
      cleanups.push(() => old.stop());
      const written = await writeWithOldRelease(built!, env, baseUrl, storeKind);

      // --- the current migrations, with the old release still serving ------------------
      const migrated = await runCli(['migrate'], env);
      expect(migrated.code, migrated.stderr).toBe(0);
      // Exactly the migrations this checkout has and the old release had not.
      const added = (await newMigrations(built!)).map((name) => `applied ${name}\n`).join('');
      expect(migrated.stdout).toBe(added || 'nothing to apply\n');
      await expectOldStillServes(baseUrl, written);
      expect(await old.stop(), old.output()).toBe(0);

      // --- the current version on the same database, store and address ---------------
      const current = await spawnServe({ ...env, PORT: String(port) }, { dataDir, port });
      cleanups.push(async () => {
        if (current.child.exitCode === null) current.child.kill('SIGTERM');
        await current.exited;
      });
      await expectAllWorks(baseUrl, written, storeKind);
      current.child.kill('SIGTERM');
      expect(await current.exited, current.stderr()).toBe(0);
      console.log(`upgrade test (${storeKind} store): ${((Date.now() - started) / 1000).toFixed(1)} s`);
    },
    180_000,
  );
});

async function newMigrations(release: BuiltRelease): Promise<string[]> {
  const had = new Set(await readdir(path.join(release.dir, 'migrations')));
  return (await readdir(path.join(ROOT, 'migrations'))).filter((name) => name.endsWith('.sql') && !had.has(name)).sort();
}

async function writeWithOldRelease(release: BuiltRelease, env: Record<string, string>, baseUrl: string, storeKind: 'local' | 's3'): Promise<Written> {
  const created = await runReleaseCli(release, ['accounts', 'create', '--name', 'upgrade'], env);
  expect(created.code, created.stderr).toBe(0);
  const { sid, auth_token: authToken } = JSON.parse(created.stdout) as { sid: string; auth_token: string };
  const owner = basic(sid, authToken);
  const api = async (method: string, p: string, body?: unknown, expected = 200) => {
    const res = await uncheckedFetch(`${baseUrl}/v1/accounts/${sid}${p}`, {
      method,
      headers: { Authorization: owner, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    expect(res.status, `${release.tag}: ${method} ${p}: ${text}`).toBe(expected);
    return JSON.parse(text) as Record<string, unknown>;
  };
  const upload = async (name: string) => {
    const bytes = Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'binary'), randomBytes(40_000)]);
    const res = await uncheckedFetch(`${baseUrl}/v1/accounts/${sid}/media?kind=message&filename=${name}`, {
      method: 'POST',
      headers: { Authorization: owner, 'Content-Type': 'image/png' },
      body: bytes,
    });
    const json = (await res.json()) as Record<string, unknown>;
    expect(res.status, JSON.stringify(json)).toBe(201);
    return { sid: json.sid as string, url: json.url as string, bytes, json };
  };

  // Legacy media: uploaded while protection is off, public at its URL for ever.
  const legacy = await upload('legacy.png');
  expect(legacy.json.requires_auth).toBe(false);
  // The switch, then protected media.
  await api('PATCH', '/settings/media-protection', { message: true });
  const protectedMedia = await upload('protected.png');
  expect(protectedMedia.json.requires_auth).toBe(true);
  expect((await uncheckedFetch(protectedMedia.url, { redirect: 'manual' })).status).toBe(401);
  // Credentials of every kind.
  const key = (await api('POST', '/keys', { name: 'upgrade' }, 201)) as { sid: string; secret: string };
  const { secondary_auth_token: secondaryToken } = (await api('POST', '/auth-tokens/secondary', undefined, 201)) as { secondary_auth_token: string };
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const app = await api('POST', '/applications', { name: 'upgrade', public_key: publicKey.export({ type: 'spki', format: 'pem' }) }, 201);
  const now = Math.floor(Date.now() / 1000);
  const jwt = await new SignJWT({ application_id: app.application_id, iat: now, exp: now + 900, jti: randomUUID() })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
    .sign(privateKey);

  // Store URLs handed out before the upgrade: the legacy 302, the protected 302, ?redirect=false.
  const location = async (url: string, authorization?: string) => {
    const res = await uncheckedFetch(url, { redirect: 'manual', headers: authorization ? { Authorization: authorization } : {} });
    expect(res.status, await res.text()).toBe(302);
    return res.headers.get('location')!;
  };
  const asJson = await uncheckedFetch(`${protectedMedia.url}?redirect=false`, { headers: { Authorization: owner } });
  expect(asJson.status).toBe(200);
  const issued = [
    { what: 'legacy 302', url: await location(legacy.url), bytes: legacy.bytes },
    { what: 'protected 302', url: await location(protectedMedia.url, basic(key.sid, key.secret)), bytes: protectedMedia.bytes },
    { what: '?redirect=false', url: ((await asJson.json()) as { url: string }).url, bytes: protectedMedia.bytes },
  ];
  for (const { what, url, bytes } of issued) {
    // The store the test asked for: the local store's blob URLs, or the S3 server's.
    expect(url.startsWith(storeKind === 'local' ? `${baseUrl}/v1/blobs/` : `${inject('s3Endpoint')}/`), `${what}: ${url}`).toBe(true);
    const res = await uncheckedFetch(url);
    expect(res.status, `${release.tag}: ${what}`).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes), `${release.tag}: ${what} bytes`).toBe(true);
  }
  return { account: { sid, authToken, secondaryToken }, key, jwt, legacy, protectedMedia, issued };
}

/** A fleet migrates first: the old release, still running, keeps serving on the migrated database. */
async function expectOldStillServes(baseUrl: string, w: Written): Promise<void> {
  expect((await uncheckedFetch(`${baseUrl}/readyz`)).status).toBe(200);
  for (const [media, authorization] of [
    [w.legacy, undefined],
    [w.protectedMedia, basic(w.key.sid, w.key.secret)],
  ] as const) {
    const res = await uncheckedFetch(media.url, { headers: authorization ? { Authorization: authorization } : {} });
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(media.bytes)).toBe(true);
  }
  const res = await uncheckedFetch(`${baseUrl}/v1/accounts/${w.account.sid}/media?kind=recording`, {
    method: 'POST',
    headers: { Authorization: basic(w.account.sid, w.account.authToken), 'Content-Type': 'audio/wav' },
    body: randomBytes(1000),
  });
  expect(res.status, await res.text()).toBe(201);
}

async function expectAllWorks(baseUrl: string, w: Written, storeKind: 'local' | 's3'): Promise<void> {
  const { sid } = w.account;
  const ready = await fetch(`${baseUrl}/readyz`);
  expect(ready.status, await ready.clone().text()).toBe(200);

  const download = async (url: string, authorization?: string) => {
    const res = await fetch(url, { headers: authorization ? { Authorization: authorization } : {} });
    return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
  };
  const expectBytes = async (what: string, url: string, bytes: Buffer, authorization?: string) => {
    const got = await download(url, authorization);
    expect(got.status, `${what}: ${got.bytes.toString().slice(0, 300)}`).toBe(200);
    expect(got.bytes.equals(bytes), `${what}: the bytes`).toBe(true);
  };

  // Legacy links: no credentials, a 302 followed to the bytes.
  const legacyRedirect = await fetch(w.legacy.url, { redirect: 'manual' });
  expect(legacyRedirect.status).toBe(302);
  await expectBytes('legacy media without credentials', w.legacy.url, w.legacy.bytes);

  // Protected media: refused without credentials or with a wrong secret, served to every
  // credential the old release issued.
  expect((await fetch(w.protectedMedia.url, { redirect: 'manual' })).status).toBe(401);
  expect((await fetch(w.protectedMedia.url, { redirect: 'manual', headers: { Authorization: basic(sid, 'f'.repeat(32)) } })).status).toBe(401);
  await expectBytes('primary auth token', w.protectedMedia.url, w.protectedMedia.bytes, basic(sid, w.account.authToken));
  await expectBytes('secondary auth token', w.protectedMedia.url, w.protectedMedia.bytes, basic(sid, w.account.secondaryToken));
  await expectBytes('API key', w.protectedMedia.url, w.protectedMedia.bytes, basic(w.key.sid, w.key.secret));
  await expectBytes('application JWT', w.protectedMedia.url, w.protectedMedia.bytes, `Bearer ${w.jwt}`);

  // Signed store URLs handed out before the upgrade: the local store checks them with
  // the signing keys under DATA_DIR/keys; S3's are the bucket's.
  for (const { what, url, bytes } of w.issued) await expectBytes(`${what} URL issued by the old release (${storeKind})`, url, bytes);

  // The metadata is what the old release answered.
  for (const media of [w.legacy, w.protectedMedia]) {
    const res = await fetch(`${baseUrl}/v1/accounts/${sid}/media/${media.sid}.json`, { headers: { Authorization: basic(sid, w.account.authToken) } });
    expect(res.status).toBe(200);
    const json = (await res.json()) as Record<string, unknown>;
    for (const field of ['sid', 'kind', 'content_type', 'size_bytes', 'sha256', 'filename', 'requires_auth', 'created_at', 'url']) {
      expect(json[field], `${media.sid}: ${field}`).toEqual(media.json[field]);
    }
  }

  // The switches: message on (as the old release set it), the others off; new media follows them.
  const owner = basic(sid, w.account.authToken);
  const switches = await fetch(`${baseUrl}/v1/accounts/${sid}/settings/media-protection`, { headers: { Authorization: owner } });
  expect(switches.status).toBe(200);
  expect(await switches.json()).toMatchObject({ message: { enabled: true }, recording: { enabled: false }, fax: { enabled: false } });
  for (const [kind, requiresAuth] of [
    ['message', true],
    ['recording', false],
  ] as const) {
    const bytes = randomBytes(2000);
    const res = await fetch(`${baseUrl}/v1/accounts/${sid}/media?kind=${kind}`, {
      method: 'POST',
      headers: { Authorization: owner, 'Content-Type': 'application/octet-stream' },
      body: bytes,
    });
    expect(res.status).toBe(201);
    const media = (await res.json()) as { url: string; requires_auth: boolean };
    expect(media.requires_auth, kind).toBe(requiresAuth);
    expect((await fetch(media.url, { redirect: 'manual' })).status, kind).toBe(requiresAuth ? 401 : 302);
    await expectBytes(`new ${kind} media`, media.url, bytes, owner);
  }
}
