// Share links in the owner's console (#20), in Debian's Chromium: `Share` on a media row,
// the expiry and one-time choices, the URL shown once with Copy, the row's live links
// with their uses, `Revoke`, and the account's cap (409) said in the dialog.
// CONSOLE_SCREENSHOTS=1 also writes docs/console-share.png and docs/console-phone-share.png.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing } from '../support/browser.js';
import { consoleBrowser, PHONE, screenshot, signIn } from '../support/console-page.js';
import { png } from '../support/png.js';
import { newAccount, startService, uploadJson, type MediaJson, type TestAccount, type TestService } from '../support/service.js';

const missing = chromiumMissing();
if (missing) console.warn(missing);
// Low, so that the cap's 409 takes a few links to reach.
const SHARE_LINKS_PER_ACCOUNT = 5;

let svc: TestService;
const browser = consoleBrowser();

beforeAll(async () => {
  if (missing) return;
  svc = await startService({ storeKind: 'local', env: { SHARE_LINKS_PER_ACCOUNT: String(SHARE_LINKS_PER_ACCOUNT) } });
});
afterAll(async () => {
  await svc?.close();
});

const openConsole = (viewport?: { width: number; height: number }): Promise<Page> => browser.open(svc.baseUrl, viewport);

/** A link as GET …/share-links lists it (schema ShareLink), the fields read here. */
interface ShareLink {
  sid: string;
  expires_at: string;
  created_at: string;
  max_uses: number | null;
  uses: number;
  label: string | null;
}

