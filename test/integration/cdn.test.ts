import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { TestClock } from '../support/clock.js';
import { sharedStoresEnv, spawnServe, stopServe } from '../support/process.js';
import { getMediaUrl, newAccount, setProtection, startService, uploadJson, type MediaJson, type TestAccount, type TestService } from '../support/service.js';

// Issue #14: media URLs delivered by a CloudFront distribution that requires signed URLs.
// What every store does (bytes, headers, deletes, expiry) is store-contract.test.ts's,
// run on CloudFront too; here is what is CloudFront's own: its URLs, their signatures as
// the edge checks them, and its configuration.

const TTL_SECONDS = 14_400;
// The service's and the edge's clock.
const clock = new TestClock();
let svc: TestService;
let owner: TestAccount;
let media: MediaJson;
const bytes = randomBytes(70_000);

const edgeUrl = () => svc.cloudFront!.edge.baseUrl;

beforeAll(async () => {
  svc = await startService({ storeKind: 'cloudfront', clock: clock.now });
  owner = await newAccount(svc.db, 'cdn');
  expect((await setProtection(svc, owner, { message: true })).status).toBe(200);
  media = await uploadJson(svc, owner, bytes, { contentType: 'image/png', filename: 'photo (1).png' });
  expect(media.requires_auth).toBe(true);
});
afterAll(() => svc?.close());

async function signedLocation(url: string, query = ''): Promise<string> {
  const res = await getMediaUrl(`${url}${query}`, { headers: { Authorization: owner.basic } });
  expect(res.status).toBe(302);
  return res.headers.get('location')!;
}

/** Runs `check` with the clock pinned to now (released after, whatever happens). */
async function pinned(check: (nowSeconds: number) => Promise<void>): Promise<void> {
  try {
    await check(clock.pin().getTime() / 1000);
  } finally {
    clock.release();
  }
}

