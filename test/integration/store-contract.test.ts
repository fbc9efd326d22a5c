import { randomBytes } from 'node:crypto';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ObjectTooLarge } from '../../src/storage/errors.js';
import { curl } from '../support/cli.js';
import { expectError } from '../support/http.js';
import { sha256 } from '../support/media.js';
import {
  getMediaUrl,
  newAccount,
  objectExists,
  setProtection,
  startService,
  upload,
  uploadJson,
  type TestAccount,
  type TestService,
} from '../support/service.js';

// One contract, run against every store: whatever delivers the bytes (S3's presigned
// URLs, the local store's blob URLs, a CloudFront distribution's signed URLs, checked by
// the test edge), a client following the media URL's redirect gets the same bytes,
// headers and failures. What is one store's own is in blobs.test.ts and cdn.test.ts.
describe.each(['s3', 'local', 'cloudfront'] as const)('the %s store', (storeKind) => {
  let svc: TestService;
  let account: TestAccount;
  const asOwner = () => ({ headers: { Authorization: account.basic } });
  /** where the redirect's signed URLs point */
  const deliveryOrigin = () =>
    storeKind === 'local' ? svc.baseUrl : storeKind === 's3' ? new URL(inject('s3Endpoint')).origin : svc.cloudFront!.edge.baseUrl;
  const newKey = () => `${account.sid}/ME${randomBytes(16).toString('hex')}`;
  /** a refusal of a signed URL, in the store's own words */
  async function expectRefused(res: Response): Promise<void> {
    if (storeKind === 'local') return expectError(res, 403, 'forbidden');
    expect(res.status).toBe(403);
    const text = await res.text();
    if (storeKind === 's3') expect(text).toContain('<Code>AccessDenied</Code>');
    else expect(text).toMatch(/^AccessDenied: /);
  }

  beforeAll(async () => {
    svc = await startService({ storeKind, env: { MEDIA_MAX_BYTES: String(256 * 1024) } });
    account = await newAccount(svc.db);
    await setProtection(svc, account, { message: true });
  });
  afterAll(() => svc?.close());

  it('stores, lists, checks and deletes objects', async () => {
    const key = newKey();
    const bytes = randomBytes(1000);
    const stored = await svc.store.put(key, Readable.from([bytes]), 'image/gif', 10_000);
    expect(stored).toEqual({ sizeBytes: 1000, sha256: sha256(bytes) });
    expect(await objectExists(svc.store, key)).toBe(true);
    const listed: string[] = [];
    for await (const o of svc.store.list()) listed.push(o.key);
    expect(listed).toContain(key);
    await svc.store.delete(key);
    expect(await objectExists(svc.store, key)).toBe(false);
    await svc.store.delete(key); // deleting a missing object is fine
  });

  it('cleans up uploads abandoned before the cut-off date without touching stored objects', async () => {
    const key = newKey();
    await svc.store.put(key, Readable.from([randomBytes(10)]), 'image/gif', 100);
    if (storeKind === 'local') {
      // What kill -9 leaves mid-upload: a temp file that never became an object.
      const tmp = path.join(svc.config.dataDir, 'objects', '.tmp');
      await mkdir(tmp, { recursive: true });
      await writeFile(path.join(tmp, 'abandoned.part'), 'half an upload');
      await writeFile(path.join(tmp, 'recent.part'), 'an upload in progress');
      const hourAgo = new Date(Date.now() - 3600_000);
      await utimes(path.join(tmp, 'abandoned.part'), hourAgo, hourAgo);
      expect(await svc.store.removeAbandonedUploads(new Date(Date.now() - 60_000))).toBe(1);
      expect((await readdir(tmp)).sort()).toEqual(['recent.part']);
    } else {
      // s3rver cannot list multipart uploads (501): the sweep says it removed none and
      // fails nothing; real S3 and MinIO list them (and a lifecycle rule covers the rest).
      expect(await svc.store.removeAbandonedUploads(new Date(Date.now() + 60_000))).toBe(0);
    }
    expect(await objectExists(svc.store, key)).toBe(true);
  });

  it('refuses more than maxBytes and keeps nothing', async () => {
    const key = newKey();
    const body = Readable.from([randomBytes(600), randomBytes(600)]);
    await expect(svc.store.put(key, body, 'image/gif', 1000)).rejects.toBeInstanceOf(ObjectTooLarge);
    expect(await objectExists(svc.store, key)).toBe(false);
  });

  it('asks for credentials before any redirect to the store', async () => {
    const m = await uploadJson(svc, account, 'protected');
    await expectError(await getMediaUrl(m.url), 401, 'unauthorized');
  });

  it('serves the exact bytes and Content-Type to fetch following the redirect with credentials', async () => {
    const bytes = randomBytes(20_000);
    const m = await uploadJson(svc, account, bytes, { contentType: 'audio/x-wav' });
    // fetch keeps the Authorization header on a same-origin redirect (the local store).
    const res = await fetch(m.url, asOwner());
    expect(res.status).toBe(200);
    expect(new URL(res.url).origin).toBe(deliveryOrigin());
    expect(res.headers.get('content-type')).toBe('audio/x-wav');
    expect(res.headers.get('content-disposition')).toBeNull();
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('serves the exact bytes to curl -L -u, which re-sends the credentials', async () => {
    const m = await uploadJson(svc, account, randomBytes(7_000), { contentType: 'application/pdf' });
    expect(sha256(await curl(m.url, account))).toBe(m.sha256);
  });

  it('answers a followed HEAD with the headers and no body', async () => {
    const m = await uploadJson(svc, account, randomBytes(1234), { contentType: 'image/webp' });
    const res = await fetch(m.url, { method: 'HEAD', ...asOwner() });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('1234');
    expect(res.headers.get('content-type')).toBe('image/webp');
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it('serves Content-Disposition: attachment when asked', async () => {
    const m = await uploadJson(svc, account, 'pdf', { filename: 'Q3 report "final".pdf' });
    const res = await fetch(`${m.url}?disposition=attachment`, asOwner());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe(
      `attachment; filename="Q3 report _final_.pdf"; filename*=UTF-8''Q3%20report%20%22final%22.pdf`,
    );
    await res.arrayBuffer();
  });

  it('serves media a browser would run as an attachment', async () => {
    const svg = await uploadJson(svc, account, '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', {
      contentType: 'image/svg+xml',
    });
    const res = await fetch(svg.url, asOwner());
    expect(res.status).toBe(200);
    expect(new URL(res.url).origin).toBe(deliveryOrigin());
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; /);
    await res.arrayBuffer();
  });

  it('deletes the object at once: a URL issued before the media was deleted serves nothing', async () => {
    const m = await uploadJson(svc, account, 'gone soon');
    const location = (await getMediaUrl(m.url, asOwner())).headers.get('location')!;
    expect((await fetch(location)).status).toBe(200);
    expect((await fetch(m.url, { method: 'DELETE', ...asOwner() })).status).toBe(204);
    expect(await svc.store.read(`${account.sid}/${m.sid}`)).toBeUndefined();
    // The test edge caches nothing; a real distribution may serve its cached copy until
    // the cache TTL ends (docs/cdn.md).
    const after = await fetch(location);
    expect(after.status).toBe(404);
    await after.arrayBuffer();
  });

  it('refuses a URL whose lifetime has passed', async () => {
    const m = await uploadJson(svc, account, 'old');
    const url = await svc.store.signUrl({
      key: `${account.sid}/${m.sid}`,
      method: 'GET',
      contentType: 'text/plain',
      signedAt: new Date(Date.now() - 61_000),
      ttlSeconds: 60,
    });
    await expectRefused(await fetch(url));
  });

  it('stores 20 concurrent uploads intact', async () => {
    const bodies = Array.from({ length: 20 }, (_, i) => randomBytes(5_000 + i * 997));
    const results = await Promise.all(bodies.map((b) => uploadJson(svc, account, b)));
    for (const [i, m] of results.entries()) expect(m.sha256).toBe(sha256(bodies[i]!));
    const fetched = await Promise.all(results.map(async (m) => Buffer.from(await (await fetch(m.url, asOwner())).arrayBuffer())));
    for (const [i, b] of fetched.entries()) expect(b.equals(bodies[i]!)).toBe(true);
  });

  it('leaves neither row nor object after a 413', async () => {
    const fresh = await newAccount(svc.db);
    const res = await upload(svc, fresh, randomBytes(300 * 1024));
    expect(res.status).toBe(413);
    const keys: string[] = [];
    for await (const o of svc.store.list()) if (o.key.startsWith(fresh.sid)) keys.push(o.key);
    expect(keys).toEqual([]);
    const { rows } = await svc.db.query('SELECT count(*)::int AS n FROM media WHERE account_sid = $1', [fresh.sid]);
    expect(rows[0].n).toBe(0);
  });
});
