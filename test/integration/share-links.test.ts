// Share links through the service as `serve` builds it: created, listed and revoked
// through the API, used at /s/{token} with no credentials, over the shared PostgreSQL and
// S3 server (and the local store where its own URL checks matter).
import { beforeAll, describe, expect, it } from 'vitest';
import { accountApi, bearerFor, registerApplication } from '../support/credentials.js';
import { ManualScheduler } from '../support/scheduler.js';
import { basicAuth, getMediaUrl, newAccount, servicesForFile, setProtection, uploadJson, type MediaJson, type TestAccount, type TestService } from '../support/service.js';

interface ShareLinkJson {
  sid: string;
  media_sid: string;
  url?: string;
  expires_at: string;
  max_uses: number | null;
  uses: number;
  last_used_at: string | null;
  disposition: string;
  label: string | null;
  created_at: string;
  created_by: string;
}

const service = servicesForFile();

async function share(svc: TestService, account: TestAccount, mediaSid: string, body: Record<string, unknown> = {}, auth?: string): Promise<ShareLinkJson> {
  const res = await accountApi(svc, account, `/media/${mediaSid}/share-links`, { method: 'POST', json: body, auth });
  if (res.status !== 201) throw new Error(`share answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as ShareLinkJson;
}

/** A share link's URL on another instance (the token is the same everywhere). */
const on = (svc: TestService, url: string) => `${svc.baseUrl}${new URL(url).pathname}`;
const use = (url: string, init: RequestInit = {}) => fetch(url, { redirect: 'manual', ...init });

let svc: TestService;
let account: TestAccount;
let media: MediaJson;
beforeAll(async () => {
  svc = await service();
  account = await newAccount(svc.db);
  await setProtection(svc, account, { message: true });
  media = await uploadJson(svc, account, 'protected bytes', { contentType: 'text/plain', filename: 'note.txt' });
});

describe('POST …/media/{MediaSid}/share-links', () => {
  it('creates a link whose URL holds a 256-bit token, shown once, and records who made it', async () => {
    const link = await share(svc, account, media.sid, { label: 'for Ana' });
    expect(link).toMatchObject({ media_sid: media.sid, uses: 0, last_used_at: null, max_uses: null, disposition: 'inline', label: 'for Ana', created_by: account.sid });
    expect(link.sid).toMatch(/^SL[0-9a-f]{32}$/);
    expect(link.url).toMatch(new RegExp(`^${svc.baseUrl}/s/[A-Za-z0-9_-]{43}$`));
    // Seven days by default.
    expect(Date.parse(link.expires_at) - Date.parse(link.created_at)).toBe(7 * 86_400_000);
    // The token is nowhere in the database, only its digest.
    const token = new URL(link.url!).pathname.slice(3);
    const { rows } = await svc.db.query("SELECT count(*)::int AS n FROM share_links WHERE encode(token_hash, 'escape') LIKE $1", [`%${token}%`]);
    expect(rows[0].n).toBe(0);
    const listed = (await (await accountApi(svc, account, `/media/${media.sid}/share-links`)).json()) as { share_links: ShareLinkJson[] };
    const found = listed.share_links.find((l) => l.sid === link.sid)!;
    expect(found).toBeDefined();
    expect(found.url).toBeUndefined();
  });

  it('refuses values out of range, unknown fields and labels with control characters, with 400', async () => {
    for (const body of [{ expires_in: 59 }, { expires_in: 2_592_001 }, { max_uses: 0 }, { max_uses: 1_000_001 }, { disposition: 'inline-ish' }, { label: 'x'.repeat(101) }, { label: 'a\u202Eb' }, { forever: true }]) {
      const res = await accountApi(svc, account, `/media/${media.sid}/share-links`, { method: 'POST', json: body });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect((await accountApi(svc, account, `/media/ME${'0'.repeat(32)}/share-links`, { method: 'POST', json: {} })).status).toBe(404);
  });

  it("lets an application share only media it may read, and names it as the link's creator", async () => {
    const a = await registerApplication(svc, account);
    const b = await registerApplication(svc, account);
    const bound = await uploadJson(svc, account, 'a only', { applicationId: a.id });
    const link = await share(svc, account, bound.sid, {}, await bearerFor(a));
    expect(link.created_by).toBe(a.id);
    const refused = await accountApi(svc, account, `/media/${bound.sid}/share-links`, { method: 'POST', json: {}, auth: await bearerFor(b) });
    expect(refused.status).toBe(403);
    // B does not see A's media's links either.
    const seen = (await (await accountApi(svc, account, '/share-links', { auth: await bearerFor(b) })).json()) as { share_links: ShareLinkJson[] };
    expect(seen.share_links.some((l) => l.sid === link.sid)).toBe(false);
  });
});

describe('GET /s/{token}', () => {
  it('redirects a request without credentials to a store URL living SHARE_URL_TTL_SECONDS, with the headers of a capability', async () => {
    const link = await share(svc, account, media.sid);
    const res = await use(link.url!);
    expect(res.status).toBe(302);
    expect(res.headers.get('cache-control')).toBe('private, no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-robots-tag')).toBe('noindex, nofollow');
    const location = new URL(res.headers.get('location')!);
    expect(location.searchParams.get('X-Amz-Expires')).toBe('300');
    expect(await (await fetch(location)).text()).toBe('protected bytes');
    // The media URL itself still wants credentials.
    expect((await getMediaUrl(media.url)).status).toBe(401);
  });

  it('serves an attachment when the link says so, and active types always', async () => {
    const link = await share(svc, account, media.sid, { disposition: 'attachment' });
    const location = new URL((await use(link.url!)).headers.get('location')!);
    expect(location.searchParams.get('response-content-disposition')).toContain('attachment; filename="note.txt"');
    const page = await uploadJson(svc, account, '<script>alert(1)</script>', { contentType: 'text/html' });
    const inline = await share(svc, account, page.sid, { disposition: 'inline' });
    expect(new URL((await use(inline.url!)).headers.get('location')!).searchParams.get('response-content-disposition')).toMatch(/^attachment/);
  });

  it('answers one 404 for every dead link: a page for a browser, JSON otherwise, never cached', async () => {
    const unknown = `${svc.baseUrl}/s/${'A'.repeat(43)}`;
    const json = await use(unknown);
    expect(json.status).toBe(404);
    expect(await json.json()).toEqual({ error: { status: 404, code: 'not_found', message: 'no such share link' } });
    const page = await use(unknown, { headers: { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(page.status).toBe(404);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toBe("default-src 'none'");
    expect(await page.text()).toContain('This link is not available');
    for (const res of [json, page]) {
      expect(res.headers.get('cache-control')).toBe('private, no-store');
      expect(res.headers.get('x-robots-tag')).toBe('noindex, nofollow');
    }
    // A malformed token is as unknown as any.
    expect((await use(`${svc.baseUrl}/s/short`)).status).toBe(404);
  });

  it('answers a repeated use of an unlimited link from memory, and writes its uses within seconds', async () => {
    const scheduler = new ManualScheduler();
    const local = await service({ scheduler });
    const owner = await newAccount(local.db);
    const m = await uploadJson(local, owner, 'x');
    const link = await share(local, owner, m.sid);
    for (let i = 0; i < 3; i++) expect((await use(link.url!)).status).toBe(302);
    const lines = local.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.share_link === link.sid);
    expect(lines.map((l) => l.cached ?? false)).toEqual([false, true, true]);
    scheduler.advance(2000); // the batch of uses is written
    await until(async () => {
      const listed = (await (await accountApi(local, owner, `/media/${m.sid}/share-links`)).json()) as { share_links: ShareLinkJson[] };
      return listed.share_links[0]!.uses === 3;
    });
  });
});

/** Looks again, turn by turn, until the check holds (the test's timeout bounds it). */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setImmediate(resolve));
}

describe('the life of a link', () => {
  it('stops working at once on every instance when revoked, and its store URL within SHARE_URL_TTL_SECONDS', async () => {
    let now = Date.now();
    const clock = () => new Date(now);
    const env = { SHARE_URL_TTL_SECONDS: '60' };
    const a = await service({ storeKind: 'local', env, clock });
    const b = await service({ storeKind: 'local', env, clock, dataDir: a.config.dataDir });
    const owner = await newAccount(a.db);
    const m = await uploadJson(a, owner, 'local bytes');
    const link = await share(a, owner, m.sid);
    const onB = on(b, link.url!);
    const handedOut = (await use(onB)).headers.get('location')!; // B has it cached now
    expect((await fetch(handedOut)).status).toBe(200);

    const seen = b.nextInvalidation(owner.sid);
    expect((await accountApi(a, owner, `/share-links/${link.sid}`, { method: 'DELETE' })).status).toBe(204);
    const started = performance.now();
    await seen;
    expect((await use(onB)).status).toBe(404);
    console.log(`a revoked share link answered 404 on the other instance after ${(performance.now() - started).toFixed(1)} ms`);
    // A URL handed out before still works a little, then not: SHARE_URL_TTL_SECONDS.
    expect((await fetch(handedOut)).status).toBe(200);
    now += 61_000;
    expect((await fetch(handedOut)).status).toBe(403);
  });

  it('expires at its expires_in, on the clock', async () => {
    let now = Date.now();
    const timed = await service({ clock: () => new Date(now) });
    const owner = await newAccount(timed.db);
    const m = await uploadJson(timed, owner, 'x');
    const link = await share(timed, owner, m.sid, { expires_in: 60 });
    expect((await use(link.url!)).status).toBe(302);
    // The database decides expiry by its own clock: move the link's expiry instead of the server's.
    await timed.db.query("UPDATE share_links SET expires_at = now() - interval '1 second' WHERE sid = $1", [link.sid]);
    now += 61_000; // and the cached entry (it expires with the link) is past too
    expect((await use(link.url!)).status).toBe(404);
  });

  it('gives exactly max_uses answers under 20 parallel GETs spread over two instances', async () => {
    const a = await service();
    const b = await service();
    const owner = await newAccount(a.db);
    const m = await uploadJson(a, owner, 'x');
    const link = await share(a, owner, m.sid, { max_uses: 3 });
    const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => use(on(i % 2 ? a : b, link.url!)).then((r) => r.status)));
    expect(statuses.filter((s) => s === 302)).toHaveLength(3);
    expect(statuses.filter((s) => s === 404)).toHaveLength(17);
    // A HEAD is no use: the spent link still answers 404 to it, and a fresh one keeps its use.
    const once = await share(a, owner, m.sid, { max_uses: 1 });
    expect((await use(once.url!, { method: 'HEAD' })).status).toBe(302);
    expect((await use(once.url!)).status).toBe(302);
    expect((await use(once.url!)).status).toBe(404);
    // Used up: no longer among the media's live links, still in the account's list, with its one use.
    const live = (await (await accountApi(a, owner, `/media/${m.sid}/share-links`)).json()) as { share_links: ShareLinkJson[] };
    expect(live.share_links.map((l) => l.sid)).not.toContain(once.sid);
    const all = (await (await accountApi(a, owner, '/share-links')).json()) as { share_links: ShareLinkJson[] };
    expect(all.share_links.find((l) => l.sid === once.sid)).toMatchObject({ uses: 1, max_uses: 1 });
  });

  it("dies with the key or application that created it, with its media, and past its media's retention; a token rotation keeps it", async () => {
    const owner = await newAccount(svc.db);
    const m = await uploadJson(svc, owner, 'x');
    const key = (await (await accountApi(svc, owner, '/keys', { method: 'POST', json: { name: 'k' } })).json()) as { sid: string; secret: string };
    const byKey = await share(svc, owner, m.sid, {}, basicAuth(key.sid, key.secret));
    const app = await registerApplication(svc, owner);
    const byApp = await share(svc, owner, m.sid, {}, await bearerFor(app));
    const byOwner = await share(svc, owner, m.sid);
    for (const link of [byKey, byApp, byOwner]) expect((await use(link.url!)).status).toBe(302);

    const secondary = ((await (await accountApi(svc, owner, '/auth-tokens/secondary', { method: 'POST' })).json()) as { secondary_auth_token: string })
      .secondary_auth_token;
    expect((await accountApi(svc, owner, '/auth-tokens/promote', { method: 'POST' })).status).toBe(200);
    expect((await use(byOwner.url!)).status).toBe(302);
    const auth = basicAuth(owner.sid, secondary); // the primary now

    expect((await accountApi(svc, owner, `/keys/${key.sid}`, { method: 'DELETE', auth })).status).toBe(204);
    expect((await use(byKey.url!)).status).toBe(404);
    expect((await use(byOwner.url!)).status).toBe(302);
    expect((await accountApi(svc, owner, `/applications/${app.id}`, { method: 'DELETE', auth })).status).toBe(204);
    expect((await use(byApp.url!)).status).toBe(404);

    const kept = await uploadJson(svc, owner, 'y', { auth });
    const retained = await share(svc, owner, kept.sid, {}, auth);
    expect((await use(retained.url!)).status).toBe(302);
    // Retention: the media is two days old behind the service's back, then the account keeps one day.
    await svc.db.query("UPDATE media SET created_at = now() - interval '2 days' WHERE sid = $1", [kept.sid]);
    expect((await accountApi(svc, owner, '/settings/retention', { method: 'PATCH', json: { days: 1 }, auth })).status).toBe(200);
    expect((await use(retained.url!)).status).toBe(404);

    expect((await fetch(m.url, { method: 'DELETE', headers: { Authorization: auth } })).status).toBe(204);
    expect((await use(byOwner.url!)).status).toBe(404);
  });
});

describe('guessing tokens', () => {
  it('answers 429 to an address that keeps looking up links that do not exist, while a valid link from another address works', async () => {
    const limited = await service({ env: { TRUST_PROXY: '1', AUTH_FAILURE_LIMIT: '5' } });
    const owner = await newAccount(limited.db);
    const m = await uploadJson(limited, owner, 'x');
    const link = await share(limited, owner, m.sid);
    const from = (address: string, url: string) => use(url, { headers: { 'X-Forwarded-For': address } });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await from('198.51.100.9', `${limited.baseUrl}/s/${String(i).padStart(43, 'x')}`)).status);
    expect(statuses).toEqual([404, 404, 404, 404, 404, 429, 429, 429]);
    // The guessing address is refused before any look-up, a real link too...
    expect((await from('198.51.100.9', link.url!)).status).toBe(429);
    // ...while another address gets it.
    expect((await from('198.51.100.10', link.url!)).status).toBe(302);
  });
});

describe('audit', () => {
  it('writes share_link.created and share_link.deleted events, names the link by its sid in the access log, and never its token', async () => {
    const audited = await service();
    const owner = await newAccount(audited.db);
    const m = await uploadJson(audited, owner, 'x');
    const link = await share(audited, owner, m.sid);
    const token = new URL(link.url!).pathname.slice(3);
    expect((await use(link.url!)).status).toBe(302);
    expect((await accountApi(audited, owner, `/share-links/${link.sid}`, { method: 'DELETE' })).status).toBe(204);
    const events = (await (await accountApi(audited, owner, '/events')).json()) as { events: { type: string; detail: Record<string, unknown> }[] };
    expect(events.events.map((e) => e.type).slice(0, 2)).toEqual(['share_link.deleted', 'share_link.created']);
    expect(events.events[1]!.detail).toMatchObject({ share_link_sid: link.sid, media_sid: m.sid });
    expect(JSON.stringify(events)).not.toContain(token);
    const used = await audited.logLine((l) => l.share_link === link.sid);
    expect(used).toMatchObject({ route: 'getSharedMedia', outcome: 'redirect', account: owner.sid, media: m.sid });
    // A wrong method on a link's path is logged without the path (which holds the token).
    expect((await fetch(link.url!, { method: 'POST' })).status).toBe(405);
    expect(await audited.logLine((l) => l.status === 405 && l.route === 'unmatched')).toMatchObject({ path: '(not logged)' });
    expect(audited.logLines.join('')).not.toContain(token);
  });
});
