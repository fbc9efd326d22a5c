// The console on a phone and in odd states (#23), in Debian's Chromium at 390 px (a
// phone) and 1280 px (a laptop): each case is a reviewer's bug report, measured in the
// page's own layout. CONSOLE_SCREENSHOTS=1 also writes the phone screenshots of
// docs/console.md (docs/console-phone-*.png); without it nothing in the repository is
// touched.
import { generateKeyPairSync } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing } from '../support/browser.js';
import { consoleBrowser, LAPTOP as LAPTOP_SIZE, PHONE as PHONE_SIZE, screenshot, signIn } from '../support/console-page.js';
import { png } from '../support/png.js';
import { newAccount, startService, uploadJson, type TestService } from '../support/service.js';

const missing = chromiumMissing();
if (missing) console.warn(missing);

const PHONE = { name: 'phone', ...PHONE_SIZE };
const LAPTOP = { name: 'laptop', ...LAPTOP_SIZE };
type Screen = typeof PHONE;

let svc: TestService;
const browser = consoleBrowser();

beforeAll(async () => {
  if (missing) return;
  svc = await startService({ storeKind: 'local' });
});
afterAll(async () => {
  await svc?.close();
});

const openConsole = (screen: Screen): Promise<Page> => browser.open(svc.baseUrl, screen);

// Browser code as strings: the tests' tsconfig has no DOM library.

/** The element's top, less where the content's visible part starts (below the bars that stay). */
const offsetFromReadingTop = (id: string) => `(() => {
  const content = document.getElementById('content');
  const top = getComputedStyle(content).overflowY === 'visible' ? document.querySelector('.topbar').getBoundingClientRect().bottom : content.getBoundingClientRect().top;
  return document.getElementById(${JSON.stringify(id)}).getBoundingClientRect().top - top;
})()`;

/** Scrolls the content (the window on a wide screen, its own box on a narrow one) by dy. */
const scrollContentBy = (dy: number) => `(() => {
  const content = document.getElementById('content');
  (getComputedStyle(content).overflowY === 'visible' ? window : content).scrollBy({ top: ${dy}, behavior: 'instant' });
})()`;

const scrollToSection = (id: string) => `document.getElementById(${JSON.stringify(id)}).scrollIntoView({ block: 'start', behavior: 'instant' })`;

/**
 * Every visible toast against every control a person can see: the parts of each that
 * show on screen (cut by the boxes that scroll or clip them), and the pairs that meet.
 */
const TOASTS_OVER_CONTROLS = `(() => {
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    let box = { l: r.left, t: r.top, r: r.right, b: r.bottom };
    for (let p = el.parentElement; p; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
      const q = p.getBoundingClientRect();
      box = { l: Math.max(box.l, q.left), t: Math.max(box.t, q.top), r: Math.min(box.r, q.right), b: Math.min(box.b, q.bottom) };
    }
    box = { l: Math.max(box.l, 0), t: Math.max(box.t, 0), r: Math.min(box.r, innerWidth), b: Math.min(box.b, innerHeight) };
    return box.r - box.l > 0.5 && box.b - box.t > 0.5 ? box : null;
  };
  const meet = (a, b) => a.l < b.r && b.l < a.r && a.t < b.b && b.t < a.b;
  const toasts = Array.from(document.querySelectorAll('#toasts .toast:not(.toast-leaving)')).map((t) => ({ text: t.textContent, box: shown(t) })).filter((t) => t.box);
  const controls = Array.from(document.querySelectorAll('#app-view button, #app-view a[href], #app-view select, #app-view textarea, #app-view summary, #app-view label.file-button, #app-view input:not([type=file])'))
    .filter((c) => !c.closest('#toasts') && c.getClientRects().length > 0 && getComputedStyle(c).visibility !== 'hidden')
    .map((c) => ({ name: (c.getAttribute('aria-label') || c.textContent || c.id).trim(), box: shown(c) }))
    .filter((c) => c.box);
  const overlaps = [];
  for (const t of toasts) for (const c of controls) if (meet(t.box, c.box)) overlaps.push(c.name + ' under “' + t.text + '”');
  return { toasts: toasts.length, controls: controls.length, overlaps, toastArea: toasts.reduce((sum, t) => sum + (t.box.b - t.box.t), 0) };
})()`;

interface Overlaps {
  toasts: number;
  controls: number;
  overlaps: string[];
  toastArea: number;
}

