// The OpenAPI document against the service, judged by a validator that is not ours:
// Stoplight's Prism (`prism proxy`) in front of the service, validating every request it
// forwards and every answer it relays against docs/openapi.json. Every operation of the
// document is sent through it with valid credentials, bodies and parameters, and must
// come back without a violation; some error answers too.
//
// Prism runs without --errors: with it, Prism answers requests it finds invalid itself
// (401, 422) instead of forwarding them, and routes the document does not name (404s,
// 405s) too, so the service's own error answers would never be judged. Without it, Prism
// forwards everything and lists what it finds in an `sl-violations` response header
// (JSON: location, severity, code, message), request and response alike.
//
// What Prism cannot judge (docs/api.md, "Checked with Prism") is asserted here exactly, so
// that a change in it shows:
// - a 302: Prism's upstream client follows redirects, and judges the store's answer
//   against the operation's 200 (the media URL's and the share link's 302s are checked by
//   the contract check of the direct requests instead);
// - 404s of paths the document does not name and 405s: no operation to judge them by;
// - the two extensions (`x-mediagate-absent-when-request-header`: no Basic challenge on the
//   console's own 401s);
// - 431: Prism's own HTTP server refuses such headers before the service sees them.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../../src/db/embedded.js';
import { uncheckedFetch } from '../support/contract.js';
import { bearerFor, registerApplication, type TestApplication } from '../support/credentials.js';
import { basicAuth, newAccount, startService, type TestAccount, type TestService } from '../support/service.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DOCUMENT = path.join(ROOT, 'docs/openapi.json');
// The devDependency's own entry point, run with this Node (no shell, no npx look-up).
const PRISM_CLI = createRequire(import.meta.url).resolve('@stoplight/prism-cli/dist/index.js');

interface Violation {
  location: string[];
  severity: string;
  code?: string | number;
  message: string;
}

interface Exchange {
  status: number;
  headers: Headers;
  body: string;
  violations: Violation[];
}

interface Prism {
  url: string;
  /** Prism's log, for a failure's message */
  log(): string;
  stop(): Promise<void>;
}

const prisms = new Set<ChildProcess>();

/** `prism proxy docs/openapi.json <upstream>` on a free port; rejects (failing the test) if it does not start. */
async function startPrism(upstream: string): Promise<Prism> {
  const port = await findFreePort();
  const child = spawn(
    process.execPath,
    [PRISM_CLI, 'proxy', DOCUMENT, upstream, '--host', '127.0.0.1', '--port', String(port), '--errors=false', '--cors=false', '--multiprocess=false'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' } },
  );
  prisms.add(child);
  const lines: string[] = [];
  const log = () => lines.slice(-60).join('\n');
  const listening = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`prism did not start within 60 s:\n${log()}`)), 60_000);
    const read = (chunk: Buffer) => {
      for (const line of String(chunk).split('\n')) {
        if (line.trim() === '') continue;
        lines.push(line);
        if (lines.length > 500) lines.shift();
        if (line.includes(`Prism is listening on http://127.0.0.1:${port}`)) {
          clearTimeout(timer);
          resolve();
        }
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`prism could not be run: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`prism exited (${code ?? signal}) before listening:\n${log()}`));
    });
  });
  try {
    await listening;
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return { url: `http://127.0.0.1:${port}`, log, stop: () => stopChild(child) };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const forced = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(forced);
  }
  prisms.delete(child);
}

afterAll(async () => {
  // Whatever a failed hook left behind.
  for (const child of [...prisms]) await stopChild(child);
});

/**
 * A request through Prism (never following a redirect itself). Not the contract-checked
 * fetch: here Prism is the judge, and what it relays is its own rendering (it adds the
 * violations header, re-serializes bodies).
 */
async function via(prism: Prism, pathAndQuery: string, init: RequestInit = {}): Promise<Exchange> {
  const res = await uncheckedFetch(`${prism.url}${pathAndQuery}`, { redirect: 'manual', ...init });
  const body = await res.text();
  const header = res.headers.get('sl-violations');
  let violations: Violation[] = [];
  if (header !== null) {
    try {
      violations = JSON.parse(header) as Violation[];
    } catch {
      throw new Error(`unreadable sl-violations header: ${header.slice(0, 300)}`);
    }
  }
  return { status: res.status, headers: res.headers, body, violations };
}

/** A service URL (a signed URL, a share link) as a path and query to send through Prism. */
const pathOf = (url: string) => {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
};

