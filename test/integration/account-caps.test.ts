// What one account may hold (#23): keys, applications and live share links are capped
// (409 past the cap, racing creations included), live console sessions too (the oldest
// ends), the sweep prunes expired sessions, and the lists are paged like media, with
// page tokens checked before they reach the database.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sweepExpiredMedia } from '../../src/domain/maintenance.js';
import { accountApi, createApiKey, registerApplication } from '../support/credentials.js';
import { newAccount, serviceForFile, uploadJson, type TestAccount } from '../support/service.js';

const svc = serviceForFile({
  storeKind: 'local',
  env: { API_KEYS_PER_ACCOUNT: '3', APPLICATIONS_PER_ACCOUNT: '2', SHARE_LINKS_PER_ACCOUNT: '2', CONSOLE_SESSIONS_PER_ACCOUNT: '3' },
});

const newKey = (a: TestAccount) => accountApi(svc, a, '/keys', { method: 'POST', json: { name: 'k' } });
const newApplication = (a: TestAccount) =>
  accountApi(svc, a, '/applications', {
    method: 'POST',
    json: { name: 'app', public_key: generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) },
  });

async function expectCapReached(res: Response, setting: string): Promise<void> {
  expect(res.status).toBe(409);
  const { error } = (await res.json()) as { error: { code: string; message: string } };
  expect(error.code).toBe('conflict');
  expect(error.message).toContain(`${setting}=`);
  expect(error.message).toContain('delete one first');
}

