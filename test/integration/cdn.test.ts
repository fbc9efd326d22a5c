import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { startCloudFrontEdge, type CloudFrontEdge } from '../support/cloudfront-edge.js';
import { spawnServe } from '../support/process.js';
import {
  getMediaUrl,
  newAccount,
  S3_CREDENTIALS,
  setProtection,
  startService,
  uploadJson,
  type MediaJson,
  type TestAccount,
  type TestService,
} from '../support/service.js';

// Issue #14: media URLs delivered by a CloudFront distribution that requires signed URLs.

const run = promisify(execFile);
const KEY_PAIR_ID = 'K2JCJMDEHXQW5F';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

let keyDir: string;
let keyFile: string;
let edge: CloudFrontEdge;
/** the edge's clock: undefined is the system clock */
let edgeNow: Date | undefined;
let svc: TestService;
let owner: TestAccount;
let media: MediaJson;
const bytes = randomBytes(70_000);

function cdnEnv(): Record<string, string> {
  return {
    S3_BUCKET: inject('s3Bucket'),
    S3_ENDPOINT: inject('s3Endpoint'),
    CLOUDFRONT_URL: edge.baseUrl,
    CLOUDFRONT_KEY_PAIR_ID: KEY_PAIR_ID,
    CLOUDFRONT_PRIVATE_KEY_FILE: keyFile,
  };
}

