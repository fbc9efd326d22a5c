// An HTML <form enctype="multipart/form-data">, submitted in Chromium as a person would
// (#21): the file's exact bytes are stored, with its name and type. The page is on an
// origin in CORS_ORIGINS (writes from other origins are refused); the form carries no
// credentials, so the browser answers the service's Basic challenge with the account's
// (as after a user typed them into its prompt).
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../../src/db/embedded.js';
import { chromiumMissing, openBrowser, type BrowserSession } from '../support/browser.js';
import { newAccount, startService, type TestAccount, type TestService } from '../support/service.js';

const missing = chromiumMissing();

let app: { server: Server; origin: string };
let svc: TestService;
let account: TestAccount;
let browser: BrowserSession;

beforeAll(async () => {
  if (missing) return;
  const port = await findFreePort();
  const origin = `http://127.0.0.1:${port}`;
  svc = await startService({ storeKind: 'local', env: { CORS_ORIGINS: origin } });
  account = await newAccount(svc.db);
  const page = `<!doctype html><title>upload</title>
<form method="post" enctype="multipart/form-data" action="${svc.baseUrl}/v1/accounts/${account.sid}/media?kind=message">
  <input type="file" name="file" required> <button>Upload</button>
</form>`;
  const server = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(page));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  app = { server, origin };
  browser = await openBrowser({ httpCredentials: { username: account.sid, password: account.authToken } });
});
afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => app?.server.close(resolve));
  await svc?.close();
});

describe.skipIf(missing)('an HTML form posting a file', () => {
  it('stores the exact bytes, with the name and type the browser sent', async () => {
    const bytes = randomBytes(300_000);
    const page = await browser.newPage();
    await page.goto(app.origin);
    await page.setInputFiles('input[type=file]', { name: 'scan 1.pdf', mimeType: 'application/pdf', buffer: bytes });
    const [answer] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST' && r.status() !== 401), page.click('button')]);
    expect(answer.status()).toBe(201);
    const media = (await answer.json()) as { sid: string; filename: string; content_type: string; size_bytes: number; sha256: string };
    expect(media).toMatchObject({
      filename: 'scan 1.pdf',
      content_type: 'application/pdf',
      size_bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    });
    // The stored object itself, read back through its media URL.
    const stored = await fetch(`${svc.baseUrl}/v1/accounts/${account.sid}/media/${media.sid}`, { headers: { Authorization: account.basic } });
    expect(Buffer.from(await stored.arrayBuffer()).equals(bytes)).toBe(true);
    await page.close();
  });
});
