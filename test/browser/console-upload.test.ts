// Uploads from the owner's console (#21), in Debian's Chromium: a file over the
// threshold the page names (8 MiB) goes the direct way (POST …/media/uploads, a PUT to
// the store's signed URL with its progress shown, POST …/complete), one at or under it
// through POST …/media. On the local store (same origin, nothing to set up), on S3 with
// the bucket CORS rule docs/clients.md gives, and on S3 without it, where the page falls
// back to sending the file through the service. Each file lands byte-exact.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutBucketCorsCommand, S3Client, type CORSRule } from '@aws-sdk/client-s3';
import type { Page, Request } from 'playwright-core';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findFreePort } from '../../src/db/embedded.js';
import { chromiumMissing } from '../support/browser.js';
import { consoleBrowser, signIn } from '../support/console-page.js';
import { newAccount, S3_CREDENTIALS, startService, type MediaJson, type TestAccount, type TestService } from '../support/service.js';

const missing = chromiumMissing();
if (missing) console.warn(missing);

const MiB = 1024 * 1024;
/** What docs/console.md and README.md say, and the page names on #upload-file. */
const THRESHOLD = 8 * MiB;
/** The service's origin as docs/clients.md's rule names it, for the test to put its own in. */
const DOCS_ORIGIN = 'https://media.example.com';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

const browser = consoleBrowser({ timeoutMillis: 20_000 });
const services: TestService[] = [];
let corsS3: S3rver | undefined;
let corsS3Dir: string | undefined;
let corsS3Endpoint: string;

afterAll(async () => {
  await Promise.all(services.map((s) => s.close()));
  await corsS3?.close();
  if (corsS3Dir) await rm(corsS3Dir, { recursive: true, force: true });
});

async function service(options: Parameters<typeof startService>[0]): Promise<TestService> {
  const svc = await startService(options);
  services.push(svc);
  return svc;
}

/** The bucket CORS configuration docs/clients.md gives, with this service's origin in it. */
async function docsBucketCors(origin: string): Promise<CORSRule[]> {
  const doc = await readFile(path.resolve(import.meta.dirname, '../../docs/clients.md'), 'utf8');
  const block = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('"CORSRules"'));
  expect(block, 'docs/clients.md has the bucket CORS configuration').toBeDefined();
  const config = JSON.parse(block!) as { CORSRules: CORSRule[] };
  const put = config.CORSRules.find((r) => r.AllowedMethods?.includes('PUT'));
  expect(put?.AllowedOrigins, 'a rule for direct uploads, naming the console origin').toEqual([DOCS_ORIGIN]);
  return config.CORSRules.map((r) => ({ ...r, AllowedOrigins: r.AllowedOrigins!.map((o) => (o === DOCS_ORIGIN ? origin : o)) }));
}

const openConsole = (svc: TestService): Promise<Page> => browser.open(svc.baseUrl);

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string>;
}

/** Every request the page sends, from now on. */
function watchRequests(page: Page): Seen[] {
  const seen: Seen[] = [];
  page.on('request', (req: Request) => seen.push({ method: req.method(), url: req.url(), headers: req.headers() }));
  return seen;
}

/** The requests of one upload, by what they are. */
function classify(seen: Seen[], svc: TestService, account: TestAccount) {
  const api = `${svc.baseUrl}/v1/accounts/${account.sid}`;
  return {
    through: seen.filter((r) => r.method === 'POST' && r.url.startsWith(`${api}/media?`)),
    start: seen.filter((r) => r.method === 'POST' && r.url === `${api}/media/uploads`),
    put: seen.filter((r) => r.method === 'PUT'),
    complete: seen.filter((r) => r.method === 'POST' && /\/media\/uploads\/UP[0-9a-f]{32}\/complete$/.test(r.url)),
  };
}

/** Records every value each upload's progress bar takes, by file name. */
async function recordProgress(page: Page): Promise<void> {
  await page.evaluate(`(() => {
    window.progressSeen = {};
    new MutationObserver((changes) => {
      for (const c of changes) {
        const bar = c.target;
        if (bar.tagName !== 'PROGRESS' || !bar.hasAttribute('value')) continue;
        const name = bar.closest('.upload-item').querySelector('.upload-name').textContent;
        (window.progressSeen[name] ??= []).push(Number(bar.getAttribute('value')));
      }
    }).observe(document.getElementById('upload-list'), { attributes: true, attributeFilter: ['value'], subtree: true });
  })()`);
}

const progressOf = (page: Page, name: string) => page.evaluate<number[]>(`window.progressSeen[${JSON.stringify(name)}] ?? []`);

/**
 * Sends the upload's bytes at 16 MiB/s, as a good uplink would: the progress bar then has
 * steps to show (on loopback the whole file would go at once).
 */
async function throttleUploads(page: Page): Promise<void> {
  const cdp = await browser.session.context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 16 * MiB });
}

