// /readyz tells the truth: each failure below is made for real (a LISTEN connection
// terminated by PostgreSQL, an S3 server stopped, a store directory that cannot be
// written) and named in the answer. While the invalidation feed is down, nothing is
// answered from a cache.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { findFreePort } from '../../src/db/embedded.js';
import { createApiKey } from '../support/credentials.js';
import { getMediaUrl, newAccount, setProtection, startService, uploadJson, type TestService } from '../support/service.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

interface ReadyAnswer {
  status: number;
  body: { error?: { message: string }; checks: Record<string, { ok: boolean; detail?: string }> };
}

async function readyz(svc: TestService): Promise<ReadyAnswer> {
  const res = await fetch(`${svc.baseUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as ReadyAnswer['body'] };
}

/** Asks until the answer is 503 (the store is checked in the background): bounded by the test's timeout. */
async function untilNotReady(svc: TestService): Promise<ReadyAnswer> {
  for (;;) {
    const answer = await readyz(svc);
    if (answer.status === 503) return answer;
  }
}

/** A service, and an API key it has verified and cached (a 302 answered with it). */
async function serviceWithCachedKey() {
  const svc = await startService();
  cleanups.push(() => svc.close());
  const account = await newAccount(svc.db);
  await setProtection(svc, account, { message: true });
  const media = await uploadJson(svc, account, 'x');
  const key = await createApiKey(svc, account);
  const asKey = { headers: { Authorization: key.basic } };
  expect((await getMediaUrl(media.url, asKey)).status).toBe(302);
  return { svc, media, key, asKey };
}

describe('GET /readyz', () => {
  it('answers 200 with every check passing', async () => {
    const svc = await startService();
    cleanups.push(() => svc.close());
    const answer = await readyz(svc);
    expect(answer.status).toBe(200);
    expect(Object.values(answer.body.checks).every((c) => c.ok)).toBe(true);
  });

  it('is 503 naming the invalidation feed while LISTEN is down, and then decides every request by the database', async () => {
    const { svc, media, key, asKey } = await serviceWithCachedKey();
    await svc.feed.close();
    const answer = await readyz(svc);
    expect(answer.status).toBe(503);
    expect(answer.body.checks.invalidation_feed).toMatchObject({ ok: false });
    expect(answer.body.error!.message).toContain('invalidation_feed');

    // Revoked behind the service's back, with no NOTIFY to hear: refused at once anyway.
    await svc.db.query('DELETE FROM api_keys WHERE sid = $1', [key.sid]);
    expect((await getMediaUrl(media.url, asKey)).status).toBe(401);
  });

  it('drops every cached credential when the LISTEN connection is lost, and is ready again once it is back', async () => {
    const { svc, media, key, asKey } = await serviceWithCachedKey();
    // Deleted without NOTIFY: only a loss of the feed can tell the cache it may be stale.
    await svc.db.query('DELETE FROM api_keys WHERE sid = $1', [key.sid]);
    expect((await getMediaUrl(media.url, asKey)).status).toBe(302); // still cached

    const lost = svc.logLine((l) => l.msg === 'invalidation feed lost: not ready, caches bypassed until it reconnects');
    const { rows } = await svc.db.query<{ n: number }>(
      "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = 'mediagate-listen' AND datname = current_database()",
    );
    expect(rows[0]!.n).toBeGreaterThanOrEqual(1);
    await lost;
    expect((await getMediaUrl(media.url, asKey)).status).toBe(401);
    await svc.feed.ready();
    expect((await readyz(svc)).status).toBe(200);
  });

  it('is 503 naming the object store when the S3 server stops answering', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mg-ready-s3-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const port = await findFreePort();
    const s3 = new S3rver({ port, address: '127.0.0.1', directory: dir, silent: true, configureBuckets: [{ name: inject('s3Bucket'), configs: [] }] });
    await s3.run();
    let now = Date.now();
    const svc = await startService({ s3Endpoint: `http://127.0.0.1:${port}`, clock: () => new Date(now) });
    cleanups.push(() => svc.close());
    expect((await readyz(svc)).status).toBe(200);

    await s3.close();
    now += 6000; // past the few seconds an answer of the store is kept
    const answer = await untilNotReady(svc);
    expect(answer.body.checks.object_store!.ok).toBe(false);
    expect(answer.body.checks.object_store!.detail).toMatch(/ECONNREFUSED|connect/);
    expect(answer.body.error!.message).toContain('object_store');
  });

  it('is 503 naming the object store when the local store cannot be written', async () => {
    let now = Date.now();
    const svc = await startService({ storeKind: 'local', clock: () => new Date(now) });
    cleanups.push(() => svc.close());
    expect((await readyz(svc)).status).toBe(200);
    // A file where the store's working directory should be: as root, permissions would not stop a write.
    const tmp = path.join(svc.config.dataDir, 'objects', '.tmp');
    await rm(tmp, { recursive: true, force: true });
    await writeFile(tmp, 'in the way');
    now += 6000;
    const answer = await untilNotReady(svc);
    expect(answer.body.checks.object_store!.detail).toMatch(/ENOTDIR|EEXIST/);
  });
});
