import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { findFreePort, openEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import { checkout, createPool } from '../../src/db/pool.js';
import { expectError } from '../support/http.js';
import { getMediaUrl, newAccount, setProtection, startService, upload, uploadJson, type TestAccount, type TestService } from '../support/service.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

// Outages must be answered, not waited out: each request below is aborted (and the
// test fails) if no answer came within 10 s; the times are printed, not asserted.
const bound = () => ({ signal: AbortSignal.timeout(10_000) });
async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await fn();
  console.log(`${what}: answered in ${(performance.now() - started).toFixed(0)} ms`);
  return result;
}

/** An upload while a dependency is down: the contract's 503 with Retry-After, at once. */
async function uploadDuringOutage(svc: TestService, account: TestAccount, what: string): Promise<void> {
  const res = await timed(what, () => upload(svc, account, 'during the outage', { ...bound() }));
  expect(res.headers.get('retry-after')).not.toBeNull();
  await expectError(res, 503, 'service_unavailable');
}

describe('database outage', () => {
  it('answers 503 with Retry-After at once, trusts no cache, keeps /healthz, and recovers without restart', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mg-outage-db-'));
    const port = await findFreePort();
    let pg: EmbeddedPostgres = await openEmbeddedPostgres(path.join(dir, 'pg'), { port });
    cleanups.push(() => pg.stop());
    const pool = createPool(pg.url);
    await migrate(pool);
    await pool.end();

    const svc: TestService = await startService({ databaseUrl: pg.url });
    cleanups.push(() => svc.close());
    const account = await newAccount(svc.db);
    const legacy = await uploadJson(svc, account, 'public');
    await setProtection(svc, account, { message: true });
    const secret = await uploadJson(svc, account, 'protected');
    const cold = await uploadJson(svc, account, 'never fetched');
    // Warm the caches: the credentials and both media rows.
    expect((await getMediaUrl(secret.url, { headers: { Authorization: account.basic } })).status).toBe(302);
    expect((await getMediaUrl(legacy.url)).status).toBe(302);

    // A client checked out (a transaction, a periodic job) when the server goes away gets
    // an 'error' event; it must not go unhandled (vitest fails the run on one).
    const held = await checkout(svc.db);
    const lost = new Promise((resolve) => (held.once('error', resolve), held.once('end', resolve)));
    const feedLost = svc.logLine((l) => l.msg === 'invalidation feed lost: not ready, caches bypassed until it reconnects');
    await pg.stop(); // the PostgreSQL server process really stops
    await lost;
    await feedLost;
    held.release(true);

    await uploadDuringOutage(svc, account, 'upload');

    const list = await timed('list', () => fetch(`${svc.baseUrl}/v1/accounts/${account.sid}/media`, { headers: { Authorization: account.basic }, ...bound() }));
    expect(list.status).toBe(503);
    const uncached = await timed('uncached redirect', () => getMediaUrl(cold.url, { headers: { Authorization: account.basic }, ...bound() }));
    expect(uncached.status).toBe(503);
    const ready = await timed('readyz', () => fetch(`${svc.baseUrl}/readyz`, bound()));
    expect(ready.status).toBe(503);
    const checks = ((await ready.json()) as { checks: Record<string, { ok: boolean; detail?: string }> }).checks;
    expect(checks.database).toMatchObject({ ok: false });
    expect(checks.invalidation_feed).toMatchObject({ ok: false });
    expect((await fetch(`${svc.baseUrl}/healthz`)).status).toBe(200);

    // Without LISTEN a revocation could go unheard: cached credentials and media are not
    // trusted, so even a warm redirect is a 503 (the contract: a revocation is never missed).
    const warm = await getMediaUrl(secret.url, { headers: { Authorization: account.basic } });
    expect(warm.status).toBe(503);
    expect((await getMediaUrl(legacy.url)).status).toBe(503);
    await svc.logLine((l) => l.status === 503 && typeof l.error_cause === 'string' && (l.error_cause as string).startsWith('database: '));

    pg = await openEmbeddedPostgres(path.join(dir, 'pg'), { port });
    // No restart of the service: its pool connects anew on the next request, and the
    // LISTEN connection is back too (it retries every second at most).
    await timed('invalidation feed listening again', () => svc.feed.ready());
    expect((await timed('readyz after the restart', () => fetch(`${svc.baseUrl}/readyz`, bound()))).status).toBe(200);
    expect((await upload(svc, account, 'after outage')).status).toBe(201);
    expect((await getMediaUrl(cold.url, { headers: { Authorization: account.basic } })).status).toBe(302);
    // A change's NOTIFY reaches the caches again.
    const noticed = svc.nextInvalidation(account.sid);
    await setProtection(svc, account, { fax: true });
    await noticed;
  }, 60_000);
});

describe('object store outage', () => {
  it('answers 503 to uploads (no row) and deletes (row kept), while redirects keep working', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mg-outage-s3-'));
    const port = await findFreePort();
    const startS3 = async () => {
      const s = new S3rver({ port, address: '127.0.0.1', directory: dir, silent: true, configureBuckets: [{ name: inject('s3Bucket'), configs: [] }] });
      await s.run();
      return s;
    };
    let s3 = await startS3();
    const svc = await startService({ s3Endpoint: `http://127.0.0.1:${port}` });
    cleanups.push(() => svc.close());
    const account = await newAccount(svc.db);
    const kept = await uploadJson(svc, account, 'kept');

    await s3.close(); // the S3 server really stops listening

    await uploadDuringOutage(svc, account, 'upload while S3 is down');
    // The access line says why, in the SDK's words.
    await svc.logLine((l) => l.status === 503 && /^object_store: .*ECONNREFUSED/.test(String(l.error_cause)));
    const { rows } = await svc.db.query('SELECT count(*)::int AS n FROM media WHERE account_sid = $1', [account.sid]);
    expect(rows[0].n).toBe(1);

    expect((await getMediaUrl(kept.url)).status).toBe(302);

    const del = await fetch(kept.url, { method: 'DELETE', headers: { Authorization: account.basic } });
    expect(del.status).toBe(503);
    expect((await fetch(`${kept.url}.json`, { headers: { Authorization: account.basic } })).status).toBe(200);

    s3 = await startS3();
    cleanups.push(() => s3.close());
    expect((await upload(svc, account, 'back')).status).toBe(201);
    expect((await fetch(kept.url)).status).toBe(200);
    expect((await fetch(kept.url, { method: 'DELETE', headers: { Authorization: account.basic } })).status).toBe(204);
  }, 60_000);
});
