// The console and the reference page take scripts and styles from their own asset paths
// only (#23). With the zero-config store, uploaded media are served on the same origin
// (/v1/blobs/…): a `script-src 'self'` would run an uploaded script if HTML injection
// ever reached either page. Here the injection is made on purpose, in Chromium.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, openBrowser, type BrowserSession } from '../support/browser.js';
import { getMediaUrl, newAccount, startService, uploadJson, type TestService } from '../support/service.js';

const missing = chromiumMissing();

let svc: TestService;
let browser: BrowserSession;
let scriptUrl: string;
beforeAll(async () => {
  if (missing) return;
  svc = await startService({ storeKind: 'local' });
  browser = await openBrowser();
  const a = await newAccount(svc.db);
  const m = await uploadJson(svc, a, 'window.uploadedScriptRan = true;', { contentType: 'text/javascript', filename: 'x.js' });
  scriptUrl = (await getMediaUrl(m.url, { headers: { Authorization: a.basic } })).headers.get('location')!;
});
afterAll(async () => {
  await browser?.close();
  await svc?.close();
});

/**
 * Adds <script src=url> to the page, as an injected tag would: whether it ran, and what
 * the CSP reported. (Browser code as a string: the tests' tsconfig has no DOM library.)
 */
async function inject(page: Page, url: string): Promise<{ ran: boolean; violated: string | undefined }> {
  return (await page.evaluate(`new Promise((resolve) => {
    let violated;
    document.addEventListener('securitypolicyviolation', (e) => (violated = e.effectiveDirective));
    const script = document.createElement('script');
    script.src = ${JSON.stringify(url)};
    const done = () => setTimeout(() => resolve({ ran: window.uploadedScriptRan === true, violated }), 50);
    script.onload = done;
    script.onerror = done;
    document.head.append(script);
  })`)) as { ran: boolean; violated: string | undefined };
}

describe.skipIf(missing)('an uploaded script on the pages of the same origin', () => {
  it('is a script a page without a CSP would run (the blob URL is on this origin)', async () => {
    expect(new URL(scriptUrl).origin).toBe(svc.baseUrl);
    const page = await browser.newPage();
    await page.goto(`${svc.baseUrl}/healthz`);
    expect(await inject(page, scriptUrl)).toEqual({ ran: true, violated: undefined });
    await page.close();
  });

  it.each([
    ['/console', '#signin-form'],
    ['/docs', '.swagger-ui .info'],
  ])('is refused on %s, whose own scripts run', async (pagePath, rendered) => {
    const page = await browser.newPage();
    const res = await page.goto(`${svc.baseUrl}${pagePath}`);
    const csp = res!.headers()['content-security-policy']!;
    expect(csp).toContain(`script-src ${svc.baseUrl}${pagePath}/assets/;`);
    expect(csp).not.toMatch(/script-src[^;]*'self'/);
    // The page's own scripts ran: it rendered.
    await page
      .locator(rendered)
      .first()
      .waitFor({ state: 'visible', timeout: 10_000 })
      .catch((err: Error) => {
        throw new Error(`${pagePath} did not render: ${err.message}\n${browser.problems.join('\n')}`);
      });
    expect(await inject(page, scriptUrl)).toEqual({ ran: false, violated: 'script-src-elem' });
    await page.close();
  });
});
