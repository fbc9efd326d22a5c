import type { Queryable } from '../pool.js';
import type { TokenSlot } from './accounts.js';

export interface ConsoleSessionRow {
  account_sid: string;
  csrf_token: string;
  expires_at: Date;
}

export async function insertConsoleSession(
  db: Queryable,
  session: { idHash: Buffer; accountSid: string; tokenSlot: TokenSlot; csrfToken: string; expiresAt: Date },
): Promise<void> {
  await db.query({
    name: 'console-session-insert',
    text: `INSERT INTO console_sessions (id_hash, account_sid, token_slot, csrf_token, expires_at) VALUES ($1, $2, $3, $4, $5)`,
    values: [session.idHash, session.accountSid, session.tokenSlot, session.csrfToken, session.expiresAt],
  });
}

/** Ends the account's sessions past the newest `keep` (the oldest end first), and its expired ones. */
export async function deleteSessionsBeyond(db: Queryable, accountSid: string, keep: number, now: Date): Promise<void> {
  await db.query({
    name: 'console-session-delete-beyond',
    text: `DELETE FROM console_sessions
            WHERE account_sid = $1
              AND (expires_at <= $3 OR id_hash IN (SELECT id_hash FROM console_sessions WHERE account_sid = $1
                                                   ORDER BY created_at DESC, id_hash OFFSET $2))`,
    values: [accountSid, keep, now],
  });
}

/** Removes every expired session (the sweep): a session row outlives its use only until then. */
export async function deleteExpiredConsoleSessions(db: Queryable): Promise<number> {
  const { rowCount } = await db.query({ name: 'console-session-delete-expired', text: 'DELETE FROM console_sessions WHERE expires_at <= now()' });
  return rowCount ?? 0;
}

/** The session, if it exists and has not expired at `now`. */
export async function findConsoleSession(db: Queryable, idHash: Buffer, now: Date): Promise<ConsoleSessionRow | undefined> {
  const { rows } = await db.query<ConsoleSessionRow>({
    name: 'console-session-find',
    text: 'SELECT account_sid, csrf_token, expires_at FROM console_sessions WHERE id_hash = $1 AND expires_at > $2',
    values: [idHash, now],
  });
  return rows[0];
}

export async function deleteConsoleSession(db: Queryable, idHash: Buffer): Promise<void> {
  await db.query({ name: 'console-session-delete', text: 'DELETE FROM console_sessions WHERE id_hash = $1', values: [idHash] });
}

/** Ends the account's sessions, or only those a given token slot opened; also drops expired ones. */
export async function deleteAccountConsoleSessions(db: Queryable, accountSid: string, tokenSlot?: TokenSlot): Promise<void> {
  await db.query({
    name: 'console-session-delete-account',
    text: `DELETE FROM console_sessions
           WHERE (account_sid = $1 AND ($2::text IS NULL OR token_slot = $2)) OR expires_at < now()`,
    values: [accountSid, tokenSlot ?? null],
  });
}
