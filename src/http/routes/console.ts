import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'koa';
import { z } from 'zod';
import { closeConsoleSession, openConsoleSession, type ConsoleSessionDeps } from '../../domain/console-sessions.js';
import { InvalidCredentials } from '../../domain/errors.js';
import { CSRF_HEADER, SESSION_COOKIE, sessionCookieName, tokensEqual, type AuthDeps } from '../auth.js';
import { route } from '../route.js';

// The page's files, in the repository's console/ folder (two levels above both
// src/http/routes and dist/http/routes). Read once: they are small and never change
// while the process runs.
const CONSOLE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../console');
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

// Scripts and styles only from the console's own asset path, none inline: with the
// zero-config store, uploaded media are served on this origin too (/v1/blobs/…), and a
// `script-src 'self'` would let an injected <script src> run one. Previews load from the
// store's signed URLs (S3, CloudFront or BLOB_BASE_URL: another origin), so images,
// audio and video may come from any http(s) origin; the page calls this origin's API
// and PUTs direct uploads to the store's origin.
function consoleCsp(base: string, uploadOrigins: readonly string[]): string {
  return [
    "default-src 'none'",
    `script-src ${base}/console/assets/`,
    `style-src ${base}/console/assets/`,
    "img-src 'self' blob: data: https: http:",
    "media-src 'self' blob: https: http:",
    ["connect-src 'self'", ...uploadOrigins].join(' '),
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

interface StaticFile {
  body: Buffer;
  type: string;
}

function loadConsoleFiles(): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const add = (urlPath: string, file: string) => {
    const type = TYPES[path.extname(file)];
    if (type) files.set(urlPath, { body: readFileSync(file), type });
  };
  add('/console', path.join(CONSOLE_DIR, 'index.html'));
  for (const name of readdirSync(path.join(CONSOLE_DIR, 'assets'))) add(`/console/assets/${name}`, path.join(CONSOLE_DIR, 'assets', name));
  return files;
}

export interface ConsoleDeps extends ConsoleSessionDeps, AuthDeps {
  /** browsers reach the service over https (PUBLIC_BASE_URL says so) */
  secureCookies: boolean;
  /** where the service's pages are, as their CSP names it (browser-policy.ts) */
  pageBase(ctx: Context): string;
  /** origins the store's direct-upload URLs point at, for the page's CSP */
  uploadOrigins: readonly string[];
}

const signInBody = z.strictObject({ account_sid: z.string().max(64), auth_token: z.string().max(256) });

const pageAnswer = (description: string, content: Record<string, unknown>) => ({ description, content, headers: { 'Content-Security-Policy': 'Content-Security-Policy-Page' } });
const noStore = { 'Cache-Control': 'Cache-Control-No-Store' };

/**
 * The owner's console: its page and assets, and its session (sign in with the account
 * sid and auth token for an HttpOnly SameSite=Strict cookie; the page's API calls then
 * go to the ordinary /v1/accounts routes with the session's CSRF token, see auth.ts).
 */
export function consoleRoutes() {
  const files = loadConsoleFiles();
  const serveFile = (ctx: Context, deps: ConsoleDeps) => {
    const file = files.get(ctx.path);
    if (!file) return; // 404 from the request cycle
    ctx.set('Content-Security-Policy', consoleCsp(deps.pageBase(ctx), deps.uploadOrigins));
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.type = file.type;
    ctx.body = file.body;
  };
  const setSessionCookie = (ctx: Context, deps: ConsoleDeps, value: string, maxAgeMillis: number) => {
    // Koa refuses a Secure cookie on a request it saw arrive over plain http; behind a
    // proxy that ends TLS (TRUST_PROXY unset), PUBLIC_BASE_URL says the browser used https.
    if (deps.secureCookies) ctx.cookies.secure = true;
    ctx.cookies.set(deps.sessionCookie, value, { httpOnly: true, sameSite: 'strict', path: '/', secure: deps.secureCookies, overwrite: true, maxAge: maxAgeMillis });
  };
  const sessionJson = (s: { accountSid: string; csrfToken: string; expiresAt: Date }) => ({
    account_sid: s.accountSid,
    csrf_token: s.csrfToken,
    expires_at: s.expiresAt.toISOString(),
  });
  const currentSession = (ctx: Context, deps: ConsoleDeps) => {
    const sessionId = ctx.cookies.get(deps.sessionCookie);
    return sessionId === undefined ? undefined : deps.findSession(sessionId).then((s) => s && { ...s, sessionId });
  };

  return [
    route({
      method: 'GET',
      path: '/console',
      operationId: 'getConsolePage',
      tag: 'Console',
      summary: "The owner's console (a web page)",
      description: "Served by the service itself; its Content-Security-Policy takes scripts and styles only from `/console/assets/` (none inline, none from elsewhere on the origin).",
      auth: 'none',
      answers: { 200: pageAnswer('The page.', { 'text/html': { schema: { type: 'string' } } }) },
      handle: (ctx, _input, deps: ConsoleDeps) => serveFile(ctx, deps),
    }),
    route({
      method: 'GET',
      path: '/console/assets/{File}',
      operationId: 'getConsoleAsset',
      tag: 'Console',
      summary: "The console page's scripts, styles and images",
      auth: 'none',
      answers: {
        200: { description: 'The file.', content: Object.fromEntries(['text/javascript', 'text/css', 'image/svg+xml', 'image/png'].map((t) => [t, { schema: { type: 'string' } }])) },
      },
      errors: ['not_found'],
      handle: (ctx, _input, deps: ConsoleDeps) => serveFile(ctx, deps),
    }),
    route({
      method: 'POST',
      path: '/console/session',
      operationId: 'openConsoleSession',
      tag: 'Console',
      summary: 'Sign in to the console',
      description: `With the account SID and its auth token (API keys cannot sign in). Sets the \`${SESSION_COOKIE}\` cookie (\`${sessionCookieName(true)}\` over https; HttpOnly, SameSite=Strict, CONSOLE_SESSION_SECONDS); the page then calls the /v1/accounts API with the session's \`${CSRF_HEADER}\`. Failed sign-ins count towards the throttle (429).`,
      auth: 'none',
      body: { json: signInBody, example: { account_sid: 'AC0123456789abcdef0123456789abcdef', auth_token: '0123456789abcdef0123456789abcdef' } },
      answers: {
        201: { description: 'Signed in.', schema: 'ConsoleSession', headers: { 'Set-Cookie': 'Set-Cookie-Session', ...noStore } },
        401: { description: 'The account SID or auth token is wrong (no Basic challenge: the page asks for them itself).', schema: 'Error401' },
      },
      errors: ['forbidden', 'too_many_requests', 'service_unavailable'],
      async handle(ctx, { body }, deps: ConsoleDeps) {
        const b = await body();
        const session = await openConsoleSession(deps, { accountSid: b.account_sid, authToken: b.auth_token }, ctx.ip);
        setSessionCookie(ctx, deps, session.sessionId, deps.sessionSeconds * 1000);
        ctx.status = 201;
        ctx.body = sessionJson(session);
      },
    }),
    route({
      method: 'GET',
      path: '/console/session',
      operationId: 'getConsoleSession',
      tag: 'Console',
      summary: 'The current console session (its CSRF token, for a reloaded page)',
      auth: 'none',
      answers: {
        200: { description: 'Signed in.', schema: 'ConsoleSession', headers: noStore },
        204: { description: 'Signed out (an ordinary state for the page, not an error).', headers: noStore },
      },
      errors: ['service_unavailable'],
      async handle(ctx, _input, deps: ConsoleDeps) {
        const session = await currentSession(ctx, deps);
        // Signed out is an ordinary state for the page, not an error: 204, no body (a 401
        // here would be logged as a failed resource on every visit to the sign-in form).
        if (!session) {
          ctx.status = 204;
          return;
        }
        ctx.body = sessionJson(session);
      },
    }),
    route({
      method: 'DELETE',
      path: '/console/session',
      operationId: 'closeConsoleSession',
      tag: 'Console',
      summary: 'Sign out',
      description: `Needs the session's \`${CSRF_HEADER}\` too, so that no other site can end it. Always clears the cookie.`,
      auth: 'none',
      answers: {
        204: { description: 'Signed out.', headers: { 'Set-Cookie': 'Set-Cookie-Session' } },
        401: { description: 'The session has ended, or the CSRF token is not its own.', schema: 'Error401' },
      },
      errors: ['forbidden', 'service_unavailable'],
      async handle(ctx, _input, deps: ConsoleDeps) {
        const session = await currentSession(ctx, deps);
        // Signing out needs the token too: a cross-site request cannot end the session.
        if (session && tokensEqual(session.csrfToken, ctx.get(CSRF_HEADER))) await closeConsoleSession(deps, session.sessionId);
        else if (session) throw new InvalidCredentials('the console session has ended; sign in again');
        setSessionCookie(ctx, deps, '', 0);
        ctx.status = 204;
      },
    }),
  ];
}
