import type { Context, Next } from 'koa';
import {
  assertAccountOwner,
  assertSameAccount,
  type Authenticator,
  type Principal,
} from '../domain/credentials.js';
import type { ConsoleSession } from '../domain/console-sessions.js';
import { InvalidCredentials } from '../domain/errors.js';
import { digestsEqual, hashSecret } from '../domain/secrets.js';

interface AuthState {
  principal?: Principal | undefined;
}

export const SESSION_COOKIE = 'mediagate_session';
export const CSRF_HEADER = 'X-CSRF-Token';

export interface AuthDeps {
  authenticator: Authenticator;
  /** the console session a cookie names, while valid */
  findSession(sessionId: string): Promise<ConsoleSession | undefined>;
}

/** Whether the request comes from the console's page (which sends its CSRF token on every call). */
function isConsoleRequest(ctx: Context): boolean {
  return ctx.get(CSRF_HEADER) !== '';
}

/**
 * Whether a 401 should challenge with Basic. It makes browsers prompt for (and then
 * cache) Basic credentials: the console's routes and its own calls, which authenticate
 * by session, never get one.
 */
export function wantsBasicChallenge(ctx: Context): boolean {
  return !isConsoleRequest(ctx) && !ctx.path.startsWith('/console');
}

/**
 * Who the request is from. The Authorization header decides when there is one: missing
 * leaves the request anonymous; a bad one fails at once with 401, before anything is
 * looked up. Without it, the console's session cookie counts, but only together with
 * the session's CSRF token in X-CSRF-Token: a cross-site page can make the browser send
 * the cookie (it never will, being SameSite=Strict) but can never read the token.
 */
export async function readPrincipal(ctx: Context, deps: AuthDeps): Promise<Principal | undefined> {
  const header = authorizationHeader(ctx);
  const principal =
    header === undefined && isConsoleRequest(ctx)
      ? await consolePrincipal(ctx, deps)
      : await deps.authenticator.authenticate(header, ctx.ip);
  (ctx.state as AuthState).principal = principal;
  return principal;
}

/**
 * readPrincipal's answer when it takes no work, without a promise (the redirect's hot
 * path): anonymous (no Authorization header, not the console's call) or a header
 * verified recently. null: anything else, for readPrincipal to decide.
 */
export function knownPrincipal(ctx: Context, deps: AuthDeps): Principal | undefined | null {
  const header = ctx.req.headers.authorization;
  if (header === undefined) return isConsoleRequest(ctx) ? null : undefined;
  if (!hasOneAuthorization(ctx)) return null;
  const principal = deps.authenticator.cached(header);
  if (!principal) return null;
  (ctx.state as AuthState).principal = principal;
  return principal;
}

async function consolePrincipal(ctx: Context, deps: AuthDeps): Promise<Principal> {
  const sessionId = ctx.cookies.get(SESSION_COOKIE);
  const session = sessionId === undefined ? undefined : await deps.findSession(sessionId);
  if (!session || !tokensEqual(session.csrfToken, ctx.get(CSRF_HEADER))) {
    throw new InvalidCredentials('the console session has ended; sign in again');
  }
  return { accountSid: session.accountSid, type: 'auth_token', credentialSid: session.accountSid };
}

function tokensEqual(a: string, b: string): boolean {
  return digestsEqual(hashSecret(a), hashSecret(b));
}

/**
 * The Authorization header as sent: an empty one is a malformed one (401), not an
 * absent one; and since Node keeps only the first of repeated Authorization headers,
 * a request carrying several is refused rather than judged by the first.
 */
function authorizationHeader(ctx: Context): string | undefined {
  const value = ctx.req.headers.authorization;
  if (value === undefined) return undefined;
  if (!hasOneAuthorization(ctx)) throw new InvalidCredentials('send one Authorization header, not several');
  return value;
}

function hasOneAuthorization(ctx: Context): boolean {
  const raw = ctx.req.rawHeaders;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 13 && raw[i]!.toLowerCase() === 'authorization') count++;
  return count <= 1;
}

/** Router middleware for every /v1/accounts route. */
export function authenticate(deps: AuthDeps) {
  return async function authenticateRequest(ctx: Context, next: Next): Promise<void> {
    await readPrincipal(ctx, deps);
    await next();
  };
}

/** The media API: any credential of the account. */
export function requireSameAccount(ctx: Context, next: Next): Promise<void> {
  const { principal } = ctx.state as AuthState;
  if (!principal) throw new InvalidCredentials();
  assertSameAccount(principal, ctx.params.accountSid as string);
  return next();
}

/** Settings and credentials: the account's auth token only. */
export function requireAccountOwner(ctx: Context, next: Next): Promise<void> {
  const { principal } = ctx.state as AuthState;
  if (!principal) throw new InvalidCredentials();
  assertSameAccount(principal, ctx.params.accountSid as string);
  assertAccountOwner(principal);
  return next();
}

export function principalOf(ctx: Context): Principal | undefined {
  return (ctx.state as AuthState).principal;
}
