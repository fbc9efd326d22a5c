// Issue #11, browsers: a web app on another origin (listed in CORS_ORIGINS) shows a
// protected image, in Debian's Chromium. Its page fetches the media URL's JSON answer
// (`?redirect=false`) with an Authorization header, which takes a CORS preflight, and
// puts the signed URL into an <img>; with MEDIA_DELIVERY=proxy it fetches the bytes
// themselves; following the 302 to S3 with fetch needs the bucket CORS rule that
// docs/clients.md gives.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sha256 } from '../support/media.js';
import { png } from '../support/png.js';
import type { Page } from 'playwright-core';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findFreePort } from '../../src/db/embedded.js';
import { chromiumMissing, openBrowser, type BrowserSession } from '../support/browser.js';
import { newAccount, setProtection, startService, uploadJson, type MediaJson, type TestAccount, type TestService } from '../support/service.js';

const missing = chromiumMissing();


const IMAGE = png(37, 23);
const IMAGE_SHA256 = sha256(IMAGE);

/**
 * The bucket CORS rule docs/clients.md gives for `aws s3api put-bucket-cors` (keep the
 * two alike). Origin `*`: a page's fetch that follows the media URL's 302 to the bucket
 * arrives there with `Origin: null` (the fetch standard taints an origin that a
 * cross-origin redirect passed through), so a rule naming the app's origin fails.
 */
const BUCKET_CORS = {
  CORSRules: [
    {
      AllowedOrigins: ['*'],
      AllowedMethods: ['GET', 'HEAD'],
      AllowedHeaders: ['Range', 'If-None-Match', 'If-Modified-Since'],
      ExposeHeaders: ['Content-Length', 'Content-Range', 'ETag'],
      MaxAgeSeconds: 3600,
    },
  ],
};

/** The same rule as S3's XML, for s3rver's bucket configuration. */
function corsXml(config: typeof BUCKET_CORS): string {
  const rules = config.CORSRules.map((r) =>
    [
      ...r.AllowedOrigins.map((o) => `<AllowedOrigin>${o}</AllowedOrigin>`),
      ...r.AllowedMethods.map((m) => `<AllowedMethod>${m}</AllowedMethod>`),
      ...r.AllowedHeaders.map((h) => `<AllowedHeader>${h}</AllowedHeader>`),
      ...r.ExposeHeaders.map((h) => `<ExposeHeader>${h}</ExposeHeader>`),
      `<MaxAgeSeconds>${r.MaxAgeSeconds}</MaxAgeSeconds>`,
    ].join(''),
  );
  return `<CORSConfiguration>${rules.map((r) => `<CORSRule>${r}</CORSRule>`).join('')}</CORSConfiguration>`;
}

type AppHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** A web app's origin: a server of its own on another port; by default one blank page. */
async function startAppOrigin(handler?: AppHandler): Promise<{ origin: string; server: Server }> {
  const port = await findFreePort();
  const server = createServer((req, res) => {
    if (handler) {
      Promise.resolve(handler(req, res)).catch((err: unknown) => res.writeHead(500).end(String(err)));
      return;
    }
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end('<!doctype html><html><head><title>app</title></head><body></body></html>');
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${port}`, server };
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * docs/clients.md's server-side recipe: the app's server asks for the JSON answer with
 * its credentials and renders the signed URL into an <img>; no credential reaches the
 * browser, and no CORS is involved.
 */
function photoPage(mediagate: string, accountSid: string, authorization: string): AppHandler {
  return async (req, res) => {
    const mediaSid = new URL(req.url ?? '/', 'http://app').searchParams.get('media') ?? '';
    if (!/^ME[0-9a-f]{32}$/.test(mediaSid)) {
      res.writeHead(404).end();
      return;
    }
    const answer = await fetch(`${mediagate}/v1/accounts/${accountSid}/media/${mediaSid}?redirect=false&expires_in=300`, {
      headers: { Authorization: authorization },
    });
    if (!answer.ok) {
      res.writeHead(answer.status === 404 ? 404 : 502).end();
      return;
    }
    const { url } = (await answer.json()) as { url: string };
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>photo</title><link rel="icon" href="data:,"><img id="photo" src="${escapeHtml(url)}" alt="photo">`);
  };
}

// Browser code as strings: the tests' tsconfig has no DOM library.

/** The recipe: fetch the JSON answer with the credentials, show its URL in an <img>. */
const SHOW_FROM_JSON = `async ({ mediaUrl, authorization }) => {
  try {
    const res = await fetch(mediaUrl + '?redirect=false&expires_in=300', { headers: { Authorization: authorization } });
    if (!res.ok) return { error: 'status ' + res.status };
    const answer = await res.json();
    const img = document.createElement('img');
    img.alt = 'media';
    document.body.append(img);
    await new Promise((resolve, reject) => {
      img.onload = resolve;
      img.onerror = () => reject(new Error('the image did not load'));
      img.src = answer.url;
    });
    return { naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, url: answer.url, contentType: answer.content_type };
  } catch (err) {
    return { error: String(err) };
  }
}`;