describe('caps', () => {
  it('API keys: 409 past API_KEYS_PER_ACCOUNT, room again after a deletion', async () => {
    const a = await newAccount(svc.db);
    const keys = [await createApiKey(svc, a), await createApiKey(svc, a), await createApiKey(svc, a)];
    await expectCapReached(await newKey(a), 'API_KEYS_PER_ACCOUNT');
    expect((await accountApi(svc, a, `/keys/${keys[0]!.sid}`, { method: 'DELETE' })).status).toBe(204);
    expect((await newKey(a)).status).toBe(201);
    // Another account is not affected.
    expect((await newKey(await newAccount(svc.db))).status).toBe(201);
  });

  it('racing creations never overshoot the cap', async () => {
    const a = await newAccount(svc.db);
    const keys = await Promise.all(Array.from({ length: 8 }, () => newKey(a)));
    const apps = await Promise.all(Array.from({ length: 6 }, () => newApplication(a)));
    expect(keys.map((r) => r.status).sort()).toEqual([201, 201, 201, 409, 409, 409, 409, 409]);
    expect(apps.map((r) => r.status).sort()).toEqual([201, 201, 409, 409, 409, 409]);
    await Promise.all([...keys, ...apps].map((r) => r.arrayBuffer()));
  });

  it('applications: 409 past APPLICATIONS_PER_ACCOUNT', async () => {
    const a = await newAccount(svc.db);
    await registerApplication(svc, a);
    await registerApplication(svc, a);
    await expectCapReached(await newApplication(a), 'APPLICATIONS_PER_ACCOUNT');
  });

  it('share links: live ones count, used-up ones do not', async () => {
    const a = await newAccount(svc.db);
    const m = await uploadJson(svc, a, 'x');
    const share = (json: Record<string, unknown> = {}) => accountApi(svc, a, `/media/${m.sid}/share-links`, { method: 'POST', json });
    const oneTime = (await (await share({ max_uses: 1 })).json()) as { url: string };
    expect((await share()).status).toBe(201);
    await expectCapReached(await share(), 'SHARE_LINKS_PER_ACCOUNT');
    // Using up the one-time link makes room.
    expect((await fetch(oneTime.url, { redirect: 'manual' })).status).toBe(302);
    expect((await share()).status).toBe(201);
  });

  it('console sessions: a sign-in past CONSOLE_SESSIONS_PER_ACCOUNT ends the oldest', async () => {
    const a = await newAccount(svc.db);
    const cookies: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${svc.baseUrl}/console/session`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ account_sid: a.sid, auth_token: a.authToken }),
      });
      expect(res.status).toBe(201);
      cookies.push(res.headers.getSetCookie()[0]!.split(';')[0]!);
    }
    const statuses = await Promise.all(cookies.map(async (Cookie) => (await fetch(`${svc.baseUrl}/console/session`, { headers: { Cookie } })).status));
    expect(statuses).toEqual([204, 204, 200, 200, 200]);
    const { rows } = await svc.db.query<{ n: number }>('SELECT count(*)::int AS n FROM console_sessions WHERE account_sid = $1', [a.sid]);
    expect(rows[0]!.n).toBe(3);
  });

  it('the sweep prunes expired console sessions', async () => {
    const a = await newAccount(svc.db);
    for (let i = 0; i < 2; i++) {
      await fetch(`${svc.baseUrl}/console/session`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ account_sid: a.sid, auth_token: a.authToken }),
      });
    }
    // One of them expired a minute ago (as CONSOLE_SESSION_SECONDS later would make it).
    await svc.db.query(
      `UPDATE console_sessions SET expires_at = now() - interval '1 minute'
        WHERE id_hash = (SELECT id_hash FROM console_sessions WHERE account_sid = $1 LIMIT 1)`,
      [a.sid],
    );
    await sweepExpiredMedia({ db: svc.db, store: svc.store }, { batchSize: 100 });
    const { rows } = await svc.db.query<{ n: number; expired: number }>(
      'SELECT count(*)::int AS n, count(*) FILTER (WHERE expires_at <= now())::int AS expired FROM console_sessions WHERE account_sid = $1',
      [a.sid],
    );
    expect(rows[0]).toEqual({ n: 1, expired: 0 });
  });
});

describe('paged lists', () => {
  async function walk(a: TestAccount, path: string, field: string, pageSize: number): Promise<{ pages: number[]; ids: string[] }> {
    const pages: number[] = [];
    const ids: string[] = [];
    let token: string | null = null;
    do {
      const q = new URLSearchParams({ page_size: String(pageSize), ...(token && { page_token: token }) });
      const res = await accountApi(svc, a, `${path}?${q}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as Record<string, unknown> & { next_page_token: string | null };
      const items = body[field] as { sid?: string; application_id?: string }[];
      pages.push(items.length);
      ids.push(...items.map((i) => i.sid ?? i.application_id!));
      token = body.next_page_token;
    } while (token !== null);
    return { pages, ids };
  }

  it('keys and applications, newest first, a page at a time', async () => {
    const a = await newAccount(svc.db);
    const keys = [await createApiKey(svc, a), await createApiKey(svc, a), await createApiKey(svc, a)];
    expect(await walk(a, '/keys', 'keys', 2)).toEqual({ pages: [2, 1], ids: keys.map((k) => k.sid).reverse() });
    const apps = [await registerApplication(svc, a), await registerApplication(svc, a)];
    expect(await walk(a, '/applications', 'applications', 1)).toEqual({ pages: [1, 1], ids: apps.map((p) => p.id).reverse() });
    // Without page_size: one page of up to 50, and no next page.
    const all = (await (await accountApi(svc, a, '/keys')).json()) as { keys: unknown[]; next_page_token: string | null };
    expect([all.keys.length, all.next_page_token]).toEqual([3, null]);
  });

  it('refuses a page token holding an impossible date with 400, before the database (no warn line)', async () => {
    const a = await newAccount(svc.db);
    const m = await uploadJson(svc, a, 'x');
    const token = (date: string, id: string) => Buffer.from(JSON.stringify([date, id])).toString('base64url');
    const lists: [string, string][] = [
      ['/media', `ME${'0'.repeat(32)}`],
      ['/share-links', `SL${'0'.repeat(32)}`],
      [`/media/${m.sid}/share-links`, `SL${'0'.repeat(32)}`],
      ['/keys', `SK${'0'.repeat(32)}`],
      ['/applications', '00000000-0000-4000-8000-000000000000'],
    ];
    const linesBefore = svc.logLines.length;
    for (const [path, id] of lists) {
      for (const date of ['2026-13-45T99:99:99.000000Z', '2026-02-30T00:00:00.000000Z', '2026-01-01T24:00:00.000000Z', '0000-01-01T00:00:00.000000Z']) {
        const res = await accountApi(svc, a, `${path}?page_token=${token(date, id)}`);
        expect([path, date, res.status]).toEqual([path, date, 400]);
        expect(((await res.json()) as { error: { message: string } }).error.message).toBe('page_token is not valid');
      }
      // A real date passes: the list after it (empty here).
      expect((await accountApi(svc, a, `${path}?page_token=${token('2026-01-01T00:00:00.000000Z', id)}`)).status).toBe(200);
    }
    const warned = svc.logLines.slice(linesBefore).map((l) => JSON.parse(l) as { level: number }).filter((l) => l.level >= 40);
    expect(warned).toEqual([]);
  });
});
