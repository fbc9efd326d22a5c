// CloudFront delivery (#20, #21): a share link's 302 leads to a signed URL of the
// distribution (CLOUDFRONT_URL), living SHARE_URL_TTL_SECONDS, that the test edge (which
// checks CloudFront's signatures) serves; a direct upload's PUT still goes to S3 itself.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { accountApi } from '../support/credentials.js';
import { newAccount, setProtection, startService, uploadJson, type TestAccount, type TestService } from '../support/service.js';

let svc: TestService;
let owner: TestAccount;
beforeAll(async () => {
  svc = await startService({ storeKind: 'cloudfront', env: { SHARE_URL_TTL_SECONDS: '120' } });
  owner = await newAccount(svc.db, 'cdn');
  expect((await setProtection(svc, owner, { recording: true })).status).toBe(200);
});
afterAll(() => svc?.close());

it("redirects a share link to the distribution, signed for SHARE_URL_TTL_SECONDS, and the edge serves it", async () => {
  const bytes = randomBytes(50_000);
  const media = await uploadJson(svc, owner, bytes, { kind: 'recording', contentType: 'audio/wav' });
  expect(media.requires_auth).toBe(true);
  const link = (await (await accountApi(svc, owner, `/media/${media.sid}/share-links`, { method: 'POST', json: {} })).json()) as { url: string };
  const before = Math.floor(Date.now() / 1000);
  const res = await fetch(link.url, { redirect: 'manual' });
  expect(res.status).toBe(302);
  const location = new URL(res.headers.get('location')!);
  expect(location.origin).toBe(svc.cloudFront!.edge.baseUrl);
  expect(location.pathname).toBe(`/${owner.sid}/${media.sid}`);
  expect(location.searchParams.get('Key-Pair-Id')).toBe(svc.cloudFront!.keyPairId);
  const expires = Number(location.searchParams.get('Expires'));
  expect(expires).toBeGreaterThanOrEqual(before + 120);
  expect(expires).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 120);
  const served = await fetch(location);
  expect(served.status).toBe(200);
  expect(Buffer.from(await served.arrayBuffer()).equals(bytes)).toBe(true);
  // The signature is checked: the same URL with another object is refused by the edge.
  const tampered = new URL(location);
  tampered.pathname = `/${owner.sid}/ME${'0'.repeat(32)}`;
  expect((await fetch(tampered)).status).toBe(403);
});

it('signs a direct upload for the bucket itself, not the distribution', async () => {
  const bytes = randomBytes(20_000);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const started = await accountApi(svc, owner, '/media/uploads', {
    method: 'POST',
    json: { kind: 'message', content_type: 'image/png', size_bytes: bytes.length, sha256 },
  });
  expect(started.status).toBe(201);
  const upload = (await started.json()) as { upload_id: string; url: string; headers: Record<string, string> };
  expect(new URL(upload.url).origin).toBe(new URL(inject('s3Endpoint')).origin);
  expect((await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: bytes })).status).toBe(200);
  const done = await accountApi(svc, owner, `/media/uploads/${upload.upload_id}/complete`, { method: 'POST' });
  expect(done.status).toBe(201);
  expect(((await done.json()) as { sha256: string }).sha256).toBe(sha256);
});
