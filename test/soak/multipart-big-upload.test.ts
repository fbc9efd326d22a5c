// A 100 MiB file in a multipart/form-data upload (#21), through a real `mediagate
// serve` process writing to S3: the part is streamed (busboy into the store's upload),
// never held whole, so the process's memory grows by a bounded amount whatever the size.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { procStatusKib, sharedStoresEnv, spawnServe, stopServe, type ServeProcess } from '../support/process.js';
import { newAccount, startService, type TestAccount, type TestService } from '../support/service.js';

const FILE_BYTES = 100 * 1024 * 1024;


/** Sends one file part of `size` random bytes, 1 MiB at a time, as a browser's form would; the answer and the part's digest. */
async function postMultipart(url: string, authorization: string, size: number): Promise<{ status: number; body: string; sha256: string }> {
  const boundary = `----mediagate${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const hash = createHash('sha256');
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      agent: false,
      headers: { Authorization: authorization, 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': String(head.length + size + tail.length) },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, sha256: hash.digest('hex') }));
    });
    (async () => {
      req.write(head);
      for (let sent = 0; sent < size; sent += 2 ** 20) {
        const piece = randomBytes(Math.min(2 ** 20, size - sent));
        hash.update(piece);
        if (!req.write(piece)) await once(req, 'drain');
      }
      req.end(tail);
    })().catch(reject);
  });
}

let serve: ServeProcess;
let helper: TestService;
let owner: TestAccount;
beforeAll(async () => {
  helper = await startService();
  owner = await newAccount(helper.db, 'multipart');
  serve = await spawnServe({
    ...sharedStoresEnv(),
    MEDIA_MAX_BYTES: String(2 * FILE_BYTES),
    LOG_LEVEL: 'warn',
    // As `npm start` runs it.
    MALLOC_ARENA_MAX: '2',
  });
}, 60_000);
afterAll(async () => {
  await stopServe(serve);
  await helper?.close();
});

it('streams 100 and 200 MiB file parts into the store with bounded memory, byte-exact', async () => {
  const pid = serve.child.pid!;
  const url = `${serve.baseUrl}/v1/accounts/${owner.sid}/media?kind=recording`;
  // Warm up: the code paths, busboy, the SDK and its connection.
  const warm = await postMultipart(url, owner.basic, 1024 * 1024);
  expect(warm.status).toBe(201);
  const rssBeforeKib = await procStatusKib(pid, 'VmRSS');

  // Three of 100 MiB, then one of 200 MiB: a process that held a part whole would grow by
  // its size (measured here: the peak levels off after three or four uploads, ~+85 MiB).
  const peaks: number[] = [];
  for (const size of [FILE_BYTES, FILE_BYTES, FILE_BYTES, 2 * FILE_BYTES]) {
    const sent = await postMultipart(url, owner.basic, size);
    expect(sent.status, sent.body).toBe(201);
    const media = JSON.parse(sent.body) as { sha256: string; size_bytes: number; filename: string };
    expect(media).toMatchObject({ sha256: sent.sha256, size_bytes: size, filename: 'big.bin' });
    peaks.push(await procStatusKib(pid, 'VmHWM'));
  }
  const rssAfterKib = await procStatusKib(pid, 'VmRSS');
  console.log(
    `multipart upload, \`mediagate serve\` pid ${pid} (S3): VmRSS before ${rssBeforeKib} KiB; VmHWM after each upload ` +
      `(100, 100, 100, 200 MiB): ${peaks.map((p) => `${p} KiB (+${p - rssBeforeKib})`).join(', ')}; VmRSS after ${rssAfterKib} KiB`,
  );
  // Streamed, what grows is the store's upload parts in flight (2 × 5 MiB) and spent
  // Buffers awaiting V8's collection (external memory triggers one after about 64 MiB):
  // less than the largest file, and a file twice as large adds little.
  expect(peaks[3]! - rssBeforeKib).toBeLessThan(128 * 1024);
  expect(peaks[3]! - peaks[2]!).toBeLessThan(32 * 1024);
}, 240_000);
