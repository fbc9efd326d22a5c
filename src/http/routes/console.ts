import type Router from '@koa/router';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'koa';
import { z } from 'zod';
import { closeConsoleSession, CONSOLE_SESSION_SECONDS, openConsoleSession, type ConsoleSessionDeps } from '../../domain/console-sessions.js';
import { InvalidCredentials } from '../../domain/errors.js';
import { CSRF_HEADER, SESSION_COOKIE, type AuthDeps } from '../auth.js';
import { readJsonBody } from '../input.js';

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

// Scripts, styles and fonts only from this origin, none inline. Previews load from the
// store's signed URLs (S3, CloudFront or BLOB_BASE_URL: another origin), so images,
// audio and video may come from any http(s) origin; nothing else may.
const CONSOLE_CSP = [
  "default-src 'self'",
  "img-src 'self' blob: data: https: http:",
  "media-src 'self' blob: https: http:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

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

export const signInBody = z.strictObject({
  account_sid: z.string().max(64),
  auth_token: z.string().max(256),
});

/**
 * The owner's console: its page and assets, and its session (sign in with the account
 * sid and auth token for an HttpOnly SameSite=Strict cookie; the page's API calls then
 * go to the ordinary /v1/accounts routes with the session's CSRF token, see auth.ts).
 */
export function consoleRoutes(router: Router, deps: ConsoleSessionDeps & AuthDeps & { secureCookies: boolean }): void {
  const files = loadConsoleFiles();
  const serveFile = (ctx: Context) => {
    const file = files.get(ctx.path);
    if (!file) return; // 404 from the error handler
    ctx.set('Content-Security-Policy', CONSOLE_CSP);
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.type = file.type;
    ctx.body = file.body;
  };
  router.get('/console', serveFile);
  router.get('/console/assets/:file', serveFile);

  const cookieOptions = { httpOnly: true, sameSite: 'strict' as const, path: '/', secure: deps.secureCookies, overwrite: true };

  router.post('/console/session', async (ctx) => {
    const body = await readJsonBody(ctx, signInBody);
    const session = await openConsoleSession(deps, { accountSid: body.account_sid, authToken: body.auth_token }, ctx.ip);
    ctx.cookies.set(SESSION_COOKIE, session.sessionId, { ...cookieOptions, maxAge: CONSOLE_SESSION_SECONDS * 1000 });
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 201;
    ctx.body = { account_sid: session.accountSid, csrf_token: session.csrfToken, expires_at: session.expiresAt.toISOString() };
  });

  router.get('/console/session', async (ctx) => {
    const sessionId = ctx.cookies.get(SESSION_COOKIE);
    const session = sessionId === undefined ? undefined : await deps.findSession(sessionId);
    ctx.set('Cache-Control', 'no-store');
    // Signed out is an ordinary state for the page, not an error: 204, no body (a 401
    // here would be logged as a failed resource on every visit to the sign-in form).
    if (!session) {
      ctx.status = 204;
      return;
    }
    ctx.body = { account_sid: session.accountSid, csrf_token: session.csrfToken, expires_at: session.expiresAt.toISOString() };
  });

  router.delete('/console/session', async (ctx) => {
    const sessionId = ctx.cookies.get(SESSION_COOKIE);
    const session = sessionId === undefined ? undefined : await deps.findSession(sessionId);
    // Signing out needs the token too: a cross-site request cannot end the session.
    if (session && session.csrfToken === ctx.get(CSRF_HEADER)) await closeConsoleSession(deps, sessionId!);
    else if (session) throw new InvalidCredentials('the console session has ended; sign in again');
    ctx.cookies.set(SESSION_COOKIE, '', { ...cookieOptions, maxAge: 0 });
    ctx.status = 204;
  });
}
