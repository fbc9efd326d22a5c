import { describe, expect, it } from 'vitest';
import {
  getMediaUrl,
  newAccount,
  setProtection,
  serviceForFile,
  upload,
  uploadJson,
  type TestAccount,
} from '../support/service.js';

const svc = serviceForFile();

const protectionUrl = (a: TestAccount) => `${svc.baseUrl}/v1/accounts/${a.sid}/settings/media-protection`;

describe('GET/PATCH /v1/accounts/:account/settings/media-protection', () => {
  it('starts with every kind off and changed_at null', async () => {
    const a = await newAccount(svc.db);
    const res = await fetch(protectionUrl(a), { headers: { Authorization: a.basic } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      message: { enabled: false, changed_at: null },
      recording: { enabled: false, changed_at: null },
      fax: { enabled: false, changed_at: null },
    });
  });

  it('switches kinds independently and stamps changed_at', async () => {
    const a = await newAccount(svc.db);
    // changed_at is the database's now() of the change.
    const before = (await svc.db.query<{ now: Date }>('SELECT now()')).rows[0]!.now;
    const res = await setProtection(svc, a, { recording: true, fax: false });
    expect(res.status).toBe(200);
    const state = (await res.json()) as Record<string, { enabled: boolean; changed_at: string | null }>;
    expect(state.recording!.enabled).toBe(true);
    const stored = (await svc.db.query<{ changed_at: Date }>(`SELECT changed_at FROM media_protection WHERE account_sid = $1 AND kind = 'recording'`, [a.sid])).rows[0]!;
    expect(state.recording!.changed_at).toBe(stored.changed_at.toISOString());
    expect(stored.changed_at.getTime()).toBeGreaterThanOrEqual(before.getTime());
    expect(state.message).toEqual({ enabled: false, changed_at: null });
    // Setting fax to the value it had is no change.
    expect(state.fax).toEqual({ enabled: false, changed_at: null });

    const rec = await uploadJson(svc, a, 'r', { kind: 'recording' });
    const msg = await uploadJson(svc, a, 'm', { kind: 'message' });
    expect(rec.requires_auth).toBe(true);
    expect(msg.requires_auth).toBe(false);
  });

  it.each([
    ['an unknown kind', '{"video": true}'],
    ['a non-boolean', '{"message": "yes"}'],
    ['nothing to change', '{}'],
    ['invalid JSON', '{"message": tru'],
    ['an array', '[true]'],
  ])('answers 400 for %s', async (_name, body) => {
    const a = await newAccount(svc.db);
    const res = await fetch(protectionUrl(a), {
      method: 'PATCH',
      headers: { Authorization: a.basic, 'Content-Type': 'application/json' },
      body,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
  });

  it('needs credentials of the account: 401 anonymous, 403 for another account', async () => {
    const a = await newAccount(svc.db);
    const b = await newAccount(svc.db);
    expect((await fetch(protectionUrl(a))).status).toBe(401);
    expect((await fetch(protectionUrl(a), { headers: { Authorization: b.basic } })).status).toBe(403);
  });
});

describe('POST .../settings/media-protection/protect-existing', () => {
  it('makes every existing media of that kind require auth and says how many it changed', async () => {
    const a = await newAccount(svc.db);
    const m1 = await uploadJson(svc, a, '1', { kind: 'message' });
    const m2 = await uploadJson(svc, a, '2', { kind: 'message' });
    const fax = await uploadJson(svc, a, '3', { kind: 'fax' });
    expect((await getMediaUrl(m1.url)).status).toBe(302);

    const res = await fetch(`${protectionUrl(a)}/protect-existing`, {
      method: 'POST',
      headers: { Authorization: a.basic, 'Content-Type': 'application/json' },
      body: JSON.stringify({ kind: 'message' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ protected: 2 });
    expect((await getMediaUrl(m1.url)).status).toBe(401);
    expect((await getMediaUrl(m2.url)).status).toBe(401);
    expect((await getMediaUrl(fax.url)).status).toBe(302);
    // New media of that kind is still public: the switch itself did not change.
    expect((await uploadJson(svc, a, '4', { kind: 'message' })).requires_auth).toBe(false);
  });

  it('answers 400 for an unknown kind', async () => {
    const a = await newAccount(svc.db);
    const res = await fetch(`${protectionUrl(a)}/protect-existing`, {
      method: 'POST',
      headers: { Authorization: a.basic, 'Content-Type': 'application/json' },
      body: JSON.stringify({ kind: 'video' }),
    });
    expect(res.status).toBe(400);
  });
});

describe('protection switch and concurrent uploads', () => {
  // The contract: no media is ever created public after the switch that protects its
  // kind has committed. Uploads run continuously while the switch goes on; every
  // upload that began after the PATCH was answered must come out protected.
  it('never stores an upload begun after the PATCH answered with requires_auth false', async () => {
    const UPLOADERS = 8;
    for (let round = 0; round < 3; round++) {
      const a = await newAccount(svc.db);
      let patchAnsweredAt = Infinity;
      const results: { startedAt: number; requiresAuth: boolean }[] = [];
      // Barriers, not timings: the PATCH is sent once every uploader has stored one
      // public media, and the uploaders stop once each has started and finished two
      // uploads after the PATCH answered.
      const startedAfterPatch = new Array<number>(UPLOADERS).fill(0);
      const oneStoredEach = barrier(UPLOADERS);
      const twoAfterPatchEach = barrier(UPLOADERS);

      const uploader = async (i: number) => {
        for (let n = 0; ; n++) {
          const startedAt = performance.now();
          const res = await upload(svc, a, `body ${i} ${n}`);
          expect(res.status).toBe(201);
          const body = (await res.json()) as { requires_auth: boolean };
          results.push({ startedAt, requiresAuth: body.requires_auth });
          if (n === 0) oneStoredEach.arrive();
          if (startedAt > patchAnsweredAt && ++startedAfterPatch[i]! === 2) {
            twoAfterPatchEach.arrive();
            return;
          }
        }
      };
      const uploads = Array.from({ length: UPLOADERS }, (_, i) => uploader(i));
      // A failed upload rejects at once instead of leaving a barrier waiting.
      const failed = Promise.all(uploads).then(() => undefined);

      await Promise.race([oneStoredEach.done, failed]);
      const patch = await setProtection(svc, a, { message: true });
      patchAnsweredAt = performance.now();
      expect(patch.status).toBe(200);
      await Promise.race([twoAfterPatchEach.done, failed]);
      await Promise.all(uploads);

      const after = results.filter((r) => r.startedAt > patchAnsweredAt);
      const before = results.filter((r) => r.startedAt < patchAnsweredAt);
      expect(after.length).toBeGreaterThanOrEqual(2 * UPLOADERS);
      expect(before.filter((r) => !r.requiresAuth).length).toBeGreaterThanOrEqual(UPLOADERS);
      expect(after.filter((r) => !r.requiresAuth)).toEqual([]);

      // Each row in the database agrees with what its upload answered.
      const { rows } = await svc.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM media WHERE account_sid = $1 AND requires_auth',
        [a.sid],
      );
      expect(rows[0]!.n).toBe(results.filter((r) => r.requiresAuth).length);
    }
  });
});

/** Resolves `done` once `arrive()` was called `count` times. */
function barrier(count: number): { arrive(): void; done: Promise<void> } {
  let arrived = 0;
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return {
    arrive() {
      if (++arrived === count) release();
    },
    done,
  };
}