/** Chooses the file in the page (as "Upload files" does) and waits for its line to say it is done. */
async function uploadInPage(page: Page, name: string, bytes: Buffer, mimeType = 'application/octet-stream') {
  await page.getByLabel('Upload files', { exact: true }).setInputFiles({ name, mimeType, buffer: bytes });
  const item = page.locator('.upload-item', { has: page.locator('.upload-name', { hasText: name }) });
  await item.and(page.locator('.is-done, .is-failed')).waitFor({ timeout: 60_000 });
  expect(await item.getAttribute('class')).toContain('is-done');
  return item;
}

/** The media the upload made (the account's newest), and its bytes as a client downloads them. */
async function landed(svc: TestService, account: TestAccount): Promise<{ media: MediaJson; bytes: Buffer }> {
  const list = (await (await fetch(`${svc.baseUrl}/v1/accounts/${account.sid}/media?page_size=1`, { headers: { Authorization: account.basic } })).json()) as { media: MediaJson[] };
  const media = list.media[0]!;
  // The media URL with credentials: a 302 to the store, followed without them.
  const res = await fetch(media.url, { headers: { Authorization: account.basic }, redirect: 'manual' });
  expect(res.status).toBe(302);
  const bytes = Buffer.from(await (await fetch(res.headers.get('location')!)).arrayBuffer());
  return { media, bytes };
}