const width = (page: Page, selector: string) => page.locator(selector).first().evaluate((el) => el.getBoundingClientRect().width);

for (const screen of [PHONE, LAPTOP]) {
  describe.skipIf(missing !== undefined)(missing ? `the console at ${screen.width} px (skipped: ${missing})` : `the console at ${screen.width} px`, () => {
    it('keeps file names readable in the upload and media lists, and the section links say when they hide more', async () => {
      const account = await newAccount(svc.db, `console names ${screen.name}`);
      await uploadJson(svc, account, png(40, 40), { kind: 'message', contentType: 'image/png', filename: 'a-rather-long-file-name-from-a-phone-camera.png' });
      const page = await openConsole(screen);
      await signIn(page, account);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')).toBeLessThanOrEqual(0);

      // A failed upload keeps its line (and its long error) until dismissed.
      browser.expectProblems(/status of 400 \(Bad Request\)/);
      await page.getByLabel('Upload files', { exact: true }).setInputFiles({ name: 'IMG_20261204_093015_voicemail-transcript-empty.txt', mimeType: 'text/plain', buffer: Buffer.alloc(0) });
      await page.locator('.upload-item.is-failed').waitFor();
      expect(await width(page, '.upload-item.is-failed .upload-name')).toBeGreaterThanOrEqual(100);
      // A finished one says how it went, in a line as long as the name.
      await page.getByLabel('Upload files', { exact: true }).setInputFiles({ name: 'IMG_20261204_093015_a-long-camera-name.png', mimeType: 'image/png', buffer: png(30, 30) });
      await page.locator('.upload-item.is-done').waitFor();
      expect(await width(page, '.upload-item.is-done .upload-name')).toBeGreaterThanOrEqual(100);
      expect(await page.locator('.upload-item.is-done .upload-status').innerText()).toMatch(/^Uploaded as message media, public$/);
      await page.locator('#media-rows tr[data-sid]').nth(1).waitFor();
      expect(await width(page, '#media-rows .media-name')).toBeGreaterThanOrEqual(100);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')).toBeLessThanOrEqual(0);
      if (screen === PHONE) {
        await page.evaluate(scrollToSection('media'));
        await screenshot(page, 'phone-media');
      }

      // The section links: where they do not all fit, an edge that hides some shows a hint.
      const row = page.locator('#nav-scroll');
      const start = page.locator('#nav-hint-start');
      const end = page.locator('#nav-hint-end');
      const overflow = await row.evaluate((el) => el.scrollWidth - el.clientWidth);
      if (screen === PHONE) expect(overflow, 'five links do not fit 390 px').toBeGreaterThan(0);
      if (overflow > 0) {
        await row.evaluate((el) => el.scrollTo({ left: 0, behavior: 'instant' }));
        await end.waitFor();
        expect(await start.isVisible()).toBe(false);
        const hint = (await end.boundingBox())!;
        const nav = (await row.boundingBox())!;
        // At the row's right edge, over the link it cuts.
        expect(hint.x + hint.width).toBeCloseTo(nav.x + nav.width, 0);
        expect(hint.width).toBeGreaterThan(10);
        await row.evaluate((el) => el.scrollTo({ left: el.scrollWidth, behavior: 'instant' }));
        await start.waitFor();
        await end.waitFor({ state: 'hidden' });
      } else {
        expect(await start.isVisible()).toBe(false);
        expect(await end.isVisible()).toBe(false);
      }
    });

    it('shows toasts where they cover no control, a few at a time, leaving by themselves or with ×', async () => {
      const account = await newAccount(svc.db, `console toasts ${screen.name}`);
      await uploadJson(svc, account, png(20, 20), { kind: 'message', contentType: 'image/png', filename: 'first.png' });
      const page = await openConsole(screen);
      await signIn(page, account);
      const overlaps = () => page.evaluate<Overlaps>(TOASTS_OVER_CONTROLS);

      // "Upload files" at the bottom edge of what shows, where a toast at the bottom would lie.
      const uploadButton = page.locator('label.file-button');
      await uploadButton.evaluate((el) => el.scrollIntoView({ block: 'end', behavior: 'instant' }));
      const [chooser] = await Promise.all([page.waitForEvent('filechooser'), uploadButton.click()]);
      await chooser.setFiles({ name: 'second.png', mimeType: 'image/png', buffer: png(20, 20) });
      await page.locator('.toast', { hasText: 'Uploaded second.png.' }).waitFor();
      let seen = await overlaps();
      expect(seen.toasts).toBeGreaterThan(0);
      expect(seen.controls).toBeGreaterThan(3);
      expect(seen.overlaps).toEqual([]);
      // The button itself, measured on its own: still fully in sight, and under no toast.
      const uploadBox = (await uploadButton.boundingBox())!;
      for (const t of await page.locator('#toasts .toast').all()) {
        const box = (await t.boundingBox())!;
        const meets = box.x < uploadBox.x + uploadBox.width && uploadBox.x < box.x + box.width && box.y < uploadBox.y + uploadBox.height && uploadBox.y < box.y + box.height;
        expect(meets, 'a toast over "Upload files"').toBe(false);
      }

      // "Delete secondary token", likewise at the bottom edge, pressed: its toast covers nothing.
      await page.getByRole('button', { name: 'Create secondary token', exact: true }).click();
      await page.locator('#token-reveal').waitFor();
      await page.getByRole('button', { name: 'Done, I have saved it' }).last().click();
      const deleteButton = page.getByRole('button', { name: 'Delete secondary token', exact: true });
      await deleteButton.evaluate((el) => el.scrollIntoView({ block: 'end', behavior: 'instant' }));
      await deleteButton.click();
      await page.getByRole('dialog').getByRole('button', { name: 'Delete secondary token' }).click();
      await page.locator('.toast', { hasText: 'Secondary token deleted.' }).waitFor();
      seen = await overlaps();
      expect(seen.overlaps).toEqual([]);
      const deleteBox = (await deleteButton.boundingBox())!;
      for (const t of await page.locator('#toasts .toast').all()) {
        const box = (await t.boundingBox())!;
        const meets = box.x < deleteBox.x + deleteBox.width && deleteBox.x < box.x + box.width && box.y < deleteBox.y + deleteBox.height && deleteBox.y < box.y + box.height;
        expect(meets, 'a toast over "Delete secondary token"').toBe(false);
      }

      // Six actions in a row, three that succeed and three that fail: a few toasts at a
      // time, the errors kept over the outcomes, the newest among them.
      let failures = 0;
      await page.route('**/v1/accounts/*/media?*', (route) => {
        failures += 1;
        return route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: { status: 503, code: 'service_unavailable', message: `the store is down (${failures})` } }) });
      });
      browser.expectProblems(/status of 503 \(Service Unavailable\)/);
      await page.evaluate(`(() => {
        window.toastsMade = 0;
        new MutationObserver((changes) => {
          for (const c of changes) for (const n of c.addedNodes) if (n.classList && n.classList.contains('toast')) window.toastsMade += 1;
        }).observe(document.getElementById('toasts'), { childList: true, subtree: true });
      })()`);
      const made = () => page.evaluate<number>('window.toastsMade');
      const row = page.locator('#media-rows tr[data-sid]').first();
      for (let i = 1; i <= 3; i++) {
        await row.getByRole('button', { name: 'Copy media URL' }).click();
        await expect.poll(made).toBe(2 * i - 1);
        await page.getByRole('button', { name: 'Refresh', exact: true }).first().click();
        await expect.poll(made).toBe(2 * i);
      }
      const cap = screen === PHONE ? 2 : 3;
      await expect.poll(async () => page.locator('#toasts .toast').count()).toBe(cap);
      expect(await page.locator('#toasts .toast-error').count()).toBe(cap);
      expect(await page.locator('#toasts .toast').last().innerText()).toContain('the store is down (3)');
      seen = await overlaps();
      expect(seen.toasts).toBe(cap);
      expect(seen.overlaps).toEqual([]);
      // Small: together well under a third of the screen's height.
      expect(seen.toastArea).toBeLessThan(screen.height / 3);
      await page.unroute('**/v1/accounts/*/media?*');

      // × dismisses at once; an outcome leaves by itself after a few seconds.
      const first = page.locator('#toasts .toast').first();
      const text = await first.innerText();
      await first.getByRole('button', { name: 'Dismiss' }).click();
      await page.locator('#toasts .toast', { hasText: text }).waitFor({ state: 'detached' });
      await row.getByRole('button', { name: 'Copy media URL' }).click();
      const copied = page.locator('#toasts .toast', { hasText: 'Media URL copied to the clipboard.' });
      await copied.waitFor();
      await copied.waitFor({ state: 'detached', timeout: 8000 });
    });

    it('disables Promote and Delete secondary token, saying why, while there is none', async () => {
      const account = await newAccount(svc.db, `console secondary ${screen.name}`);
      const page = await openConsole(screen);
      await signIn(page, account);
      const promote = page.getByRole('button', { name: 'Promote secondary token', exact: true });
      const remove = page.getByRole('button', { name: 'Delete secondary token', exact: true });
      const state = page.locator('#token-state');
      await state.filter({ hasText: 'There is no secondary token' }).waitFor();
      expect(await promote.isDisabled()).toBe(true);
      expect(await remove.isDisabled()).toBe(true);
      // The reason is next to them, and named as their description.
      expect(await promote.getAttribute('aria-describedby')).toBe('token-state');
      expect(await remove.getAttribute('aria-describedby')).toBe('token-state');
      expect(await state.isVisible()).toBe(true);
      if (screen === PHONE) {
        await page.evaluate(scrollToSection('credentials'));
        await page.locator('#token-create').scrollIntoViewIfNeeded();
        await screenshot(page, 'phone-keys');
      }

      await page.getByRole('button', { name: 'Create secondary token', exact: true }).click();
      await page.locator('#token-reveal').waitFor();
      await expect.poll(() => promote.isEnabled()).toBe(true);
      expect(await remove.isEnabled()).toBe(true);
      expect(await state.innerText()).toMatch(/^A secondary token exists/);
      // Once the events list has loaded again, it agrees.
      await page.locator('#event-rows tr[data-type="auth_token.secondary_created"]').waitFor();
      expect(await promote.isEnabled()).toBe(true);

      await remove.click();
      await page.getByRole('dialog').getByRole('button', { name: 'Delete secondary token' }).click();
      await page.locator('.toast', { hasText: 'Secondary token deleted.' }).waitFor();
      await expect.poll(() => remove.isDisabled()).toBe(true);
      expect(await promote.isDisabled()).toBe(true);
      await page.locator('#event-rows tr[data-type="auth_token.secondary_deleted"]').waitFor();
      expect(await promote.isDisabled()).toBe(true);
      expect(await state.innerText()).toMatch(/There is no secondary token/);
    });

    it('says "2 media" on the only page, and "(the oldest)" only on the last of several', async () => {
      const few = await newAccount(svc.db, `console one page ${screen.name}`);
      for (const name of ['a.png', 'b.png']) await uploadJson(svc, few, png(8, 8), { contentType: 'image/png', filename: name });
      const page = await openConsole(screen);
      await signIn(page, few);
      const info = page.locator('#media-page-info');
      await expect.poll(() => info.innerText()).toBe('2 media');
      expect(await page.locator('#media-prev').isVisible()).toBe(false);
      expect(await page.locator('#media-next').isVisible()).toBe(false);
      await page.getByLabel('Kind', { exact: true }).selectOption('message');
      await expect.poll(() => info.innerText()).toBe('2 message media');
      await page.getByRole('button', { name: 'Sign out', exact: true }).click();

      const many = await newAccount(svc.db, `console pages ${screen.name}`);
      for (let i = 1; i <= 23; i++) await uploadJson(svc, many, `item ${i}`, { contentType: 'text/plain', filename: `item-${i}.txt` });
      await signIn(page, many);
      await expect.poll(() => info.innerText()).toBe('Showing 1–20');
      const newer = page.getByRole('button', { name: 'Newer', exact: true });
      const older = page.getByRole('button', { name: 'Older', exact: true });
      expect(await newer.isDisabled()).toBe(true);
      expect(await older.isEnabled()).toBe(true);
      await older.click();
      await expect.poll(() => info.innerText()).toBe('Showing 21–23 (the oldest)');
      expect(await older.isDisabled()).toBe(true);
      await newer.click();
      await expect.poll(() => info.innerText()).toBe('Showing 1–20');
    });

    it('highlights the section nearest the top as the page scrolls, and a followed link at once and throughout', async () => {
      const account = await newAccount(svc.db, `console sections ${screen.name}`);
      await uploadJson(svc, account, png(8, 8), { contentType: 'image/png', filename: 'one.png' });
      const page = await openConsole(screen);
      await signIn(page, account);
      const current = () => page.locator('.navlink[aria-current]').getAttribute('data-section');
      const sections = ['protection', 'media', 'credentials', 'applications', 'events'];

      // Scrolled to, each section is the highlighted one; with the previous one still
      // filling the top 120 px, the previous one is.
      for (const [i, id] of sections.entries()) {
        await page.evaluate(scrollToSection(id));
        expect(await page.evaluate<number>(offsetFromReadingTop(id)), `${id} can reach the top`).toBeLessThan(40);
        await expect.poll(current).toBe(id);
        if (i === 0) continue;
        await page.evaluate(scrollContentBy(-120));
        await expect.poll(current).toBe(sections[i - 1]);
      }

      // Followed links, with smooth scrolling: the link is highlighted as it is clicked,
      // and no section passed on the way takes the highlight.
      await page.emulateMedia({ reducedMotion: 'no-preference', colorScheme: 'light' });
      await page.evaluate(scrollToSection('protection'));
      await expect.poll(current).toBe('protection');
      await page.evaluate(`(() => {
        window.marked = [];
        new MutationObserver((changes) => {
          for (const c of changes) if (c.oldValue === null && c.target.hasAttribute('aria-current')) window.marked.push(c.target.dataset.section);
        }).observe(document.getElementById('nav-scroll'), { attributes: true, attributeOldValue: true, subtree: true, attributeFilter: ['aria-current'] });
      })()`);
      for (const id of ['events', 'media', 'applications']) {
        // On a phone the link may be out of its row's sight: the row scrolls to it.
        await page.locator(`.navlink[data-section="${id}"]`).click();
        expect(await current()).toBe(id);
        await expect.poll(() => page.evaluate<number>(offsetFromReadingTop(id)), { timeout: 5000 }).toBeLessThan(40);
        await expect.poll(() => page.evaluate<number>(offsetFromReadingTop(id))).toBeGreaterThanOrEqual(0);
        expect(await current()).toBe(id);
      }
      expect(await page.evaluate('window.marked')).toEqual(['events', 'media', 'applications']);
      // The reader scrolls on from there: the highlight follows the page again.
      await page.evaluate(scrollToSection('credentials'));
      await expect.poll(current).toBe('credentials');
    });

    it('pages the API keys and applications, fifty at a time, as the API does', async () => {
      const account = await newAccount(svc.db, `console paged credentials ${screen.name}`);
      const call = (suffix: string, body: unknown) =>
        fetch(`${svc.baseUrl}/v1/accounts/${account.sid}${suffix}`, { method: 'POST', headers: { Authorization: account.basic, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      for (let i = 1; i <= 55; i++) expect((await call('/keys', { name: `key ${i}` })).status).toBe(201);
      for (let i = 1; i <= 53; i++) {
        const pem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
        expect((await call('/applications', { name: `app ${i}`, public_key: pem })).status).toBe(201);
      }
      const page = await openConsole(screen);
      await signIn(page, account);

      const keyRows = page.locator('#key-rows tr');
      await expect.poll(() => keyRows.count()).toBe(50);
      expect(await keyRows.first().locator('td').first().innerText()).toBe('key 55');
      expect(await page.locator('#keys-info').innerText()).toBe('The newest 50 keys');
      const moreKeys = page.getByRole('button', { name: 'Load more keys', exact: true });
      await moreKeys.click();
      await expect.poll(() => keyRows.count()).toBe(55);
      expect(await keyRows.last().locator('td').first().innerText()).toBe('key 1');
      await moreKeys.waitFor({ state: 'hidden' });
      expect(await page.locator('#keys-info').innerText()).toBe('55 keys');

      const appRows = page.locator('#application-rows tr');
      await expect.poll(() => appRows.count()).toBe(50);
      expect(await appRows.first().locator('td').first().innerText()).toBe('app 53');
      const moreApps = page.getByRole('button', { name: 'Load more applications', exact: true });
      await moreApps.click();
      await expect.poll(() => appRows.count()).toBe(53);
      expect(await appRows.last().locator('td').first().innerText()).toBe('app 1');
      await moreApps.waitFor({ state: 'hidden' });

      // Deleting one of the later page's keys keeps the pages loaded.
      await keyRows.last().getByRole('button', { name: 'Delete' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Delete key' }).click();
      await page.locator('.toast', { hasText: 'Key “key 1” deleted.' }).waitFor();
      await expect.poll(() => keyRows.count()).toBe(54);
      expect(await keyRows.first().locator('td').first().innerText()).toBe('key 55');
    });
  });
}