const json = (value: unknown): RequestInit => ({ body: JSON.stringify(value), headers: { 'Content-Type': 'application/json' } });
const withAuth = (auth: string, init: RequestInit = {}): RequestInit => ({ ...init, headers: { Authorization: auth, ...(init.headers as Record<string, string>) } });

// Every operation of the document answered with success and no violation, by operationId.
const judgedClean = new Set<string>();

/** The operation answered `status`, and Prism found nothing wrong with the request or the answer. */
function expectClean(operationId: string, ex: Exchange, status: number): void {
  expect({ operationId, status: ex.status, violations: ex.violations }, ex.body.slice(0, 300)).toEqual({ operationId, status, violations: [] });
  if (status < 400) judgedClean.add(operationId);
}

/** A request the document itself calls invalid (so it is no looser than the service here), answered `status` as the document says. */
function expectRefusedByBoth(ex: Exchange, status: number): void {
  expect(ex.status, ex.body.slice(0, 300)).toBe(status);
  expect(ex.violations.filter((v) => v.location[0] === 'request').length, 'the document calls the request invalid').toBeGreaterThan(0);
  expect(ex.violations.filter((v) => v.location[0] !== 'request')).toEqual([]);
}

/** What Prism says when the document has no operation for the request: it forwards it and judges nothing. */
const ROUTE_NOT_FOUND: Violation[] = [{ location: ['request'], severity: 'Warning', message: 'Selected route not found' }];

function errorBody(ex: Exchange): { error: { status: number; code: string; message: string } } {
  return JSON.parse(ex.body) as { error: { status: number; code: string; message: string } };
}

const TEXT = 'hello from the Prism test\n';

