// The owner's console in Chromium, as every console test drives it: a fresh browser per
// test whose page errors fail the test (less the ones it expects), sign-in, and the
// screenshots docs/console.md shows (written only with CONSOLE_SCREENSHOTS=1).
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterEach, expect } from 'vitest';
import { openBrowser, type BrowserSession } from './browser.js';
import type { TestAccount } from './service.js';

const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS === '1';
const DOCS = path.resolve(import.meta.dirname, '../../docs');

export const PHONE = { width: 390, height: 844 };
export const LAPTOP = { width: 1280, height: 800 };

export interface ConsoleBrowser {
  /** A fresh browser (new profile) at `${baseUrl}/console`. */
  open(baseUrl: string, viewport?: { width: number; height: number }): Promise<Page>;
  /** Page errors this test causes on purpose (Chromium reports each 4xx/5xx answer). */
  expectProblems(...patterns: RegExp[]): void;
  /** The open browser: its problems so far, its context for CDP. */
  readonly session: BrowserSession;
}

/**
 * One browser per test, closed after it; registers its own afterEach. `allowed`: page
 * errors every test of the file may cause; `timeoutMillis`: the page's waits, below the
 * test's own timeout so that a wait that fails says what it waited for.
 */
export function consoleBrowser(options: { allowed?: RegExp[]; timeoutMillis?: number } = {}): ConsoleBrowser {
  let browser: BrowserSession | undefined;
  let expected: RegExp[] = [];
  afterEach(async () => {
    const session = browser;
    const allowed = [...(options.allowed ?? []), ...expected];
    browser = undefined;
    expected = [];
    if (!session) return;
    await session.close();
    const unexpected = session.problems.filter((p) => !allowed.some((re) => re.test(p)));
    expect(unexpected, 'errors in the page console').toEqual([]);
  });
  return {
    async open(baseUrl, viewport = LAPTOP) {
      browser = await openBrowser({ viewport });
      const page = await browser.newPage();
      page.setDefaultTimeout(options.timeoutMillis ?? 15_000);
      // No transitions (smooth scrolling included): checks and screenshots see the end state.
      await page.emulateMedia({ reducedMotion: 'reduce', colorScheme: 'light' });
      const res = await page.goto(`${baseUrl}/console`);
      expect(res?.status()).toBe(200);
      return page;
    },
    expectProblems(...patterns) {
      expected.push(...patterns);
    },
    get session() {
      if (!browser) throw new Error('no console open');
      return browser;
    },
  };
}

/** Signs in with the account's token (or `token`) and waits for the first loads to land. */
export async function signIn(page: Page, account: TestAccount, token = account.authToken): Promise<void> {
  await page.getByLabel('Account SID', { exact: true }).fill(account.sid);
  await page.getByLabel('Auth token', { exact: true }).fill(token);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
  // The first loads have landed once the switches are enabled and the lists are shown.
  await page.locator('#protect-message:enabled').waitFor();
  await page.locator('#media-loading').waitFor({ state: 'hidden' });
}

/**
 * docs/console-NAME.png, with CONSOLE_SCREENSHOTS=1 only: nothing in the repository is
 * touched otherwise. `scrollTo`: a section's id, 'top', or nothing to keep the scroll.
 */
export async function screenshot(page: Page, name: string, scrollTo?: string): Promise<void> {
  if (!SCREENSHOTS) return;
  // (Browser code as strings: the tests' tsconfig has no DOM library.)
  await page.evaluate(`document.querySelectorAll('.toast').forEach((t) => t.remove())`);
  if (scrollTo === 'top') await page.evaluate(`window.scrollTo({ top: 0, behavior: 'instant' })`);
  else if (scrollTo) await page.evaluate(`document.getElementById(${JSON.stringify(scrollTo)}).scrollIntoView({ behavior: 'instant', block: 'start' })`);
  // The section links' highlight follows a scroll on its next frame.
  await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
  await mkdir(DOCS, { recursive: true });
  await page.screenshot({ path: path.join(DOCS, `console-${name}.png`) });
}