beforeAll(async () => {
  keyDir = await mkdtemp(path.join(tmpdir(), 'mg-cdn-'));
  keyFile = path.join(keyDir, 'cloudfront.pem');
  await writeFile(keyFile, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
  edge = await startCloudFrontEdge({
    origin: { endpoint: inject('s3Endpoint'), bucket: inject('s3Bucket'), credentials: S3_CREDENTIALS },
    trustedKeys: { [KEY_PAIR_ID]: publicKey },
    clock: () => edgeNow ?? new Date(),
  });
  svc = await startService({ storeKind: 'cloudfront', env: cdnEnv() });
  owner = await newAccount(svc.db, 'cdn');
  expect((await setProtection(svc, owner, { message: true })).status).toBe(200);
  media = await uploadJson(svc, owner, bytes, { contentType: 'image/png', filename: 'photo (1).png' });
  expect(media.requires_auth).toBe(true);
});

afterAll(async () => {
  await svc?.close();
  await edge?.close();
  await rm(keyDir, { recursive: true, force: true });
});

async function signedLocation(query = ''): Promise<string> {
  const res = await getMediaUrl(`${media.url}${query}`, { headers: { Authorization: owner.basic } });
  expect(res.status).toBe(302);
  return res.headers.get('location')!;
}

describe('GET /v1/accounts/:account/media/:media with CloudFront delivery', () => {
  it('answers 302 to CLOUDFRONT_URL/{key} with Expires, Signature and Key-Pair-Id, expiring after MEDIA_URL_TTL_SECONDS', async () => {
    const before = Math.floor(Date.now() / 1000);
    const location = await signedLocation();
    expect(location.startsWith(`${edge.baseUrl}/${owner.sid}/${media.sid}?Expires=`)).toBe(true);
    const url = new URL(location);
    expect([...url.searchParams.keys()]).toEqual(['Expires', 'Signature', 'Key-Pair-Id']);
    expect(url.searchParams.get('Key-Pair-Id')).toBe(KEY_PAIR_ID);
    expect(url.searchParams.get('Signature')).toMatch(/^[A-Za-z0-9~_-]+$/);
    const expires = Number(url.searchParams.get('Expires'));
    expect(expires - before).toBeGreaterThanOrEqual(14_400 - 60); // a reused URL is up to 60 s older
    expect(expires - before).toBeLessThanOrEqual(14_400 + 5);
    expect(svc.store.description).toContain(`delivered through CloudFront distribution ${edge.baseUrl}`);
  });

  it('answers ?redirect=false with the same CloudFront URL as JSON; ?expires_in shortens its life', async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await fetch(`${media.url}?redirect=false&expires_in=600`, { headers: { Authorization: owner.basic } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { url: string; method: string; expires_at: string };
    expect(body.url.startsWith(`${edge.baseUrl}/${owner.sid}/${media.sid}?Expires=`)).toBe(true);
    const expires = Number(new URL(body.url).searchParams.get('Expires'));
    expect(expires - before).toBeGreaterThanOrEqual(600);
    expect(expires - before).toBeLessThanOrEqual(605);
    expect(Math.floor(Date.parse(body.expires_at) / 1000)).toBe(expires);
    const delivered = await fetch(body.url);
    expect(Buffer.from(await delivered.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('still asks for credentials first', async () => {
    expect((await getMediaUrl(media.url)).status).toBe(401);
  });

  it('delivers the exact bytes through the edge to fetch following the redirect', async () => {
    const res = await fetch(media.url, { headers: { Authorization: owner.basic } });
    expect(res.status).toBe(200);
    expect(res.url.startsWith(`${edge.baseUrl}/`)).toBe(true);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('content-disposition')).toBeNull();
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('delivers the exact bytes through the edge to curl -L -u', async () => {
    const { stdout } = await run('curl', ['-sS', '-f', '-L', '-u', `${owner.sid}:${owner.authToken}`, media.url], {
      encoding: 'buffer',
      maxBuffer: 10 * 1024 * 1024,
    });
    expect(Buffer.compare(stdout, bytes)).toBe(0);
  });

  it('serves ?disposition=attachment as Content-Disposition: attachment, from inside the signed URL', async () => {
    const location = await signedLocation('?disposition=attachment');
    const url = new URL(location);
    expect([...url.searchParams.keys()]).toEqual(['response-content-disposition', 'Expires', 'Signature', 'Key-Pair-Id']);
    const res = await fetch(location);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe(
      `attachment; filename="photo (1).png"; filename*=UTF-8''photo%20%281%29.png`,
    );
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);

    const refused = await fetch(location.replace(/response-content-disposition=[^&]*/, 'response-content-disposition=inline'));
    expect(refused.status).toBe(403);
    expect(await refused.text()).toBe('AccessDenied: signature does not match');
  });

  it('is refused with 403 at the edge when the URL was tampered with', async () => {
    const location = await signedLocation('?disposition=attachment');
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

  it('is refused with 403 at the edge once expired', async () => {
    const location = await signedLocation();
    const expires = Number(new URL(location).searchParams.get('Expires'));
    try {
      edgeNow = new Date(expires * 1000 - 1000);
      expect((await fetch(location)).status).toBe(200);
      edgeNow = new Date(expires * 1000);
      const res = await fetch(location);
      expect(res.status).toBe(403);
      expect(await res.text()).toBe('AccessDenied: expired');
    } finally {
      edgeNow = undefined;
    }
  });

  it('serves media a browser would run as an attachment through the CDN too', async () => {
    const svg = await uploadJson(svc, owner, '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', {
      contentType: 'image/svg+xml',
    });
    const res = await fetch(svg.url, { headers: { Authorization: owner.basic } });
    expect(res.status).toBe(200);
    expect(res.url.startsWith(`${edge.baseUrl}/`)).toBe(true);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; /);
  });

  it('deletes from S3 at once: the origin has nothing left for an earlier signed URL', async () => {
    const gone = await uploadJson(svc, owner, 'short-lived', { contentType: 'text/plain' });
    const res = await getMediaUrl(gone.url, { headers: { Authorization: owner.basic } });
    const location = res.headers.get('location')!;
    expect((await fetch(location)).status).toBe(200);
    const deleted = await fetch(gone.url.replace(/\.json$/, ''), { method: 'DELETE', headers: { Authorization: owner.basic } });
    expect(deleted.status).toBe(204);
    expect(await svc.store.read(`${owner.sid}/${gone.sid}`)).toBeUndefined();
    // This edge caches nothing; a real distribution may serve its cached copy until the
    // cache TTL ends (docs/cdn.md).
    expect((await fetch(location)).status).toBe(404);
  });
});

describe('mediagate serve with CloudFront delivery', () => {
  const serveEnv = () => ({
    ...cdnEnv(),
    DATABASE_URL: inject('databaseUrl'),
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    LOG_LEVEL: 'warn',
  });

  it('names the distribution at startup and redirects to it', async () => {
    const serve = await spawnServe(serveEnv());
    try {
      expect(serve.stderr()).toContain(`delivered through CloudFront distribution ${edge.baseUrl} (public key ${KEY_PAIR_ID})`);
      const res = await fetch(`${serve.baseUrl}${new URL(media.url).pathname}`, { headers: { Authorization: owner.basic } });
      expect(res.status).toBe(200);
      expect(res.url.startsWith(`${edge.baseUrl}/${owner.sid}/${media.sid}?Expires=`)).toBe(true);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  });

  it.each([
    ['cannot be read', async () => path.join(keyDir, 'missing.pem'), /CLOUDFRONT_PRIVATE_KEY_FILE cannot be read: .*missing\.pem \(ENOENT\)$/],
    [
      'is not RSA',
      async () => {
        const file = path.join(keyDir, 'ec.pem');
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
