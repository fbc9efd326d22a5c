import type { Context, Next } from 'koa';
import {
  assertAccountOwner,
  assertSameAccount,
  type Authenticator,
  type Principal,
} from '../domain/credentials.js';
import { InvalidCredentials } from '../domain/errors.js';

interface AuthState {
  principal?: Principal | undefined;
}

/**
 * Who the request's Authorization header names. A missing header leaves the request
 * anonymous; a bad one fails at once with 401, before anything is looked up.
 */
export async function readPrincipal(ctx: Context, authenticator: Authenticator): Promise<Principal | undefined> {
  const principal = await authenticator.authenticate(authorizationHeader(ctx), ctx.ip);
  (ctx.state as AuthState).principal = principal;
  return principal;
}

/**
 * The Authorization header as sent: an empty one is a malformed one (401), not an
 * absent one; and since Node keeps only the first of repeated Authorization headers,
 * a request carrying several is refused rather than judged by the first.
 */
function authorizationHeader(ctx: Context): string | undefined {
  const value = ctx.req.headers.authorization;
  if (value === undefined) return undefined;
  const raw = ctx.req.rawHeaders;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 13 && raw[i]!.toLowerCase() === 'authorization') count++;
  if (count > 1) throw new InvalidCredentials('send one Authorization header, not several');
  return value;
}

/** Router middleware for every /v1/accounts route. */
export function authenticate(authenticator: Authenticator) {
  return async function authenticateRequest(ctx: Context, next: Next): Promise<void> {
    await readPrincipal(ctx, authenticator);
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