describe('GET /v1/accounts/:account/media/:media with CloudFront delivery', () => {
  it('answers 302 to CLOUDFRONT_URL/{key} with Expires, Signature and Key-Pair-Id, expiring MEDIA_URL_TTL_SECONDS from now', async () => {
    const fresh = await uploadJson(svc, owner, 'never signed before');
    await pinned(async (now) => {
      const location = await signedLocation(fresh.url);
      expect(location.startsWith(`${edgeUrl()}/${owner.sid}/${fresh.sid}?Expires=`)).toBe(true);
      const url = new URL(location);
      expect([...url.searchParams.keys()]).toEqual(['Expires', 'Signature', 'Key-Pair-Id']);
      expect(url.searchParams.get('Key-Pair-Id')).toBe(svc.cloudFront!.keyPairId);
      expect(url.searchParams.get('Signature')).toMatch(/^[A-Za-z0-9~_-]+$/);
      expect(Number(url.searchParams.get('Expires'))).toBe(now + TTL_SECONDS);
    });
    expect(svc.store.description).toContain(`delivered through CloudFront distribution ${edgeUrl()}`);
  });

  it('answers ?redirect=false with the CloudFront URL as JSON; ?expires_in shortens its life', async () => {
    await pinned(async (now) => {
      const res = await fetch(`${media.url}?redirect=false&expires_in=600`, { headers: { Authorization: owner.basic } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { url: string; method: string; expires_at: string };
      expect(body.url.startsWith(`${edgeUrl()}/${owner.sid}/${media.sid}?Expires=`)).toBe(true);
      expect(Number(new URL(body.url).searchParams.get('Expires'))).toBe(now + 600);
      expect(Date.parse(body.expires_at)).toBe((now + 600) * 1000);
      const delivered = await fetch(body.url);
      expect(Buffer.from(await delivered.arrayBuffer()).equals(bytes)).toBe(true);
    });
  });

  it('signs ?disposition=attachment into the URL: the edge refuses it changed', async () => {
    const location = await signedLocation(media.url, '?disposition=attachment');
    expect([...new URL(location).searchParams.keys()]).toEqual(['response-content-disposition', 'Expires', 'Signature', 'Key-Pair-Id']);
    const res = await fetch(location);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="photo (1).png"; filename*=UTF-8''photo%20%281%29.png`);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);

    const refused = await fetch(location.replace(/response-content-disposition=[^&]*/, 'response-content-disposition=inline'));
    expect(refused.status).toBe(403);
    expect(await refused.text()).toBe('AccessDenied: signature does not match');
  });

  it('is refused with 403 at the edge when the URL was tampered with', async () => {
    const location = await signedLocation(media.url, '?disposition=attachment');
    const expires = new URL(location).searchParams.get('Expires')!;
    const lastHex = media.sid.slice(-1);
    const tampered = [
      location.replace(`/${media.sid}?`, `/${media.sid.slice(0, -1)}${lastHex === '0' ? '1' : '0'}?`),
      location.replace('attachment', 'inline'),
      location.replace(`Expires=${expires}`, `Expires=${Number(expires) + 86_400}`),
      location.replace(/&Key-Pair-Id=[^&]+/, '&Key-Pair-Id=KUNKNOWNKEY'),
      location.replace(/&Signature=[^&]+/, ''),
    ];
    for (const url of tampered) {
      expect(url).not.toBe(location);
      const res = await fetch(url);
      expect(res.status, url).toBe(403);
      expect(await res.text()).toMatch(/^AccessDenied: /);
    }
    expect((await fetch(location)).status).toBe(200);
  });

  it('is refused with 403 at the edge from its Expires on', async () => {
    const location = await signedLocation(media.url);
    const expires = Number(new URL(location).searchParams.get('Expires'));
    try {
      clock.pin(expires * 1000 - 1000);
      expect((await fetch(location)).status).toBe(200);
      clock.pin(expires * 1000);
      const res = await fetch(location);
      expect(res.status).toBe(403);
      expect(await res.text()).toBe('AccessDenied: expired');
    } finally {
      clock.release();
    }
  });
});

describe('mediagate serve with CloudFront delivery', () => {
  const serveEnv = () => ({ ...sharedStoresEnv(), ...svc.cloudFront!.env, LOG_LEVEL: 'warn' });

  it('names the distribution at startup and redirects to it', async () => {
    const serve = await spawnServe(serveEnv());
    try {
      expect(serve.stderr()).toContain(`delivered through CloudFront distribution ${edgeUrl()} (public key ${svc.cloudFront!.keyPairId})`);
      const res = await fetch(`${serve.baseUrl}${new URL(media.url).pathname}`, { headers: { Authorization: owner.basic } });
      expect(res.status).toBe(200);
      expect(res.url.startsWith(`${edgeUrl()}/${owner.sid}/${media.sid}?Expires=`)).toBe(true);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    } finally {
      await stopServe(serve);
    }
  });

  it.each([
    ['cannot be read', async () => path.join(svc.cloudFront!.dir, 'missing.pem'), /CLOUDFRONT_PRIVATE_KEY_FILE cannot be read: .*missing\.pem \(ENOENT\)$/],
    [
      'is not RSA',
      async () => {
        const file = path.join(svc.cloudFront!.dir, 'ec.pem');
        const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
        await writeFile(file, ec);
        return file;
      },
      /CLOUDFRONT_PRIVATE_KEY_FILE is not an RSA private key: .*ec\.pem \(found ec; CloudFront needs RSA\)$/,
    ],
  ])('exits 2 with one line when the private key file %s', async (_, file, line) => {
    const res = await runCli(['serve'], { ...serveEnv(), PORT: '0', CLOUDFRONT_PRIVATE_KEY_FILE: await file() });
    expect(res.code).toBe(2);
    const lines = res.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^mediagate: invalid configuration: /);
    expect(lines[0]).toMatch(line);
  });

  it('exits 2 naming the missing variables when only some are set', async () => {
    const res = await runCli(['serve'], { CLOUDFRONT_URL: 'https://d111111abcdef8.cloudfront.net' });
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(
      'mediagate: invalid configuration: CLOUDFRONT_KEY_PAIR_ID must be set with CLOUDFRONT_URL; ' +
        'CLOUDFRONT_PRIVATE_KEY_FILE must be set with CLOUDFRONT_URL; ' +
        'S3_BUCKET must be set for CloudFront delivery (CLOUDFRONT_URL given)\n',
    );
  });
});
