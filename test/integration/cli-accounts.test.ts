import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { findFreePort } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool, type Db } from '../../src/db/pool.js';
import { AccountDeletionIncomplete, createAccount, deleteAccount, listAccounts } from '../../src/domain/accounts.js';
import { StoreUnavailable } from '../../src/storage/errors.js';
import type { Store } from '../../src/storage/store.js';
import { BIN, createScratchDatabase, runCli } from '../support/cli.js';
import { sharedStoresEnv } from '../support/process.js';
import { accountApi, bearerFor, createApiKey, registerApplication } from '../support/credentials.js';
import {
  accountWithMedia,
  getMediaUrl,
  newAccount,
  objectExists,
  serviceForFile,
  startService,
  uploadJson,
  type TestAccount,
  type TestService,
} from '../support/service.js';

const svc = serviceForFile();


// Every table that holds rows of an account.
const ACCOUNT_TABLES = ['auth_tokens', 'media_protection', 'media', 'api_keys', 'applications', 'account_events', 'console_sessions', 'share_links', 'uploads'];

async function rowsOf(db: Db, accountSid: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of ['accounts', ...ACCOUNT_TABLES]) {
    const column = table === 'accounts' ? 'sid' : 'account_sid';
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${column} = $1`, [accountSid]);
    counts[table] = rows[0]!.n;
  }
  return counts;
}

const nothingLeft = Object.fromEntries(['accounts', ...ACCOUNT_TABLES].map((t) => [t, 0]));

async function shareLink(s: TestService, account: TestAccount, mediaSid: string): Promise<string> {
  const res = await accountApi(s, account, `/media/${mediaSid}/share-links`, { method: 'POST', json: {} });
  if (res.status !== 201) throw new Error(`share answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { url: string }).url;
}

