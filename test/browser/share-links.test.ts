// Share links (#20), browsers: a page of another origin, holding no credentials at all,
// plays, seeks and shows protected media through share links, in Debian's Chromium: an
// <audio> of a WAV, a <video> of an MP4 whose index (moov) is at its end, so the player
// must ask for ranges, and an <img> of a PNG. The link's 302 leads to S3's presigned URL
// or to the local store's signed blob URL; media elements need no CORS from either.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page, Response as PageResponse } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findFreePort } from '../../src/db/embedded.js';
import { chromiumMissing, openBrowser, type BrowserSession } from '../support/browser.js';
import { png } from '../support/png.js';
import { newAccount, setProtection, startService, uploadJson, type MediaJson, type TestAccount, type TestService } from '../support/service.js';

const missing = chromiumMissing();

function onPath(binary: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir !== '' && existsSync(path.join(dir, binary)));
}

const ffmpegMissing = onPath('ffmpeg') ? undefined : 'ffmpeg is not installed (apt-get install ffmpeg, as .ci/run does): the video case is skipped';

/** A PCM WAV: `seconds` of a 440 Hz sine tone, 16-bit mono at 22,050 Hz. */
function wav(seconds: number): Buffer {
  const rate = 22_050;
  const samples = Math.round(seconds * rate);
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) data.writeInt16LE(Math.round(Math.sin((2 * Math.PI * 440 * i) / rate) * 0.4 * 32767), i * 2);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16); // the fmt chunk's size
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28); // bytes per second
  header.writeUInt16LE(2, 32); // bytes per frame
  header.writeUInt16LE(16, 34); // bits per sample
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

/** The top-level boxes of an MP4, in file order. */
function topLevelBoxes(mp4: Buffer): string[] {
  const boxes: string[] = [];
  for (let offset = 0; offset + 8 <= mp4.length; ) {
    let size = mp4.readUInt32BE(offset);
    if (size === 1) size = Number(mp4.readBigUInt64BE(offset + 8));
    if (size === 0) size = mp4.length - offset;
    boxes.push(mp4.toString('ascii', offset + 4, offset + 8));
    offset += size;
  }
  return boxes;
}

/**
 * ffmpeg's test pattern, 6 s of H.264 at 320×240, moov at the end (no +faststart). With
 * noise over it (~4 MB): the bare pattern compresses to ~30 kB, which Chromium reads in
 * its first `bytes=0-` request, never asking for another range; past a few hundred kB
 * it jumps to the index at the end with a range of its own.
 */
async function testVideo(dir: string): Promise<Buffer> {
  const file = path.join(dir, 'out.mp4');
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-f', 'lavfi', '-i', 'testsrc=duration=6:size=320x240:rate=25', '-vf', 'noise=alls=60:allf=t+u'];
  const made = spawnSync('ffmpeg', [...args, '-c:v', 'libx264', '-pix_fmt', 'yuv420p', file], { encoding: 'utf8', timeout: 60_000 });
  if (made.status !== 0) throw new Error(`ffmpeg exited ${made.status}: ${made.stderr}`);
  return readFile(file);
}

/** The answer to POST …/share-links (schema ShareLinkCreated), the fields read here. */
interface ShareLinkCreated {
  sid: string;
  url: string;
}

// Browser code as strings: the tests' tsconfig has no DOM library. Each creates its
// element, attaches its listeners, and only then sets src (metadata can load before a
// late listener is attached).

/** An <audio> of the URL, muted (headless autoplay), played until its clock moves. */
const PLAY_AUDIO = `(url) => new Promise((resolve) => {
  const audio = document.createElement('audio');
  audio.muted = true;
  audio.preload = 'auto';
  const report = (event) => resolve({ event, readyState: audio.readyState, duration: audio.duration, currentTime: audio.currentTime, error: audio.error && (audio.error.code + ' ' + audio.error.message) });
  audio.addEventListener('error', () => report('error'));
  audio.addEventListener('canplay', () => {
    audio.addEventListener('timeupdate', () => { if (audio.currentTime > 0) report('timeupdate'); });
    audio.play().catch((err) => resolve({ event: 'play() refused', error: String(err) }));
  }, { once: true });
  document.body.append(audio);
  audio.src = url;
})`;

/** A <video> of the URL: metadata, then a seek to 4 s and its 'seeked'. */
const SEEK_VIDEO = `(url) => new Promise((resolve) => {
  const video = document.createElement('video');
  video.muted = true;
  video.preload = 'metadata';
  const report = (event) => resolve({ event, readyState: video.readyState, duration: video.duration, currentTime: video.currentTime, videoWidth: video.videoWidth, error: video.error && (video.error.code + ' ' + video.error.message) });
  video.addEventListener('error', () => report('error'));
  video.addEventListener('loadedmetadata', () => {
    video.addEventListener('seeked', () => report('seeked'), { once: true });
    video.currentTime = 4;
  }, { once: true });
  document.body.append(video);
  video.src = url;
})`;

