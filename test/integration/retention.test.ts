import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { sharedStoresEnv } from '../support/process.js';
import { getMediaUrl, newAccount, serviceForFile, uploadJson, type TestAccount, objectExists } from '../support/service.js';

const svc = serviceForFile();

const retention = (a: TestAccount, body?: unknown) =>
  fetch(`${svc.baseUrl}/v1/accounts/${a.sid}/settings/retention`, {
    method: body === undefined ? 'GET' : 'PATCH',
    headers: { Authorization: a.basic, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

const backdate = (sid: string, days: number) =>
  svc.db.query(`UPDATE media SET created_at = now() - make_interval(days => $2) WHERE sid = $1`, [sid, days]);

describe('GET/PATCH /v1/accounts/:account/settings/retention', () => {
  it('keeps media until deleted by default, and takes a number of days or null', async () => {
    const a = await newAccount(svc.db);
    expect(await (await retention(a)).json()).toEqual({ days: null });
    expect(await (await retention(a, { days: 2 })).json()).toEqual({ days: 2 });
    expect(await (await retention(a)).json()).toEqual({ days: 2 });
    expect(await (await retention(a, { days: null })).json()).toEqual({ days: null });
  });

  it.each([[{ days: 0 }], [{ days: -1 }], [{ days: 1.5 }], [{ days: '2' }], [{}], [{ days: 2, extra: true }]])(
    'answers 400 for %j',
    async (body) => {
      const a = await newAccount(svc.db);
      expect((await retention(a, body)).status).toBe(400);
    },
  );

  it('makes expired media answer 404 at once, even when cached, before any sweep', async () => {
    const a = await newAccount(svc.db);
    const old = await uploadJson(svc, a, 'old');
    const fresh = await uploadJson(svc, a, 'fresh');
    await backdate(old.sid, 3);
    expect((await getMediaUrl(old.url)).status).toBe(302); // cached now, retention still off
    expect((await retention(a, { days: 2 })).status).toBe(200);
    expect((await getMediaUrl(old.url)).status).toBe(404);
    expect((await getMediaUrl(fresh.url)).status).toBe(302);
    const list = (await (await fetch(`${svc.baseUrl}/v1/accounts/${a.sid}/media`, { headers: { Authorization: a.basic } })).json()) as {
      media: { sid: string }[];
    };
    expect(list.media.map((m) => m.sid)).toEqual([fresh.sid]);
  });
});

describe('mediagate sweep', () => {
  it('deletes expired media and their objects in batches, and nothing else', async () => {
    const a = await newAccount(svc.db);
    const keep = await newAccount(svc.db);
    const expired = [];
    for (let i = 0; i < 5; i++) expired.push(await uploadJson(svc, a, `old ${i}`));
    const young = await uploadJson(svc, a, 'young');
    const other = await uploadJson(svc, keep, 'other account, no retention');
    for (const m of expired) await backdate(m.sid, 10);
    await backdate(other.sid, 10);
    await retention(a, { days: 7 });

    const res = await runCli(['sweep', '--batch-size', '2'], sharedStoresEnv());
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout).deleted).toBeGreaterThanOrEqual(5);
    const { rows } = await svc.db.query('SELECT sid FROM media WHERE account_sid = ANY($1::text[]) ORDER BY sid', [[a.sid, keep.sid]]);
    expect(rows.map((r) => r.sid).sort()).toEqual([young.sid, other.sid].sort());
    for (const m of expired) expect(await objectExists(svc.store, `${a.sid}/${m.sid}`)).toBe(false);
    expect(await objectExists(svc.store, `${a.sid}/${young.sid}`)).toBe(true);
  });

  it('answers usage errors with exit 2', async () => {
    expect((await runCli(['sweep', '--batch-size', '0'])).code).toBe(2);
    expect((await runCli(['gc', '--grace-seconds', 'soon'])).code).toBe(2);
  });
});