async function signIn(s: TestService, account: TestAccount): Promise<string> {
  const res = await fetch(`${s.baseUrl}/console/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ account_sid: account.sid, auth_token: account.authToken }),
  });
  if (res.status !== 201) throw new Error(`sign-in answered ${res.status}`);
  return res.headers.getSetCookie()[0]!.split(';')[0]!;
}

/** A direct upload begun, its bytes PUT to the store, never completed: its object key. */
async function uploadInProgress(s: TestService, account: TestAccount): Promise<string> {
  const body = randomBytes(1000);
  const res = await accountApi(s, account, '/media/uploads', { method: 'POST', json: { kind: 'message', content_type: 'image/png', size_bytes: body.length } });
  if (res.status !== 201) throw new Error(`start answered ${res.status}: ${await res.text()}`);
  const started = (await res.json()) as { upload_id: string; url: string; headers: Record<string, string> };
  const put = await fetch(started.url, { method: 'PUT', headers: started.headers, body: new Uint8Array(body) });
  if (!put.ok) throw new Error(`PUT answered ${put.status}`);
  const { rows } = await s.db.query<{ object_key: string }>('SELECT object_key FROM uploads WHERE upload_id = $1', [started.upload_id]);
  return rows[0]!.object_key;
}

describe('mediagate accounts delete', () => {
  it('ends every credential, share link, session and media URL on the running service at once, and deletes every row and object', async () => {
    const { owner, legacy, protectedMedia } = await accountWithMedia(svc, { name: 'doomed' });
    const key = await createApiKey(svc, owner);
    const app = await registerApplication(svc, owner);
    const bearer = await bearerFor(app);
    const link = await shareLink(svc, owner, protectedMedia.sid);
    const cookie = await signIn(svc, owner);
    const uploadKey = await uploadInProgress(svc, owner);
    const objectKeys = [`${owner.sid}/${legacy.sid}`, `${owner.sid}/${protectedMedia.sid}`, uploadKey];
    for (const k of objectKeys) expect(await objectExists(svc.store, k)).toBe(true);

    // Everything answers, and the credentials, media and link are now in the caches: only
    // the NOTIFY of the deletion can make this instance let go of them before they expire.
    for (const auth of [owner.basic, key.basic, bearer]) {
      expect((await getMediaUrl(protectedMedia.url, { headers: { Authorization: auth } })).status).toBe(302);
      expect(svc.service.authenticator.cached(auth)).toBeDefined();
    }
    for (let i = 0; i < 2; i++) {
      expect((await getMediaUrl(legacy.url)).status).toBe(302);
      expect((await getMediaUrl(link)).status).toBe(302);
    }
    expect((await fetch(`${svc.baseUrl}/console/session`, { headers: { Cookie: cookie } })).status).toBe(200);
    const before = await rowsOf(svc.db, owner.sid);
    expect(before).toMatchObject({ accounts: 1, auth_tokens: 1, api_keys: 1, applications: 1, share_links: 1, console_sessions: 1, media: 2, uploads: 1 });

    const res = await runCli(['accounts', 'delete', owner.sid, '--yes'], sharedStoresEnv());
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({
      sid: owner.sid,
      name: 'doomed',
      auth_tokens: 1,
      api_keys: 1,
      applications: 1,
      share_links: 1,
      console_sessions: 1,
      media: 2,
      uploads: 1,
      objects: 3,
      events: before.account_events,
    });

    // At once: no waiting for a notice or a cache expiry.
    for (const auth of [owner.basic, key.basic, bearer]) {
      expect((await getMediaUrl(protectedMedia.url, { headers: { Authorization: auth } })).status).toBe(401);
    }
    expect((await getMediaUrl(legacy.url)).status).toBe(404);
    expect((await getMediaUrl(link)).status).toBe(404);
    expect((await fetch(`${svc.baseUrl}/console/session`, { headers: { Cookie: cookie } })).status).toBe(204);
    expect(await rowsOf(svc.db, owner.sid)).toEqual(nothingLeft);
    for (const k of objectKeys) expect(await objectExists(svc.store, k)).toBe(false);
  });

  it('without --yes deletes nothing: one line of what it would delete, exit 2', async () => {
    const { owner, protectedMedia } = await accountWithMedia(svc, { name: 'kept "for now"' });
    await createApiKey(svc, owner);
    const before = await rowsOf(svc.db, owner.sid);

    const res = await runCli(['accounts', 'delete', owner.sid], sharedStoresEnv());
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toBe(
      `mediagate accounts delete: nothing deleted: add --yes to delete account ${owner.sid} "kept \\"for now\\"" with 2 media and their objects, ` +
        `0 uploads in progress, 1 auth token, 1 API key, 0 applications, 0 share links, 0 console sessions, ${before.account_events} events and its settings\n`,
    );
    expect(await rowsOf(svc.db, owner.sid)).toEqual(before);
    expect((await getMediaUrl(protectedMedia.url, { headers: { Authorization: owner.basic } })).status).toBe(302);
    expect(await objectExists(svc.store, `${owner.sid}/${protectedMedia.sid}`)).toBe(true);
  });

  it('answers an unknown account with one line and exit 1, a malformed SID with exit 2', async () => {
    const unknown = `AC${'0'.repeat(32)}`;
    for (const args of [[unknown, '--yes'], [unknown]]) {
      const res = await runCli(['accounts', 'delete', ...args], sharedStoresEnv());
      expect(res.code).toBe(1);
      expect(res.stdout).toBe('');
      expect(res.stderr).toBe(`mediagate accounts delete: no such account ${unknown}\n`);
    }
    const malformed = await runCli(['accounts', 'delete', 'AC123', '--yes'], sharedStoresEnv());
    expect(malformed.code).toBe(2);
    expect(malformed.stderr.split('\n')[0]).toBe('mediagate accounts delete: "AC123" is not an account SID (AC and 32 lowercase hex digits)');
  });

  it('when the store cannot delete, revokes access, keeps every row whose object is still there, says so; run again, it finishes', async () => {
    const { owner, legacy, protectedMedia } = await accountWithMedia(svc);
    const objectKeys = [`${owner.sid}/${legacy.sid}`, `${owner.sid}/${protectedMedia.sid}`];
    const deadStore = `http://127.0.0.1:${await findFreePort()}`;

    const failed = await runCli(['accounts', 'delete', owner.sid, '--yes'], { ...sharedStoresEnv(), S3_ENDPOINT: deadStore });
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('');
    const lines = failed.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^mediagate accounts delete: the object store could not delete ${owner.sid}/ME[0-9a-f]{32} \\(.*ECONNREFUSED.*\\); .*0 media and 0 uploads deleted .*run \`mediagate accounts delete ${owner.sid} --yes\` again to finish$`,
      ),
    );
    // Access ended, and the legacy media needs credentials now (none are left) …
    expect((await getMediaUrl(protectedMedia.url, { headers: { Authorization: owner.basic } })).status).toBe(401);
    expect((await getMediaUrl(legacy.url)).status).toBe(401);
    // … while every row still names an object that is there.
    expect(await rowsOf(svc.db, owner.sid)).toMatchObject({ accounts: 1, auth_tokens: 0, media: 2 });
    for (const k of objectKeys) expect(await objectExists(svc.store, k)).toBe(true);

    const again = await runCli(['accounts', 'delete', owner.sid, '--yes'], sharedStoresEnv());
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ sid: owner.sid, auth_tokens: 0, media: 2, objects: 2 });
    expect(await rowsOf(svc.db, owner.sid)).toEqual(nothingLeft);
    for (const k of objectKeys) expect(await objectExists(svc.store, k)).toBe(false);
  });

  it('deletes the objects of the local store too', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'mg-delete-local-'));
    const local = await startService({ storeKind: 'local', dataDir });
    try {
      const owner = await newAccount(local.db);
      const media = await uploadJson(local, owner, randomBytes(2000), { contentType: 'image/png' });
      expect(await objectExists(local.store, `${owner.sid}/${media.sid}`)).toBe(true);
      expect((await getMediaUrl(media.url, { headers: { Authorization: owner.basic } })).status).toBe(302);

      const res = await runCli(['accounts', 'delete', owner.sid, '--yes'], { DATABASE_URL: inject('databaseUrl'), DATA_DIR: dataDir });
      expect(res.code).toBe(0);
      expect(JSON.parse(res.stdout)).toMatchObject({ media: 1, objects: 1 });
      expect(await objectExists(local.store, `${owner.sid}/${media.sid}`)).toBe(false);
      expect((await getMediaUrl(media.url, { headers: { Authorization: owner.basic } })).status).toBe(401);
    } finally {
      await local.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('deleteAccount when the store fails part of a batch', () => {
  it('deletes the rows whose objects went, keeps the row of the object that stayed, and finishes on the next run', async () => {
    const owner = await newAccount(svc.db);
    const media = [];
    for (let i = 0; i < 3; i++) media.push(await uploadJson(svc, owner, randomBytes(500), { contentType: 'image/png' }));
    const stuckKey = `${owner.sid}/${media[1]!.sid}`;
    // The real store, refusing one object.
    const refusing = new Proxy(svc.store, {
      get(target, property, receiver) {
        if (property !== 'delete') return Reflect.get(target, property, receiver);
        return async (key: string) => {
          if (key === stuckKey) throw new StoreUnavailable('injected: access denied');
          return target.delete(key);
        };
      },
    }) as Store;

    const failure = await deleteAccount({ db: svc.db, store: refusing }, owner.sid).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(AccountDeletionIncomplete);
    expect((failure as AccountDeletionIncomplete).done).toMatchObject({ media: 2, objects: 2, auth_tokens: 1 });
    expect((failure as Error).message).toContain(`could not delete ${stuckKey} (injected: access denied)`);
    const { rows } = await svc.db.query<{ sid: string }>('SELECT sid FROM media WHERE account_sid = $1', [owner.sid]);
    expect(rows.map((r) => r.sid)).toEqual([media[1]!.sid]);
    for (const m of media) expect(await objectExists(svc.store, `${owner.sid}/${m.sid}`)).toBe(m === media[1]);

    expect(await deleteAccount({ db: svc.db, store: svc.store }, owner.sid)).toMatchObject({ media: 1, objects: 1, auth_tokens: 0 });
    expect(await rowsOf(svc.db, owner.sid)).toEqual(nothingLeft);
    expect(await objectExists(svc.store, stuckKey)).toBe(false);
  });
});

describe('mediagate accounts list', () => {
  it('prints one JSON line per account with its counts and no secret, in sid order', async () => {
    const { owner } = await accountWithMedia(svc, { name: 'listed' });
    await createApiKey(svc, owner);
    await registerApplication(svc, owner);
    const empty = await newAccount(svc.db, 'empty');

    const res = await runCli(['accounts', 'list'], { DATABASE_URL: inject('databaseUrl') });
    expect(res.code).toBe(0);
    expect(res.stderr).toBe('');
    const accounts = res.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    const sids = accounts.map((a) => a.sid as string);
    expect(sids).toEqual([...sids].sort());
    expect(new Set(sids).size).toBe(sids.length);
    for (const a of accounts) expect(Object.keys(a)).toEqual(['sid', 'name', 'created_at', 'retention_days', 'media', 'api_keys', 'applications']);
    expect(res.stdout).not.toContain(owner.authToken);
    expect(res.stdout).not.toContain(empty.authToken);

    const createdAt = async (sid: string) =>
      ((await svc.db.query<{ created_at: Date }>('SELECT created_at FROM accounts WHERE sid = $1', [sid])).rows[0]!.created_at).toISOString();
    expect(accounts.find((a) => a.sid === owner.sid)).toEqual({
      sid: owner.sid,
      name: 'listed',
      created_at: await createdAt(owner.sid),
      retention_days: null,
      media: 2,
      api_keys: 1,
      applications: 1,
    });
    expect(accounts.find((a) => a.sid === empty.sid)).toEqual({
      sid: empty.sid,
      name: 'empty',
      created_at: await createdAt(empty.sid),
      retention_days: null,
      media: 0,
      api_keys: 0,
      applications: 0,
    });
  });

  it('pages by keyset: 1,201 accounts come whole, each once, in order; a reader that stops early ends it quietly', async () => {
    const scratch = await createScratchDatabase();
    const db = createPool(scratch.url);
    try {
      await migrate(db);
      await db.query(
        `INSERT INTO accounts (sid, name) SELECT 'AC' || md5(i::text), 'bulk ' || i FROM generate_series(1, 1200) AS i`,
      );
      const made = await createAccount(db, 'one more');
      const { rows } = await db.query<{ sid: string }>('SELECT sid FROM accounts ORDER BY sid');
      const expected = rows.map((r) => r.sid);

      // The domain's pages: never more than asked for, together everything.
      const pages: string[][] = [];
      for await (const page of listAccounts(db, 500)) pages.push(page.map((a) => a.sid));
      expect(pages.map((p) => p.length)).toEqual([500, 500, 201]);
      expect(pages.flat()).toEqual(expected);

      const res = await runCli(['accounts', 'list'], { DATABASE_URL: scratch.url });
      expect(res.code).toBe(0);
      const lines = res.stdout.trimEnd().split('\n');
      expect(lines.map((l) => (JSON.parse(l) as { sid: string }).sid)).toEqual(expected);
      expect(lines.find((l) => l.includes(made.sid))).not.toContain(made.auth_token);

      // `mediagate accounts list | head -1`: the reader goes away before the first page.
      const child = spawn(process.execPath, [BIN, 'accounts', 'list'], {
        env: { PATH: process.env.PATH, TMPDIR: process.env.TMPDIR, DATABASE_URL: scratch.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (c) => (stderr += c));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(stderr).toBe('');
      expect(code).toBe(0);
    } finally {
      await db.end();
      await scratch.drop();
    }
  });
});