describe('through Prism, the local store (redirects to its own signed blob URLs)', () => {
  let svc: TestService;
  let prism: Prism;
  let owner: TestAccount;
  const api = (p: string) => `/v1/accounts/${owner.sid}${p}`;

  beforeAll(async () => {
    svc = await startService({ storeKind: 'local', env: { MEDIA_MAX_BYTES: '65536' } });
    prism = await startPrism(svc.baseUrl);
    owner = await newAccount(svc.db, 'prism owner');
  });
  afterAll(async () => {
    await prism?.stop();
    await svc?.close();
  });

  it('the service endpoints, the reference and the console page', async () => {
    expectClean('getHealth', await via(prism, '/healthz'), 200);
    expectClean('getReadiness', await via(prism, '/readyz'), 200);
    expectClean('getMetrics', await via(prism, '/metrics'), 200);
    expectClean('getOpenApiDocument', await via(prism, '/openapi.json'), 200);
    expectClean('getDocsPage', await via(prism, '/docs'), 200);
    expectClean('getDocsAsset', await via(prism, '/docs/assets/docs.js'), 200);
    expectClean('getDocsAsset', await via(prism, '/docs/assets/nothing.js'), 404);
    expectClean('getConsolePage', await via(prism, '/console'), 200);
    expectClean('getConsoleAsset', await via(prism, '/console/assets/app.js'), 200);
    expectClean('getConsoleAsset', await via(prism, '/console/assets/nothing.js'), 404);
  });

  it('settings, keys, auth tokens, applications and events, with their refusals', async () => {
    const auth = withAuth(owner.basic);
    expectClean('getMediaProtection', await via(prism, api('/settings/media-protection'), auth), 200);
    expectClean('updateMediaProtection', await via(prism, api('/settings/media-protection'), withAuth(owner.basic, { method: 'PATCH', ...json({ fax: true }) })), 200);
    expectRefusedByBoth(await via(prism, api('/settings/media-protection'), withAuth(owner.basic, { method: 'PATCH', ...json({}) })), 400);
    expectClean('getRetention', await via(prism, api('/settings/retention'), auth), 200);
    expectClean('updateRetention', await via(prism, api('/settings/retention'), withAuth(owner.basic, { method: 'PATCH', ...json({ days: 30 }) })), 200);
    expectRefusedByBoth(await via(prism, api('/settings/retention'), withAuth(owner.basic, { method: 'PATCH', ...json({ days: 0 }) })), 400);

    const created = await via(prism, api('/keys'), withAuth(owner.basic, { method: 'POST', ...json({ name: 'through prism' }) }));
    expectClean('createApiKey', created, 201);
    const key = JSON.parse(created.body) as { sid: string; secret: string };
    expectClean('listApiKeys', await via(prism, api('/keys?page_size=10'), auth), 200);
    // A key is no owner (403); a blank name, a page size out of range: the document refuses them too.
    expectClean('listApiKeys', await via(prism, api('/keys'), withAuth(basicAuth(key.sid, key.secret))), 403);
    expectRefusedByBoth(await via(prism, api('/keys'), withAuth(owner.basic, { method: 'POST', ...json({ name: '   ' }) })), 400);
    expectRefusedByBoth(await via(prism, api('/keys?page_size=1001'), auth), 400);
    expectRefusedByBoth(await via(prism, api('/keys?page_size=1.5'), auth), 400);
    // 415: a JSON body sent as text; 413: a JSON body over JSON_BODY_MAX_BYTES (64 KiB).
    expectRefusedByBoth(await via(prism, api('/keys'), withAuth(owner.basic, { method: 'POST', body: '{"name":"x"}', headers: { 'Content-Type': 'text/plain' } })), 415);
    expectRefusedByBoth(await via(prism, api('/keys'), withAuth(owner.basic, { method: 'POST', ...json({ name: 'x'.repeat(70_000) }) })), 413);
    expectClean('deleteApiKey', await via(prism, api(`/keys/${key.sid}`), withAuth(owner.basic, { method: 'DELETE' })), 204);
    expectClean('deleteApiKey', await via(prism, api(`/keys/${key.sid}`), withAuth(owner.basic, { method: 'DELETE' })), 404);
    // A malformed sid is not found either; the document's pattern already refuses it.
    expectRefusedByBoth(await via(prism, api('/keys/SKnot-a-sid'), withAuth(owner.basic, { method: 'DELETE' })), 404);

    expectClean('promoteSecondaryAuthToken', await via(prism, api('/auth-tokens/promote'), withAuth(owner.basic, { method: 'POST' })), 409);
    const secondary = await via(prism, api('/auth-tokens/secondary'), withAuth(owner.basic, { method: 'POST' }));
    expectClean('createSecondaryAuthToken', secondary, 201);
    const { secondary_auth_token: token } = JSON.parse(secondary.body) as { secondary_auth_token: string };
    expectClean('promoteSecondaryAuthToken', await via(prism, api('/auth-tokens/promote'), withAuth(owner.basic, { method: 'POST' })), 200);
    owner = { ...owner, authToken: token, basic: basicAuth(owner.sid, token) };
    expectClean('createSecondaryAuthToken', await via(prism, api('/auth-tokens/secondary'), withAuth(owner.basic, { method: 'POST' })), 201);
    expectClean('deleteSecondaryAuthToken', await via(prism, api('/auth-tokens/secondary'), withAuth(owner.basic, { method: 'DELETE' })), 204);
    expectClean('deleteSecondaryAuthToken', await via(prism, api('/auth-tokens/secondary'), withAuth(owner.basic, { method: 'DELETE' })), 404);

    const app = await registerApplication(svc, owner);
    expectClean('listApplications', await via(prism, api('/applications?page_size=5'), withAuth(owner.basic)), 200);
    const other = await via(prism, api('/applications'), withAuth(owner.basic, { method: 'POST', ...json({ name: 'second', public_key: await publicKeyPem() }) }));
    expectClean('createApplication', other, 201);
    const { application_id: otherId } = JSON.parse(other.body) as { application_id: string };
    expectClean('deleteApplication', await via(prism, api(`/applications/${otherId}`), withAuth(owner.basic, { method: 'DELETE' })), 204);
    expectClean('deleteApplication', await via(prism, api(`/applications/${otherId}`), withAuth(owner.basic, { method: 'DELETE' })), 404);
    // A JWT is an account credential, not the owner's: 403 on the owner's routes, whose security the document says has no bearer scheme.
    expectRefusedByBoth(await via(prism, api('/applications'), withAuth(await bearerFor(app))), 403);

    expectClean('listEvents', await via(prism, api('/events?page_size=3'), withAuth(owner.basic)), 200);
    // Credentials, bad or missing: a wrong secret is for the service to refuse; no credentials, the document refuses too.
    expectClean('listEvents', await via(prism, api('/events'), withAuth(basicAuth(owner.sid, '0'.repeat(32)))), 401);
    expectRefusedByBoth(await via(prism, api('/events')), 401);
    // Credentials of another account, or a malformed account sid: 403 before anything is looked up.
    const stranger = await newAccount(svc.db, 'stranger');
    expectClean('listEvents', await via(prism, `/v1/accounts/${stranger.sid}/events`, withAuth(owner.basic)), 403);
    expectRefusedByBoth(await via(prism, '/v1/accounts/ACnot-a-sid/events', withAuth(owner.basic)), 403);
    // A state-changing request from a page of another origin.
    expectClean('updateRetention', await via(prism, api('/settings/retention'), withAuth(owner.basic, { method: 'PATCH', ...json({ days: null }), headers: { 'Content-Type': 'application/json', Origin: 'https://evil.example' } })), 403);
  });

  it('media: uploads (raw, a form, direct to the blob endpoint), reads, lists, the media URL in JSON, share links, deletes', async () => {
    const auth = withAuth(owner.basic);
    const uploaded = await via(prism, api('/media?kind=message&filename=hello.txt'), withAuth(owner.basic, { method: 'POST', body: TEXT, headers: { 'Content-Type': 'text/plain' } }));
    expectClean('uploadMedia', uploaded, 201);
    const media = JSON.parse(uploaded.body) as { sid: string; url: string };
    const form = new FormData();
    form.append('file', new Blob([TEXT], { type: 'text/plain' }), 'form.txt');
    expectClean('uploadMedia', await via(prism, api('/media?kind=recording'), { method: 'POST', body: form, headers: { Authorization: owner.basic } }), 201);
    // An application id that is well-formed but names none of the account's: 400, which only the service can know.
    const unknownApp = await via(prism, api('/media?kind=message&application_id=2f1e7c9a-5b3d-4e8f-9a1b-0c2d3e4f5a6b'), withAuth(owner.basic, { method: 'POST', body: TEXT, headers: { 'Content-Type': 'text/plain' } }));
    expectClean('uploadMedia', unknownApp, 400);
    expect(errorBody(unknownApp).error.message).toBe('application_id names no application of this account');
    expectRefusedByBoth(await via(prism, api('/media?kind=message&filename=..'), withAuth(owner.basic, { method: 'POST', body: TEXT, headers: { 'Content-Type': 'text/plain' } })), 400);
    expectRefusedByBoth(await via(prism, api('/media?kind=video'), withAuth(owner.basic, { method: 'POST', body: TEXT, headers: { 'Content-Type': 'text/plain' } })), 400);
    // Over MEDIA_MAX_BYTES (64 KiB for this service; a size the document cannot know).
    expectClean('uploadMedia', await via(prism, api('/media?kind=message'), withAuth(owner.basic, { method: 'POST', body: 'x'.repeat(70_000), headers: { 'Content-Type': 'text/plain' } })), 413);
    // A form-encoded body (what `curl --data-binary` sends untyped) is 415. Prism cannot judge
    // the request: it decodes such a body into fields and holds them to the `*/*` schema (bytes).
    // (A body without any Content-Type cannot be sent through Prism at all: its upstream
    // client types every body it forwards.)
    const formEncoded = await via(prism, api('/media?kind=message'), withAuth(owner.basic, { method: 'POST', body: 'a=b', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }));
    expect(formEncoded.status).toBe(415);
    expect(formEncoded.violations).toEqual([{ location: ['request', 'body'], severity: 'Error', code: 'type', message: 'Request body must be string' }]);

    expectClean('getMedia', await via(prism, api(`/media/${media.sid}.json`), auth), 200);
    expectClean('getMedia', await via(prism, api(`/media/ME${'0'.repeat(32)}.json`), auth), 404);
    expectClean('listMedia', await via(prism, api('/media?kind=message&page_size=2'), auth), 200);
    expectRefusedByBoth(await via(prism, api('/media?page_size=0'), auth), 400);

    // The media URL as JSON, GET and HEAD, each signed for its method; then the blob URLs they name.
    const answer = await via(prism, api(`/media/${media.sid}?redirect=false&disposition=attachment&expires_in=600`), auth);
    expectClean('getMediaUrl', answer, 200);
    const signed = JSON.parse(answer.body) as { url: string; method: string };
    expect(signed.method).toBe('GET');
    // Prism cannot judge a HEAD whose answer is typed JSON: it parses the (empty) body and
    // fails with its own 500. The service's answer, directly (and contract-checked):
    const headJson = await fetch(`${svc.baseUrl}${api(`/media/${media.sid}?redirect=false`)}`, { method: 'HEAD', headers: { Authorization: owner.basic } });
    expect([headJson.status, headJson.headers.get('content-type')]).toEqual([200, 'application/json; charset=utf-8']);
    const headThroughPrism = await via(prism, api(`/media/${media.sid}?redirect=false`), withAuth(owner.basic, { method: 'HEAD' }));
    // Prism's own error (a problem+json, which the service never answers).
    expect([headThroughPrism.status, headThroughPrism.headers.get('content-type')]).toEqual([500, 'application/problem+json']);
    expectRefusedByBoth(await via(prism, api(`/media/${media.sid}?redirect=false&expires_in=59`), auth), 400);
    expectClean('getMediaUrl', await via(prism, api(`/media/ME${'0'.repeat(32)}`), auth), 404);
    expectClean('getBlob', await via(prism, pathOf(signed.url)), 200);
    expectClean('getBlob', await via(prism, pathOf(signed.url), { headers: { Range: 'bytes=0-4' } }), 206);
    expectClean('getBlob', await via(prism, pathOf(signed.url), { headers: { 'If-None-Match': `"${media.sid}"` } }), 304);
    expectClean('getBlob', await via(prism, pathOf(signed.url), { headers: { Range: 'bytes=5000-6000' } }), 416);
    // The local store's URL signed for GET serves HEAD too.
    expectClean('headBlob', await via(prism, pathOf(signed.url), { method: 'HEAD' }), 200);
    const tampered = new URL(signed.url);
    tampered.searchParams.set('exp', String(Number(tampered.searchParams.get('exp')) + 1));
    expectClean('getBlob', await via(prism, pathOf(tampered.href)), 403);

    // Share links of the media.
    const link = await via(prism, api(`/media/${media.sid}/share-links`), withAuth(owner.basic, { method: 'POST', ...json({ expires_in: 3600, max_uses: 5, label: ' for Ana ' }) }));
    expectClean('createShareLink', link, 201);
    const { sid: linkSid } = JSON.parse(link.body) as { sid: string };
    expectRefusedByBoth(await via(prism, api(`/media/${media.sid}/share-links`), withAuth(owner.basic, { method: 'POST', ...json({ expires_in: 59 }) })), 400);
    expectRefusedByBoth(await via(prism, api(`/media/${media.sid}/share-links`), withAuth(owner.basic, { method: 'POST', ...json({ label: 'a\u202Eb' }) })), 400);
    expectClean('createShareLink', await via(prism, api(`/media/ME${'0'.repeat(32)}/share-links`), withAuth(owner.basic, { method: 'POST', ...json({}) })), 404);
    expectClean('listMediaShareLinks', await via(prism, api(`/media/${media.sid}/share-links`), auth), 200);
    expectClean('listShareLinks', await via(prism, api('/share-links?page_size=1'), auth), 200);
    expectClean('getSharedMedia', await via(prism, `/s/${'A'.repeat(43)}`), 404);
    expectClean('getSharedMedia', await via(prism, `/s/${'A'.repeat(43)}`, { headers: { Accept: 'text/html' } }), 404);
    expectClean('deleteShareLink', await via(prism, api(`/share-links/${linkSid}`), withAuth(owner.basic, { method: 'DELETE' })), 204);
    expectClean('deleteShareLink', await via(prism, api(`/share-links/${linkSid}`), withAuth(owner.basic, { method: 'DELETE' })), 404);

    // A direct upload: started, refused completion before the PUT (409), the PUT to the blob endpoint, completed twice.
    const started = await via(prism, api('/media/uploads'), withAuth(owner.basic, { method: 'POST', ...json({ kind: 'fax', content_type: 'text/plain', size_bytes: TEXT.length, filename: 'direct.txt' }) }));
    expectClean('startUpload', started, 201);
    const up = JSON.parse(started.body) as { upload_id: string; url: string; headers: Record<string, string> };
    expectRefusedByBoth(await via(prism, api('/media/uploads'), withAuth(owner.basic, { method: 'POST', ...json({ kind: 'fax', content_type: 'not a type', size_bytes: 1 }) })), 400);
    expectClean('completeUpload', await via(prism, api(`/media/uploads/${up.upload_id}/complete`), withAuth(owner.basic, { method: 'POST' })), 409);
    expectClean('putBlob', await via(prism, pathOf(up.url), { method: 'PUT', body: TEXT, headers: up.headers }), 200);
    expectClean('putBlob', await via(prism, pathOf(up.url), { method: 'PUT', body: TEXT, headers: up.headers }), 403);
    expectClean('completeUpload', await via(prism, api(`/media/uploads/${up.upload_id}/complete`), withAuth(owner.basic, { method: 'POST' })), 201);
    expectClean('completeUpload', await via(prism, api(`/media/uploads/${up.upload_id}/complete`), withAuth(owner.basic, { method: 'POST' })), 200);

    expectClean('deleteMedia', await via(prism, api(`/media/${media.sid}`), withAuth(owner.basic, { method: 'DELETE' })), 204);
    expectClean('deleteMedia', await via(prism, api(`/media/${media.sid}`), withAuth(owner.basic, { method: 'DELETE' })), 404);
    expectClean('protectExistingMedia', await via(prism, api('/settings/media-protection/protect-existing'), withAuth(owner.basic, { method: 'POST', ...json({ kind: 'recording' }) })), 200);
    expectRefusedByBoth(await via(prism, api('/settings/media-protection/protect-existing'), withAuth(owner.basic, { method: 'POST', ...json({ kind: 'video' }) })), 400);
    // A JWT reads the account's media list.
    const app = await registerApplication(svc, owner);
    expectClean('listMedia', await via(prism, api('/media'), withAuth(await bearerFor(app))), 200);
  });

  it('the console: sign in, the session, a call with it, sign out', async () => {
    expectClean('getConsoleSession', await via(prism, '/console/session'), 204);
    expectClean('openConsoleSession', await via(prism, '/console/session', { method: 'POST', ...json({ account_sid: owner.sid, auth_token: '0'.repeat(32) }) }), 401);
    const signIn = await via(prism, '/console/session', { method: 'POST', ...json({ account_sid: owner.sid, auth_token: owner.authToken }) });
    expectClean('openConsoleSession', signIn, 201);
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const { csrf_token: csrf } = JSON.parse(signIn.body) as { csrf_token: string };
    expectClean('getConsoleSession', await via(prism, '/console/session', { headers: { Cookie: cookie } }), 200);
    expectClean('getRetention', await via(prism, `/v1/accounts/${owner.sid}/settings/retention`, { headers: { Cookie: cookie, 'X-CSRF-Token': csrf } }), 200);
    expectClean('closeConsoleSession', await via(prism, '/console/session', { method: 'DELETE', headers: { Cookie: cookie, 'X-CSRF-Token': csrf } }), 204);
    // Prism cannot judge: the console's own 401s carry no Basic challenge, as the document
    // says with x-mediagate-absent-when-request-header, an extension Prism does not read.
    const ended = await via(prism, `/v1/accounts/${owner.sid}/settings/retention`, { headers: { Cookie: cookie, 'X-CSRF-Token': csrf } });
    expect(ended.status).toBe(401);
    expect(ended.violations).toEqual([
      { location: ['response', 'header'], severity: 'Error', code: 'required', message: "Response header must have required property 'www-authenticate'" },
    ]);
  });

  it("Prism cannot judge a 302: it follows it, and judges the store's answer against the operation's 200", async () => {
    const media = JSON.parse((await via(prism, api('/media?kind=message'), withAuth(owner.basic, { method: 'POST', body: TEXT, headers: { 'Content-Type': 'text/plain' } }))).body) as { sid: string; url: string };
    // Directly, the service answers 302 (and the contract check of this fetch holds it to the document).
    const direct = await fetch(media.url, { redirect: 'manual', headers: { Authorization: owner.basic } });
    expect(direct.status).toBe(302);
    for (const method of ['GET', 'HEAD']) {
      // Through Prism: the blob's 200, its Cache-Control the blob's own, not the media URL's.
      const followed = await via(prism, pathOf(media.url), withAuth(owner.basic, { method }));
      expect(followed.status).toBe(200);
      expect(followed.headers.get('content-security-policy')).toBe("sandbox; default-src 'none'");
      expect(followed.violations).toEqual([
        { location: ['response', 'header', 'cache-control'], severity: 'Error', code: 'const', message: 'Response header parameter cache-control must be equal to constant' },
      ]);
    }
    // A share link: the same, and its 200 (MEDIA_DELIVERY=proxy's) happens to fit the blob's answer.
    const link = JSON.parse((await via(prism, api(`/media/${media.sid}/share-links`), withAuth(owner.basic, { method: 'POST', ...json({}) }))).body) as { url: string };
    expect((await fetch(link.url, { redirect: 'manual' })).status).toBe(302);
    const shared = await via(prism, pathOf(link.url));
    expect(shared.status).toBe(200);
    expect(shared.body).toBe(TEXT);
    expect(shared.violations).toEqual([]);
  });

  it('Prism cannot judge the answers to paths and methods the document does not name: the service answers them itself', async () => {
    const unknown = await via(prism, '/v1/nothing/here');
    expect(unknown.violations).toEqual(ROUTE_NOT_FOUND);
    expect(unknown.status).toBe(404);
    expect(errorBody(unknown)).toEqual({ error: { status: 404, code: 'not_found', message: 'no such route' } });
    expect(unknown.headers.get('x-request-id')).toBeTruthy();

    for (const [method, p, allow] of [
      ['PUT', '/healthz', 'GET, HEAD'],
      ['POST', api(`/media/ME${'0'.repeat(32)}`), 'GET, HEAD, DELETE'],
      ['PATCH', api('/media/uploads'), 'GET, HEAD, POST, DELETE'],
      ['DELETE', '/console', 'GET, HEAD'],
    ] as const) {
      const refused = await via(prism, p, withAuth(owner.basic, { method }));
      expect(refused.violations, `${method} ${p}`).toEqual(ROUTE_NOT_FOUND);
      expect(refused.status, `${method} ${p}`).toBe(405);
      expect(refused.headers.get('allow'), `${method} ${p}`).toBe(allow);
      expect(errorBody(refused), `${method} ${p}`).toEqual({ error: { status: 405, code: 'method_not_allowed', message: `use one of ${allow}` } });
    }
  });

  it('431 for headers over 16 KB comes from the service without an X-Request-Id, as the document says; through Prism, from Prism itself', async () => {
    // Directly (the contract check of this fetch holds the answer to the document's 431).
    const direct = await fetch(`${svc.baseUrl}/v1/accounts/${owner.sid}/media`, { headers: { Authorization: owner.basic, 'X-Padding': 'x'.repeat(17_000) } });
    expect(direct.status).toBe(431);
    expect(direct.headers.get('x-request-id')).toBeNull();
    expect(await direct.json()).toEqual({ error: { status: 431, code: 'request_header_fields_too_large', message: 'Request Header Fields Too Large' } });
    const throughPrism = await via(prism, `/v1/accounts/${owner.sid}/media`, { headers: { Authorization: owner.basic, 'X-Padding': 'x'.repeat(17_000) } });
    expect(throughPrism.status).toBe(431);
    expect(throughPrism.body).toBe(''); // Node's own answer, in Prism's process: the service never saw it
  });
});