describe.skipIf(missing !== undefined)(missing ? `uploads from the console (skipped: ${missing})` : 'uploads from the console', () => {
  beforeAll(async () => {
    if (missing) return;
    // An S3 server of our own, whose bucket takes the CORS rule docs/clients.md gives
    // once the service's origin is known (the shared one has no rule at all).
    corsS3Dir = await mkdtemp(path.join(tmpdir(), 'mg-console-s3-'));
    const port = await findFreePort();
    corsS3 = new S3rver({ port, address: '127.0.0.1', directory: corsS3Dir, silent: true, configureBuckets: [{ name: inject('s3Bucket'), configs: [] }] });
    await corsS3.run();
    corsS3Endpoint = `http://127.0.0.1:${port}`;
  });

  it('names its threshold: 8 MiB', async () => {
    const svc = await service({ storeKind: 'local' });
    const page = await openConsole(svc);
    await signIn(page, await newAccount(svc.db, 'console upload threshold'));
    expect(Number(await page.locator('#upload-file').getAttribute('data-direct-from-bytes'))).toBe(THRESHOLD);
    expect(await page.locator('#upload-path-hint').innerText()).toBe('Files over 8 MB go straight to the store; smaller ones through mediagate.');
  });

  it('on the local store, sends a file over the threshold straight to its blob URL on the same origin, with progress, and one at the threshold through POST …/media', async () => {
    const svc = await service({ storeKind: 'local' });
    const account = await newAccount(svc.db, 'console upload local');
    const page = await openConsole(svc);
    await signIn(page, account);
    await recordProgress(page);
    await throttleUploads(page);

    const big = randomBytes(THRESHOLD + 1);
    let seen = watchRequests(page);
    const item = await uploadInPage(page, 'big-local.bin', big);
    expect(await item.getAttribute('data-path')).toBe('direct');
    expect(await item.locator('.upload-status').innerText()).toBe('Uploaded straight to the store as message media, public');
    let requests = classify(seen, svc, account);
    expect(requests.through).toEqual([]);
    expect(requests.start).toHaveLength(1);
    expect(requests.complete).toHaveLength(1);
    expect(requests.put).toHaveLength(1);
    const put = new URL(requests.put[0]!.url);
    expect(put.origin).toBe(svc.baseUrl);
    expect(put.pathname).toMatch(new RegExp(`^/v1/blobs/${account.sid}/ME[0-9a-f]{32}$`));
    // The page hashed the file: the store checks the bytes against it.
    expect(put.searchParams.get('sha')).toBe(sha256(big));
    expect(requests.put[0]!.headers['x-csrf-token']).toBeUndefined();
    // The bar moved through the PUT, not only to its end.
    const steps = await progressOf(page, 'big-local.bin');
    expect(steps.some((v) => v > 0 && v < 1), `progress seen: ${steps.join(', ')}`).toBe(true);
    expect(steps.at(-1)).toBe(1);
    let { media, bytes } = await landed(svc, account);
    expect(media).toMatchObject({ filename: 'big-local.bin', size_bytes: big.length, sha256: sha256(big), content_type: 'application/octet-stream' });
    expect(sha256(bytes)).toBe(sha256(big));

    const edge = randomBytes(THRESHOLD);
    seen = watchRequests(page);
    const edgeItem = await uploadInPage(page, 'edge-local.bin', edge);
    expect(await edgeItem.getAttribute('data-path')).toBe('service');
    requests = classify(seen, svc, account);
    expect(requests.through).toHaveLength(1);
    expect(new URL(requests.through[0]!.url).searchParams.get('kind')).toBe('message');
    expect(requests.through[0]!.headers['content-type']).toBe('application/octet-stream');
    expect([...requests.start, ...requests.put, ...requests.complete]).toEqual([]);
    expect((await progressOf(page, 'edge-local.bin')).some((v) => v > 0 && v < 1)).toBe(true);
    ({ media, bytes } = await landed(svc, account));
    expect(media).toMatchObject({ filename: 'edge-local.bin', size_bytes: edge.length, sha256: sha256(edge) });
    expect(sha256(bytes)).toBe(sha256(edge));
  });

  it("on S3 with docs/clients.md's bucket CORS rule, PUTs a file over the threshold to the bucket with its sha256, and a small one through the service", async () => {
    const endpoint = corsS3Endpoint;
    const svc = await service({ storeKind: 's3', s3Endpoint: endpoint });
    const s3 = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: S3_CREDENTIALS });
    await s3.send(new PutBucketCorsCommand({ Bucket: inject('s3Bucket'), CORSConfiguration: { CORSRules: await docsBucketCors(svc.baseUrl) } }));
    s3.destroy();
    const account = await newAccount(svc.db, 'console upload s3');
    const page = await openConsole(svc);
    await signIn(page, account);
    await recordProgress(page);
    await throttleUploads(page);

    const big = randomBytes(THRESHOLD + MiB + 7);
    let seen = watchRequests(page);
    const item = await uploadInPage(page, 'big-s3.wav', big, 'audio/wav');
    expect(await item.getAttribute('data-path')).toBe('direct');
    let requests = classify(seen, svc, account);
    expect(requests.through).toEqual([]);
    expect(requests.start).toHaveLength(1);
    expect(requests.complete).toHaveLength(1);
    // The PUT (and, before it, its preflight, which Chromium does not report as a request) went to S3.
    expect(requests.put).toHaveLength(1);
    const put = requests.put[0]!;
    expect(new URL(put.url).origin).toBe(endpoint);
    expect(put.headers['content-type']).toBe('audio/wav');
    expect(put.headers['x-amz-checksum-sha256']).toBe(Buffer.from(sha256(big), 'hex').toString('base64'));
    expect(put.headers['x-csrf-token']).toBeUndefined();
    const steps = await progressOf(page, 'big-s3.wav');
    expect(steps.some((v) => v > 0 && v < 1), `progress seen: ${steps.join(', ')}`).toBe(true);
    let { media, bytes } = await landed(svc, account);
    expect(media).toMatchObject({ filename: 'big-s3.wav', size_bytes: big.length, sha256: sha256(big), content_type: 'audio/wav' });
    expect(sha256(bytes)).toBe(sha256(big));

    const small = randomBytes(300 * 1024);
    seen = watchRequests(page);
    const smallItem = await uploadInPage(page, 'small-s3.wav', small, 'audio/wav');
    expect(await smallItem.getAttribute('data-path')).toBe('service');
    requests = classify(seen, svc, account);
    expect(requests.through).toHaveLength(1);
    expect(requests.through[0]!.headers['content-type']).toBe('audio/wav');
    expect([...requests.start, ...requests.put, ...requests.complete]).toEqual([]);
    ({ media, bytes } = await landed(svc, account));
    expect(media).toMatchObject({ filename: 'small-s3.wav', size_bytes: small.length, sha256: sha256(small) });
    expect(sha256(bytes)).toBe(sha256(small));
  });

  it('on S3 without a CORS rule for PUT, sends a file over the threshold through the service instead, and says why', async () => {
    // The shared S3 server's bucket has no CORS configuration at all.
    const svc = await service({ storeKind: 's3' });
    const account = await newAccount(svc.db, 'console upload s3 fallback');
    const page = await openConsole(svc);
    await signIn(page, account);
    browser.expectProblems(/blocked by CORS policy/, /net::ERR_FAILED/);

    const big = randomBytes(THRESHOLD + 3);
    const seen = watchRequests(page);
    const item = await uploadInPage(page, 'big-fallback.png', big, 'image/png');
    expect(await item.getAttribute('data-path')).toBe('service');
    expect(await item.locator('.upload-status').innerText()).toBe('Uploaded through mediagate (the store refused this page: see its CORS rule) as message media, public');
    const requests = classify(seen, svc, account);
    // Tried direct, refused by the browser before the PUT was sent, then through the service.
    expect(requests.start).toHaveLength(1);
    expect(requests.put).toHaveLength(1);
    expect(requests.complete).toEqual([]);
    expect(requests.through).toHaveLength(1);
    expect(browser.session.problems.join('\n')).toMatch(/blocked by CORS policy/);
    const { media, bytes } = await landed(svc, account);
    expect(media).toMatchObject({ filename: 'big-fallback.png', size_bytes: big.length, sha256: sha256(big), content_type: 'image/png' });
    expect(sha256(bytes)).toBe(sha256(big));
  });
});