/** fetch() of a URL (following redirects) with the credentials; the bytes' SHA-256, and an <img> of them through a blob: URL. */
const FETCH_AND_SHOW = `async ({ url, authorization }) => {
  try {
    const res = await fetch(url, { headers: authorization ? { Authorization: authorization } : {} });
    if (!res.ok) return { error: 'status ' + res.status };
    const bytes = await res.arrayBuffer();
    const digest = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
    const img = document.createElement('img');
    document.body.append(img);
    await new Promise((resolve, reject) => {
      img.onload = resolve;
      img.onerror = () => reject(new Error('the image did not load'));
      img.src = URL.createObjectURL(new Blob([bytes], { type: res.headers.get('Content-Type') }));
    });
    return { sha256: digest, naturalWidth: img.naturalWidth, redirected: res.redirected, finalUrl: res.url };
  } catch (err) {
    return { error: String(err) };
  }
}`;

interface PageResult {
  error?: string;
  naturalWidth?: number;
  naturalHeight?: number;
  url?: string;
  contentType?: string;
  sha256?: string;
  redirected?: boolean;
  finalUrl?: string;
}

describe.skipIf(missing !== undefined)(missing ? `browser apps on another origin (skipped: ${missing})` : 'browser apps on another origin', () => {
  let app: { origin: string; server: Server };
  let stranger: { origin: string; server: Server };
  let browser: BrowserSession;
  let s3Dir: string;
  let corsS3: S3rver;
  let corsS3Endpoint: string;
  const services: TestService[] = [];

  beforeAll(async () => {
    [app, stranger] = await Promise.all([startAppOrigin(), startAppOrigin()]);
    // An S3 server of our own whose bucket has the CORS rule (the shared one has none).
    s3Dir = await mkdtemp(path.join(tmpdir(), 'mg-cors-s3-'));
    const port = await findFreePort();
    corsS3 = new S3rver({
      port,
      address: '127.0.0.1',
      directory: s3Dir,
      silent: true,
      configureBuckets: [{ name: inject('s3Bucket'), configs: [corsXml(BUCKET_CORS)] }],
    });
    await corsS3.run();
    corsS3Endpoint = `http://127.0.0.1:${port}`;
    browser = await openBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all(services.map((s) => s.close()));
    await corsS3?.close();
    for (const o of [app, stranger]) o?.server.closeAllConnections();
    await Promise.all([app, stranger].map((o) => o && new Promise((r) => o.server.close(r))));
    if (s3Dir) await rm(s3Dir, { recursive: true, force: true });
  });

  async function service(options: Parameters<typeof startService>[0] = {}): Promise<TestService> {
    const svc = await startService({ ...options, env: { CORS_ORIGINS: app.origin, ...options.env } });
    services.push(svc);
    return svc;
  }

  /** An account whose message media is protected, with the test image uploaded. */
  async function protectedImage(svc: TestService): Promise<{ owner: TestAccount; media: MediaJson }> {
    const owner = await newAccount(svc.db, 'browser');
    expect((await setProtection(svc, owner, { message: true })).status).toBe(200);
    const media = await uploadJson(svc, owner, IMAGE, { contentType: 'image/png', filename: 'chart.png' });
    expect(media.requires_auth).toBe(true);
    return { owner, media };
  }

  /** A fresh page at `origin`; what it reports as errors is returned with the result. */
  async function runInPage(origin: string, source: string, args: Record<string, unknown>): Promise<{ result: PageResult; problems: string[] }> {
    const page: Page = await browser.context.newPage();
    const from = browser.problems.length;
    try {
      const res = await page.goto(`${origin}/`);
      expect(res?.status()).toBe(200);
      const result = (await page.evaluate(`(${source})(${JSON.stringify(args)})`)) as PageResult;
      return { result, problems: browser.problems.slice(from) };
    } finally {
      await page.close();
    }
  }

  /** A service with the image protected, fetched and shown by a page of the app's origin with the owner's credentials. */
  async function fetchAndShowProtectedImage(options: Parameters<typeof startService>[0]) {
    const { owner, media } = await protectedImage(await service(options));
    return { owner, media, ...(await runInPage(app.origin, FETCH_AND_SHOW, { url: media.url, authorization: owner.basic })) };
  }

  /** The service's log line for a preflight of that media URL. */
  function preflightsOf(svc: TestService, media: MediaJson): { status: number }[] {
    const pathname = new URL(media.url).pathname;
    return svc.logLines
      .map((l) => JSON.parse(l) as { method?: string; path?: string; status: number })
      .filter((l) => l.method === 'OPTIONS' && l.path === pathname);
  }

  it("shows a protected image in a page its own server rendered from the JSON answer (no CORS, no credential in the browser)", async () => {
    // A service without CORS_ORIGINS: the browser never calls it, only the blob URL.
    const svc = await startService({ storeKind: 'local' });
    services.push(svc);
    const { owner, media } = await protectedImage(svc);
    const site = await startAppOrigin(photoPage(svc.baseUrl, owner.sid, owner.basic));
    const page: Page = await browser.context.newPage();
    const from = browser.problems.length;
    try {
      expect((await page.goto(`${site.origin}/photo?media=${media.sid}`))?.status()).toBe(200);
      const loaded = (await page.evaluate(`new Promise((resolve) => {
        const img = document.getElementById('photo');
        if (img.complete) resolve({ naturalWidth: img.naturalWidth });
        img.onload = () => resolve({ naturalWidth: img.naturalWidth });
        img.onerror = () => resolve({ naturalWidth: 0 });
      })`)) as { naturalWidth: number };
      expect(loaded.naturalWidth).toBe(37);
      expect(browser.problems.slice(from)).toEqual([]);
    } finally {
      await page.close();
      site.server.closeAllConnections(); // the browser keeps its connection alive
      await new Promise((r) => site.server.close(r));
    }
  });

  it('shows a protected image from the local store: JSON fetched with Authorization (preflighted), its URL in an <img>', async () => {
    const svc = await service({ storeKind: 'local' });
    const { owner, media } = await protectedImage(svc);
    const { result, problems } = await runInPage(app.origin, SHOW_FROM_JSON, { mediaUrl: media.url, authorization: owner.basic });
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({ naturalWidth: 37, naturalHeight: 23, contentType: 'image/png' });
    expect(new URL(result.url!).pathname).toBe(`/v1/blobs/${owner.sid}/${media.sid}`);
    expect(problems).toEqual([]);
    // The Authorization header made the browser ask first.
    expect(preflightsOf(svc, media)).toEqual([expect.objectContaining({ status: 204 })]);
  });

  it('shows a protected image from S3 the same way (an <img> needs no CORS from the bucket)', async () => {
    const svc = await service({ storeKind: 's3' });
    const { owner, media } = await protectedImage(svc);
    const { result, problems } = await runInPage(app.origin, SHOW_FROM_JSON, { mediaUrl: media.url, authorization: owner.basic });
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({ naturalWidth: 37, naturalHeight: 23 });
    expect(new URL(result.url!).origin).toBe(inject('s3Endpoint'));
    expect(new URL(result.url!).searchParams.get('X-Amz-Expires')).toBe('300');
    expect(problems).toEqual([]);
  });

  it("refuses a page of an origin not in CORS_ORIGINS: its fetch fails, no JSON reaches it", async () => {
    const svc = await service({ storeKind: 'local' });
    const { owner, media } = await protectedImage(svc);
    const { result, problems } = await runInPage(stranger.origin, SHOW_FROM_JSON, { mediaUrl: media.url, authorization: owner.basic });
    expect(result.error).toMatch(/TypeError: Failed to fetch/);
    expect(problems.join('\n')).toMatch(/blocked by CORS policy/);
    // Without the Authorization header (no preflight) the answer is opaque to it as well.
    const anonymous = await runInPage(stranger.origin, FETCH_AND_SHOW, { url: `${media.url}?redirect=false` });
    expect(anonymous.result.error).toMatch(/TypeError: Failed to fetch/);
  });

  it('with MEDIA_DELIVERY=proxy, fetches the exact bytes from the media URL itself and shows them', async () => {
    const { result, problems } = await fetchAndShowProtectedImage({ storeKind: 'local', env: { MEDIA_DELIVERY: 'proxy' } });
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({ sha256: IMAGE_SHA256, naturalWidth: 37, redirected: false });
    expect(problems).toEqual([]);
  });

  it("follows the 302 to S3 with fetch when the bucket has docs/clients.md's CORS rule (Chromium drops Authorization there)", async () => {
    const { owner, media, result, problems } = await fetchAndShowProtectedImage({ storeKind: 's3', s3Endpoint: corsS3Endpoint });
    expect(result.error).toBeUndefined();
    // s3rver refuses a presigned request that also carries Authorization: the bytes
    // prove the browser left the header behind on the cross-origin redirect.
    expect(result).toMatchObject({ sha256: IMAGE_SHA256, naturalWidth: 37, redirected: true });
    expect(new URL(result.finalUrl!).origin).toBe(corsS3Endpoint);
    expect(problems).toEqual([]);
    // And a page that fetches the signed URL from the JSON itself (its own origin, not null).
    const json = await fetch(`${media.url}?redirect=false`, { headers: { Authorization: owner.basic } });
    const { url } = (await json.json()) as { url: string };
    const direct = await runInPage(app.origin, FETCH_AND_SHOW, { url });
    expect(direct.result).toMatchObject({ sha256: IMAGE_SHA256, redirected: false });
  });

  it('cannot read the bytes behind the 302 from a bucket without a CORS rule (the <img> route still works)', async () => {
    const { result, problems } = await fetchAndShowProtectedImage({ storeKind: 's3' });
    expect(result.error).toMatch(/TypeError: Failed to fetch/);
    expect(problems.join('\n')).toMatch(/blocked by CORS policy/);
  });
});