/** An <img> of the URL, decoded or not. */
const SHOW_IMAGE = `(url) => new Promise((resolve) => {
  const img = document.createElement('img');
  img.alt = 'shared';
  img.addEventListener('load', () => resolve({ event: 'load', naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight }));
  img.addEventListener('error', () => resolve({ event: 'error', naturalWidth: img.naturalWidth }));
  document.body.append(img);
  img.src = url;
})`;

interface ElementResult {
  event: string;
  readyState?: number;
  duration?: number;
  currentTime?: number;
  videoWidth?: number;
  naturalWidth?: number;
  naturalHeight?: number;
  error?: string | null;
}

/** One answer a page got: its request's URL, method, Range, Authorization and Referer, and the status. */
interface Exchange {
  url: string;
  method: string;
  range: string | undefined;
  authorization: string | undefined;
  referer: string | undefined;
  /** the URL whose redirect this request followed */
  redirectedFrom: string | undefined;
  status: number;
}

const IMAGE = png(41, 29);
const AUDIO = wav(1);

describe.skipIf(missing !== undefined)(missing ? `share links in a browser (skipped: ${missing})` : 'share links in a browser', () => {
  let browser: BrowserSession;
  let app: { origin: string; server: Server };
  let work: string;
  let video: Buffer | undefined;

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'mg-share-browser-'));
    if (!ffmpegMissing) video = await testVideo(work);
    // Another site's page: a server of its own, one blank page, on `localhost` (the
    // service is on 127.0.0.1: another site, not only another port of the same one).
    const port = await findFreePort();
    const server = createServer((_req, res) => {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end('<!doctype html><html><head><title>player</title><link rel="icon" href="data:,"></head><body></body></html>');
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    app = { origin: `http://localhost:${port}`, server };
    browser = await openBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    app?.server.closeAllConnections(); // the browser keeps its connection alive
    if (app) await new Promise((r) => app.server.close(r));
    if (work) await rm(work, { recursive: true, force: true });
  });

  it.skipIf(ffmpegMissing !== undefined)(`makes an MP4 whose index (moov) follows its data, so a player needs ranges to seek${ffmpegMissing ? ` (skipped: ${ffmpegMissing})` : ''}`, () => {
    const boxes = topLevelBoxes(video!);
    expect(boxes.indexOf('moov')).toBeGreaterThan(boxes.indexOf('mdat'));
  });

  describe.each([
    { storeKind: 's3' as const, storeOrigin: () => inject('s3Endpoint') },
    { storeKind: 'local' as const, storeOrigin: undefined },
  ])('with the $storeKind store', ({ storeKind, storeOrigin }) => {
    let svc: TestService;
    let owner: TestAccount;

    beforeAll(async () => {
      svc = await startService({ storeKind });
      owner = await newAccount(svc.db, 'share-browser');
      // Protection first: the media itself needs credentials; the page has none.
      expect((await setProtection(svc, owner, { message: true })).status).toBe(200);
    });
    afterAll(() => svc?.close());

    /** Uploads protected media and makes a share link to it (unlimited: a player asks several times). */
    async function shared(bytes: Buffer, contentType: string, filename: string): Promise<{ media: MediaJson; link: ShareLinkCreated }> {
      const media = await uploadJson(svc, owner, bytes, { contentType, filename });
      expect(media.requires_auth).toBe(true);
      expect((await fetch(media.url, { redirect: 'manual' })).status).toBe(401);
      const res = await fetch(`${svc.baseUrl}/v1/accounts/${owner.sid}/media/${media.sid}/share-links`, {
        method: 'POST',
        headers: { Authorization: owner.basic, 'Content-Type': 'application/json' },
        body: JSON.stringify({ expires_in: 3600, label: `player test: ${filename}` }),
      });
      expect(res.status, await res.clone().text()).toBe(201);
      return { media, link: (await res.json()) as ShareLinkCreated };
    }

    /**
     * Runs `source` with the URL in a fresh page of the app's origin; what the page's
     * requests did and what it reported as errors come back with the result.
     */
    async function inPage(source: string, url: string): Promise<{ result: ElementResult; exchanges: Exchange[]; problems: string[] }> {
      const page: Page = await browser.context.newPage();
      const from = browser.problems.length;
      // Every answer the page got, with the headers its request really carried (Range and
      // Referer are added below the page: only allHeaders() shows them).
      const seen: Promise<Exchange>[] = [];
      page.on('response', (response: PageResponse) => {
        const request = response.request();
        seen.push(
          request.allHeaders().then((headers) => ({
            url: request.url(),
            method: request.method(),
            range: headers.range,
            authorization: headers.authorization,
            referer: headers.referer,
            redirectedFrom: request.redirectedFrom()?.url(),
            status: response.status(),
          })),
        );
      });
      try {
        expect((await page.goto(`${app.origin}/`))?.status()).toBe(200);
        const result = (await page.evaluate(`(${source})(${JSON.stringify(url)})`)) as ElementResult;
        return { result, exchanges: await Promise.all(seen), problems: browser.problems.slice(from) };
      } finally {
        await page.close();
      }
    }

    /**
     * The page sent no credential anywhere; it asked for the link, was redirected to the
     * store, and told the store nothing of the link: the hop the 302 led to carried no
     * Referer (Referrer-Policy: no-referrer), and no request's Referer names the link.
     * (Chromium's player asks for later ranges at the store URL directly, as the page's
     * own requests: with the page's Referer, its origin.)
     */
    function checkExchanges(exchanges: Exchange[], link: ShareLinkCreated, mediaSid: string): Exchange[] {
      expect(exchanges.filter((e) => e.authorization !== undefined)).toEqual([]);
      const toLink = exchanges.filter((e) => e.url === link.url);
      expect(toLink.map((e) => e.status)).toContain(302);
      const toStore = exchanges.filter((e) =>
        storeOrigin ? new URL(e.url).origin === storeOrigin() : new URL(e.url).pathname === `/v1/blobs/${owner.sid}/${mediaSid}`,
      );
      const redirected = toStore.filter((e) => e.redirectedFrom === link.url);
      expect(redirected.length).toBeGreaterThan(0);
      expect(redirected.map((e) => e.referer)).toEqual(redirected.map(() => undefined));
      expect(exchanges.filter((e) => e.referer?.includes('/s/'))).toEqual([]);
      return toStore;
    }

    /** The service's access lines for the local store's blob URL of a media. */
    const blobAnswers = (mediaSid: string) =>
      svc.logLines
        .map((l) => JSON.parse(l) as { route?: string; media?: string; status?: number })
        .filter((l) => l.media === mediaSid && (l.route === 'getBlob' || l.route === 'headBlob'));

    it('plays a shared WAV in an <audio> element', async () => {
      const { media, link } = await shared(AUDIO, 'audio/wav', 'tone.wav');
      const { result, exchanges, problems } = await inPage(PLAY_AUDIO, link.url);
      expect(result.error ?? undefined).toBeUndefined();
      expect(result.event).toBe('timeupdate');
      expect(result.readyState).toBeGreaterThanOrEqual(3);
      expect(result.duration).toBeCloseTo(1, 1);
      expect(result.currentTime).toBeGreaterThan(0);
      checkExchanges(exchanges, link, media.sid);
      expect(problems).toEqual([]);
    });

    it.skipIf(ffmpegMissing !== undefined)(`seeks in a shared MP4 in a <video> element, by ranges${ffmpegMissing ? ` (skipped: ${ffmpegMissing})` : ''}`, async () => {
      const { media, link } = await shared(video!, 'video/mp4', 'pattern.mp4');
      const { result, exchanges, problems } = await inPage(SEEK_VIDEO, link.url);
      expect(result.error ?? undefined).toBeUndefined();
      expect(result.event).toBe('seeked');
      expect(result.readyState).toBeGreaterThanOrEqual(2);
      expect(result.duration).toBeCloseTo(6, 0);
      expect(result.currentTime).toBeCloseTo(4, 1);
      expect(result.videoWidth).toBe(320);
      const toStore = checkExchanges(exchanges, link, media.sid);
      // The player asked the store for ranges, one of them past the start (the index at
      // the end), and the store answered them 206 (s3rver, or the service's blob URL).
      const rangeStarts = toStore.filter((e) => e.status === 206).map((e) => Number(/^bytes=(\d+)-/.exec(e.range ?? '')?.[1]));
      expect(rangeStarts).toContain(0);
      expect(Math.max(...rangeStarts)).toBeGreaterThan(video!.length / 2);
      if (!storeOrigin) {
        // The service's own access lines say the same: its blob URL answered 206 to the
        // start and to the jump to the index, at least.
        const partial = blobAnswers(media.sid).filter((l) => l.route === 'getBlob' && l.status === 206);
        expect(partial.length).toBeGreaterThanOrEqual(2);
      }
      expect(problems).toEqual([]);
    });

    it('shows a shared PNG in an <img> element', async () => {
      const { media, link } = await shared(IMAGE, 'image/png', 'chart.png');
      const { result, exchanges, problems } = await inPage(SHOW_IMAGE, link.url);
      expect(result).toEqual({ event: 'load', naturalWidth: 41, naturalHeight: 29 });
      checkExchanges(exchanges, link, media.sid);
      expect(problems).toEqual([]);
    });
  });
});