describe('through Prism, S3 with MEDIA_DELIVERY=proxy (the bytes themselves)', () => {
  let svc: TestService;
  let prism: Prism;
  let owner: TestAccount;
  let app: TestApplication;
  const api = (p: string) => `/v1/accounts/${owner.sid}${p}`;

  beforeAll(async () => {
    // A low failure limit, for the 429 at the end.
    svc = await startService({ env: { MEDIA_DELIVERY: 'proxy', AUTH_FAILURE_LIMIT: '5' } });
    prism = await startPrism(svc.baseUrl);
    owner = await newAccount(svc.db, 'prism owner');
    app = await registerApplication(svc, owner);
  });
  afterAll(async () => {
    await prism?.stop();
    await svc?.close();
  });

  it('media URLs and share links answer with the bytes: 200, 206, 304, 416, HEAD', async () => {
    expectClean('updateMediaProtection', await via(prism, api('/settings/media-protection'), withAuth(owner.basic, { method: 'PATCH', ...json({ recording: true }) })), 200);
    const uploaded = await via(prism, api(`/media?kind=recording&filename=a.txt&application_id=${app.id}`), withAuth(owner.basic, { method: 'POST', body: TEXT, headers: { 'Content-Type': 'text/plain' } }));
    expectClean('uploadMedia', uploaded, 201);
    const media = JSON.parse(uploaded.body) as { sid: string; url: string };
    const auth = withAuth(owner.basic);
    const bytes = await via(prism, pathOf(media.url), withAuth(await bearerFor(app)));
    expectClean('getMediaUrl', bytes, 200);
    expect(bytes.body).toBe(TEXT);
    expectClean('getMediaUrl', await via(prism, pathOf(media.url), withAuth(owner.basic, { headers: { Range: 'bytes=1-3' } })), 206);
    expectClean('getMediaUrl', await via(prism, pathOf(media.url), withAuth(owner.basic, { headers: { 'If-None-Match': `"${media.sid}"` } })), 304);
    expectClean('getMediaUrl', await via(prism, pathOf(media.url), withAuth(owner.basic, { headers: { Range: 'bytes=900-999' } })), 416);
    expectClean('getMediaUrl', await via(prism, `${pathOf(media.url)}?disposition=attachment`, auth), 200);
    expectClean('getMediaUrl', await via(prism, `${pathOf(media.url)}?redirect=false&expires_in=60`, auth), 200);
    expectClean('headMediaUrl', await via(prism, pathOf(media.url), withAuth(owner.basic, { method: 'HEAD' })), 200);
    // The media URL's refusals, in the contract's order.
    expectClean('getMediaUrl', await via(prism, pathOf(media.url), withAuth(basicAuth(owner.sid, 'f'.repeat(32)))), 401);
    expectClean('getMediaUrl', await via(prism, pathOf(media.url)), 401); // protected: credentials needed (not known from the document)
    const stranger = await newAccount(svc.db, 'stranger');
    expectClean('getMediaUrl', await via(prism, pathOf(media.url), withAuth(stranger.basic)), 403);
    expectRefusedByBoth(await via(prism, `${pathOf(media.url)}?redirect=maybe`, auth), 400);

    const created = await via(prism, api(`/media/${media.sid}/share-links`), withAuth(owner.basic, { method: 'POST', ...json({ disposition: 'attachment' }) }));
    expectClean('createShareLink', created, 201);
    const link = JSON.parse(created.body) as { url: string };
    const shared = await via(prism, pathOf(link.url));
    expectClean('getSharedMedia', shared, 200);
    expect(shared.body).toBe(TEXT);
    // Not `bytes=0-0`: s3rver answers that with the whole object (it reads an end of 0 as none).
    expectClean('getSharedMedia', await via(prism, pathOf(link.url), { headers: { Range: 'bytes=0-1' } }), 206);
    expectClean('getSharedMedia', await via(prism, pathOf(link.url), { headers: { 'If-None-Match': `"${media.sid}"` } }), 304);
    expectClean('getSharedMedia', await via(prism, pathOf(link.url), { headers: { Range: 'bytes=900-999' } }), 416);
    expectClean('headSharedMedia', await via(prism, pathOf(link.url), { method: 'HEAD' }), 200);
  });

  it('a direct upload to S3, completed through Prism', async () => {
    const started = await via(prism, api('/media/uploads'), withAuth(owner.basic, { method: 'POST', ...json({ kind: 'message', content_type: 'text/plain; charset=utf-8', size_bytes: TEXT.length }) }));
    expectClean('startUpload', started, 201);
    const up = JSON.parse(started.body) as { upload_id: string; url: string; method: string; headers: Record<string, string> };
    // The PUT goes to the store itself (s3rver), which the document does not describe.
    const put = await uncheckedFetch(up.url, { method: 'PUT', body: TEXT, headers: up.headers });
    expect(put.status).toBe(200);
    expectClean('completeUpload', await via(prism, api(`/media/uploads/${up.upload_id}/complete`), withAuth(owner.basic, { method: 'POST' })), 201);
  });

  it('too many failed authentications from one address: 429 with Retry-After', async () => {
    let last: Exchange | undefined;
    for (let i = 0; i < 8; i++) {
      last = await via(prism, api('/media'), withAuth(basicAuth(owner.sid, `${i}`.repeat(32))));
      if (last.status === 429) break;
      expectClean('listMedia', last, 401);
    }
    expectClean('listMedia', last!, 429);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('the document', () => {
  it('had every one of its operations answered with success through Prism, without a violation', async () => {
    const { readFile } = await import('node:fs/promises');
    const document = JSON.parse(await readFile(DOCUMENT, 'utf8')) as { paths: Record<string, Record<string, { operationId?: string }>> };
    const all = Object.values(document.paths).flatMap((item) => Object.values(item).flatMap((op) => (typeof op === 'object' && op.operationId ? [op.operationId] : [])));
    expect(all.length).toBeGreaterThan(40);
    expect(all.filter((id) => !judgedClean.has(id)).sort()).toEqual([]);
  });
});

/** An Ed25519 public key in PEM, for an application registered through Prism. */
async function publicKeyPem(): Promise<string> {
  const { generateKeyPairSync } = await import('node:crypto');
  return generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string;
}
