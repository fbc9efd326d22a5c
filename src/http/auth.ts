import type { Context } from 'koa';
import { assertSameAccount } from '../domain/access.js';
import type { ConsoleSession } from '../domain/console-sessions.js';
import { assertAccountOwner, type Authenticator, type Principal } from '../domain/credentials.js';
import { InvalidCredentials } from '../domain/errors.js';
import { digestsEqual, hashSecret } from '../domain/secrets.js';
import { WWW_AUTHENTICATE } from './errors.js';

interface AuthState {
  principal?: Principal | undefined;
}

export const SESSION_COOKIE = 'mediagate_session';
export const CSRF_HEADER = 'X-CSRF-Token';

/**
 * The session cookie's name. Over https it takes the `__Host-` prefix: a browser then
 * keeps it only if Secure, with Path=/ and no Domain, so neither a sibling subdomain nor
 * a plain-http page can plant or shadow it (RFC 6265bis). Over http it cannot.
 */
export function sessionCookieName(secure: boolean): string {
  return secure ? `__Host-${SESSION_COOKIE}` : SESSION_COOKIE;
}

export interface AuthDeps {
  authenticator: Authenticator;
  /** sessionCookieName() of this deployment */
  sessionCookie: string;
  /** the console session a cookie names, while valid */
  findSession(sessionId: string): Promise<ConsoleSession | undefined>;
}

/** Whether the request comes from the console's page (which sends its CSRF token on every call). */
export function isConsoleRequest(ctx: Context): boolean {
  return ctx.get(CSRF_HEADER) !== '';
}

/**
 * The Basic challenge of a 401, for HTTP clients (curl, requests, Java's Authenticator
 * send credentials only after one). Never for the console's own calls: it makes a
 * browser prompt for, and then cache, Basic credentials for the origin.
 */
export function basicChallenge(ctx: Context): string | undefined {
  return isConsoleRequest(ctx) ? undefined : WWW_AUTHENTICATE;
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

/** A route's requirement of who may call it, checked against the path's account. */
export async function authorize(ctx: Context, auth: 'account' | 'owner', deps: AuthDeps, accountSid: string | undefined): Promise<Principal> {
  const principal = await readPrincipal(ctx, deps);
  if (!principal) throw new InvalidCredentials();
  assertSameAccount(principal, accountSid ?? '');
  if (auth === 'owner') assertAccountOwner(principal);
  return principal;
}

async function consolePrincipal(ctx: Context, deps: AuthDeps): Promise<Principal> {
  const sessionId = ctx.cookies.get(deps.sessionCookie);
  const session = sessionId === undefined ? undefined : await deps.findSession(sessionId);
  if (!session || !tokensEqual(session.csrfToken, ctx.get(CSRF_HEADER))) {
    throw new InvalidCredentials('the console session has ended; sign in again');
  }
  return { accountSid: session.accountSid, type: 'auth_token', credentialSid: session.accountSid };
}

export function tokensEqual(a: string, b: string): boolean {
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

export function principalOf(ctx: Context): Principal | undefined {
  return (ctx.state as AuthState).principal;
}
