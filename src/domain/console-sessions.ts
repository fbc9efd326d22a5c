import { randomBytes } from 'node:crypto';
import type { Db } from '../db/pool.js';
import { findAuthTokens } from '../db/queries/accounts.js';
import { deleteConsoleSession, deleteSessionsBeyond, findConsoleSession, insertConsoleSession } from '../db/queries/console-sessions.js';
import type { Authenticator } from './credentials.js';
import { Forbidden, InvalidCredentials } from './errors.js';
import { isSid } from './ids.js';
import { digestsEqual, hashSecret } from './secrets.js';

export interface ConsoleSession {
  accountSid: string;
  /** sent back by the page in X-CSRF-Token with every call: a cross-site page cannot read it */
  csrfToken: string;
  expiresAt: Date;
}

export interface ConsoleSessionDeps {
  db: Db;
  authenticator: Authenticator;
  clock: () => Date;
  /** how long a session lasts (CONSOLE_SESSION_SECONDS); signing out, a promotion of the
   * secondary token, or replacing or deleting the token that opened it ends it earlier */
  sessionSeconds: number;
  /** live sessions per account (CONSOLE_SESSIONS_PER_ACCOUNT): a new one past it ends the oldest */
  maxSessions: number;
}

/**
 * Exchanges the account sid and an auth token for a session. The token is checked by
 * the authenticator, so failed sign-ins count in the same throttle as failed API calls;
 * API keys and applications cannot sign in (the console manages the account).
 */
export async function openConsoleSession(
  deps: ConsoleSessionDeps,
  credentials: { accountSid: string; authToken: string },
  clientAddress: string,
): Promise<ConsoleSession & { sessionId: string }> {
  if (!isSid(credentials.accountSid, 'AC')) throw new InvalidCredentials('the account SID or auth token is wrong');
  const header = `Basic ${Buffer.from(`${credentials.accountSid}:${credentials.authToken}`).toString('base64')}`;
  let principal;
  try {
    principal = await deps.authenticator.authenticate(header, clientAddress);
  } catch (err) {
    if (err instanceof InvalidCredentials) throw new InvalidCredentials('the account SID or auth token is wrong');
    throw err;
  }
  if (principal?.type !== 'auth_token') throw new Forbidden('sign in with the account SID and its auth token');
  const presented = hashSecret(credentials.authToken);
  const slot = (await findAuthTokens(deps.db, credentials.accountSid)).find((t) => digestsEqual(presented, t.token_hash))?.slot;
  // Rotated away between the check and now.
  if (!slot) throw new InvalidCredentials('the account SID or auth token is wrong');

  const sessionId = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(24).toString('base64url');
  const expiresAt = new Date(deps.clock().getTime() + deps.sessionSeconds * 1000);
  await insertConsoleSession(deps.db, { idHash: hashSecret(sessionId), accountSid: credentials.accountSid, tokenSlot: slot, csrfToken, expiresAt });
  // After the insert: racing sign-ins each keep the newest maxSessions, never more.
  await deleteSessionsBeyond(deps.db, credentials.accountSid, deps.maxSessions, deps.clock());
  return { sessionId, accountSid: credentials.accountSid, csrfToken, expiresAt };
}

/** The session a cookie names, while it is valid. */
export async function findSession(deps: Pick<ConsoleSessionDeps, 'db' | 'clock'>, sessionId: string): Promise<ConsoleSession | undefined> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(sessionId)) return undefined;
  const row = await findConsoleSession(deps.db, hashSecret(sessionId), deps.clock());
  return row && { accountSid: row.account_sid, csrfToken: row.csrf_token, expiresAt: row.expires_at };
}

export async function closeConsoleSession(deps: Pick<ConsoleSessionDeps, 'db'>, sessionId: string): Promise<void> {
  await deleteConsoleSession(deps.db, hashSecret(sessionId));
}
