import type { Context, Next } from 'koa';
import {
  assertAccountOwner,
  assertSameAccount,
  type Authenticator,
  type Principal,
} from '../domain/credentials.js';
import { InvalidCredentials } from '../domain/errors.js';

export interface AuthState {
  principal?: Principal | undefined;
  authenticated?: boolean;
}

/**
 * Reads the Authorization header, once per request. A missing header leaves the request
 * anonymous; a bad one fails at once with 401, before anything is looked up.
 */
export async function authenticateOnce(ctx: Context, authenticator: Authenticator): Promise<Principal | undefined> {
  const state = ctx.state as AuthState;
  if (!state.authenticated) {
    state.principal = await authenticator.authenticate(ctx.get('Authorization') || undefined, ctx.ip);
    state.authenticated = true;
  }
  return state.principal;
}

/** Router middleware for every /v1/accounts route. */
export function authenticate(authenticator: Authenticator) {
  return async function authenticateRequest(ctx: Context, next: Next): Promise<void> {
    await authenticateOnce(ctx, authenticator);
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