async function liveLinks(account: TestAccount, media: MediaJson): Promise<ShareLink[]> {
  const res = await fetch(`${svc.baseUrl}/v1/accounts/${account.sid}/media/${media.sid}/share-links`, { headers: { Authorization: account.basic } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { share_links: ShareLink[] }).share_links;
}

/** A share link's answer, as someone without credentials gets it. */
const follow = (url: string) => fetch(url, { redirect: 'manual' }).then((r) => r.status);

const mediaRow = (page: Page, media: MediaJson) => page.locator(`#media-rows tr[data-sid="${media.sid}"]`);
const linksRow = (page: Page, media: MediaJson) => page.locator(`#media-rows tr.links-row[data-links-for="${media.sid}"]`);

/** Opens the row's Share dialog, makes a link with these choices, and returns its URL as shown. */
async function createLink(page: Page, media: MediaJson, choices: { expiry?: string; once?: boolean; label?: string } = {}): Promise<string> {
  await mediaRow(page, media).getByRole('button', { name: 'Share' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('button', { name: 'Create link', exact: true }).waitFor();
  if (choices.expiry) await dialog.getByLabel(choices.expiry, { exact: true }).check();
  if (choices.once) await dialog.getByLabel('One-time link', { exact: true }).check();
  if (choices.label) await dialog.getByLabel('Label (optional)', { exact: true }).fill(choices.label);
  await dialog.getByRole('button', { name: 'Create link', exact: true }).click();
  const shown = dialog.locator('#share-url');
  await shown.filter({ hasText: /\/s\// }).waitFor();
  return (await shown.innerText()).trim();
}

describe.skipIf(missing !== undefined)(missing ? `share links in the console (skipped: ${missing})` : 'share links in the console', () => {
  it('makes a link from the Share dialog (7 days unless chosen), shows its URL once with Copy, and lists it under the row until Revoke ends it', async () => {
    const account = await newAccount(svc.db, 'console share');
    const media = await uploadJson(svc, account, png(64, 48), { contentType: 'image/png', filename: 'storefront.png' });
    const page = await openConsole();
    await signIn(page, account);
    const row = mediaRow(page, media);
    await row.waitFor();
    // No links yet: nothing below the row.
    expect(await linksRow(page, media).count()).toBe(0);

    await row.getByRole('button', { name: 'Share' }).click();
    const dialog = page.getByRole('dialog');
    expect(await dialog.locator('#share-title').innerText()).toBe('Share storefront.png');
    expect(await dialog.getByLabel('7 days', { exact: true }).isChecked()).toBe(true);
    for (const choice of ['1 hour', '1 day', '30 days']) expect(await dialog.getByLabel(choice, { exact: true }).isChecked()).toBe(false);
    expect(await dialog.getByLabel('One-time link', { exact: true }).isChecked()).toBe(false);
    await screenshot(page, 'share');
    await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });

    const url = await createLink(page, media, { expiry: '1 day', label: 'for Ana' });
    expect(new URL(url).origin).toBe(svc.baseUrl);
    expect(await dialog.getByText('This URL will not be shown again').isVisible()).toBe(true);
    await dialog.getByRole('button', { name: 'Copy', exact: true }).click();
    await page.locator('.toast', { hasText: 'Share link copied to the clipboard.' }).waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(url);
    // What the API made of the choices: a day, unlimited, labelled.
    const [link, ...others] = await liveLinks(account, media);
    expect(others).toEqual([]);
    expect(link).toMatchObject({ max_uses: null, label: 'for Ana' });
    expect((Date.parse(link!.expires_at) - Date.parse(link!.created_at)) / 1000).toBeCloseTo(86_400, -1);
    expect(await follow(url)).toBe(302);

    // Closed, the URL is gone from the page; the row lists the link (without it).
    await dialog.getByRole('button', { name: 'Done', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    const token = new URL(url).pathname.split('/').pop()!;
    expect(await page.content()).not.toContain(token);
    const links = linksRow(page, media);
    await links.getByText('Live links (1)').waitFor();
    const item = links.locator(`li[data-sid="${link!.sid}"]`);
    await item.waitFor();
    expect(await item.innerText()).toContain('for Ana');
    // Uses of an unlimited link are counted in memory and written within seconds: the
    // list shows them once they are.
    expect(await follow(url)).toBe(302);
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Refresh', exact: true }).first().click();
          await page.locator('#media-table:not([aria-busy])').waitFor();
          return (await linksRow(page, media).locator(`li[data-sid="${link!.sid}"] .share-uses`).innerText().catch(() => '')).trim();
        },
        { timeout: 10_000 },
      )
      .toBe('2 uses, unlimited');
    if (!(await linksRow(page, media).locator('details').evaluate((d) => (d as unknown as { open: boolean }).open))) await linksRow(page, media).getByText('Live links (1)').click();
    await screenshot(page, 'share-links');

    // Revoke, after a confirmation: the link answers 404 at once and leaves the row.
    await linksRow(page, media).getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke link', exact: true }).click();
    await page.locator('.toast', { hasText: 'Share link revoked.' }).waitFor();
    await linksRow(page, media).waitFor({ state: 'detached' });
    expect(await follow(url)).toBe(404);
    expect(await liveLinks(account, media)).toEqual([]);
  });

  it('sends each expiry choice and One-time link as the API takes them, and shows uses against max_uses', async () => {
    const account = await newAccount(svc.db, 'console share choices');
    const media = await uploadJson(svc, account, 'a voicemail transcript', { contentType: 'text/plain', filename: 'voicemail.txt' });
    const page = await openConsole();
    await signIn(page, account);
    const bodies: Record<string, unknown>[] = [];
    page.on('request', (req) => {
      if (req.method() === 'POST' && req.url().endsWith(`/media/${media.sid}/share-links`)) bodies.push(req.postDataJSON() as Record<string, unknown>);
    });
    const choices = [
      { expiry: '1 hour', seconds: 3600 },
      { expiry: '1 day', seconds: 86_400 },
      { expiry: '7 days', seconds: 604_800 },
      { expiry: '30 days', seconds: 2_592_000 },
    ];
    for (const [i, c] of choices.entries()) {
      await createLink(page, media, { expiry: c.expiry, once: i === 0 });
      await page.getByRole('dialog').getByRole('button', { name: 'Done', exact: true }).click();
      await linksRow(page, media).getByText(`Live links (${i + 1})`).waitFor();
    }
    expect(bodies).toEqual(choices.map((c, i) => (i === 0 ? { expires_in: c.seconds, max_uses: 1 } : { expires_in: c.seconds })));
    const listed = await liveLinks(account, media);
    // Newest first.
    expect(listed.map((l) => Math.round((Date.parse(l.expires_at) - Date.parse(l.created_at)) / 1000))).toEqual(choices.map((c) => c.seconds).reverse());
    const once = listed.at(-1)!;
    expect(once.max_uses).toBe(1);
    const item = linksRow(page, media).locator(`li[data-sid="${once.sid}"]`);
    expect(await item.locator('.share-uses').innerText()).toBe('0 / 1 use');
    expect(await item.innerText()).toContain('One-time link');
  });

  it("says in the dialog why a link was refused when the account holds SHARE_LINKS_PER_ACCOUNT live links", async () => {
    const account = await newAccount(svc.db, 'console share cap');
    const media = await uploadJson(svc, account, png(16, 16), { contentType: 'image/png', filename: 'cap.png' });
    for (let i = 0; i < SHARE_LINKS_PER_ACCOUNT; i++) {
      const res = await fetch(`${svc.baseUrl}/v1/accounts/${account.sid}/media/${media.sid}/share-links`, {
        method: 'POST',
        headers: { Authorization: account.basic, 'Content-Type': 'application/json' },
        body: JSON.stringify({ label: `link ${i}` }),
      });
      expect(res.status).toBe(201);
    }
    browser.expectProblems(/status of 409 \(Conflict\)/);
    const page = await openConsole();
    await signIn(page, account);
    await linksRow(page, media).getByText(`Live links (${SHARE_LINKS_PER_ACCOUNT})`).waitFor();
    await mediaRow(page, media).getByRole('button', { name: 'Share' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Create link', exact: true }).click();
    const error = dialog.getByRole('alert');
    await error.waitFor();
    expect(await error.innerText()).toMatch(new RegExp(`^Could not create the link: the account holds ${SHARE_LINKS_PER_ACCOUNT} live share links.*SHARE_LINKS_PER_ACCOUNT=${SHARE_LINKS_PER_ACCOUNT}`));
    // No URL, and the form stays for another try.
    expect(await dialog.locator('#share-result').isHidden()).toBe(true);
    expect(await dialog.locator('#share-url').innerText()).toBe('');
    // Revoking one (from the row) makes room again.
    await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
    await linksRow(page, media).getByText(`Live links (${SHARE_LINKS_PER_ACCOUNT})`).click();
    await linksRow(page, media).getByRole('button', { name: 'Revoke' }).first().click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke link', exact: true }).click();
    await linksRow(page, media).getByText(`Live links (${SHARE_LINKS_PER_ACCOUNT - 1})`).waitFor();
    const url = await createLink(page, media);
    expect(await follow(url)).toBe(302);
  });

  it('works at phone width: the dialog fits the screen, and the live links sit under their row', async () => {
    const account = await newAccount(svc.db, 'console share phone');
    const media = await uploadJson(svc, account, png(40, 40), { contentType: 'image/png', filename: 'a-rather-long-file-name-from-a-phone-camera.png' });
    const page = await openConsole(PHONE);
    await signIn(page, account);
    const url = await createLink(page, media, { label: 'voicemail for Ana' });
    const dialog = page.getByRole('dialog');
    const box = (await dialog.boundingBox())!;
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(390);
    const copy = (await dialog.getByRole('button', { name: 'Copy', exact: true }).boundingBox())!;
    expect(copy.x + copy.width).toBeLessThanOrEqual(box.x + box.width);
    await screenshot(page, 'phone-share');
    await dialog.getByRole('button', { name: 'Done', exact: true }).click();
    expect(await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')).toBeLessThanOrEqual(0);

    const item = linksRow(page, media).locator('li.share-item');
    await item.waitFor();
    // Right below its media row, as wide as it.
    const mediaBox = (await mediaRow(page, media).boundingBox())!;
    const linksBox = (await linksRow(page, media).boundingBox())!;
    expect(linksBox.y).toBeCloseTo(mediaBox.y + mediaBox.height, 0);
    expect(await item.locator('.share-label').evaluate((el) => el.getBoundingClientRect().width)).toBeGreaterThanOrEqual(100);
    const revoke = (await item.getByRole('button', { name: 'Revoke' }).boundingBox())!;
    expect(revoke.x + revoke.width).toBeLessThanOrEqual(390);
    expect(await follow(url)).toBe(302);
  });
});
