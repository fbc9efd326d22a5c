import type { Queryable } from '../pool.js';

export type TokenSlot = 'primary' | 'secondary';

/** The account with a protection switch (off) for each of `kinds`. */
export async function insertAccount(db: Queryable, sid: string, name: string, kinds: readonly string[]): Promise<void> {
  await db.query({ name: 'account-insert', text: 'INSERT INTO accounts (sid, name) VALUES ($1, $2)', values: [sid, name] });
  await db.query({
    name: 'protection-insert-all',
    text: 'INSERT INTO media_protection (account_sid, kind) SELECT $1, unnest($2::text[])',
    values: [sid, kinds],
  });
}

export async function countAccounts(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>({ name: 'account-count', text: 'SELECT count(*)::int AS n FROM accounts' });
  return rows[0]?.n ?? 0;
}

export async function upsertAuthToken(db: Queryable, accountSid: string, slot: TokenSlot, tokenHash: Buffer): Promise<void> {
  await db.query({
    name: 'auth-token-upsert',
    text: `INSERT INTO auth_tokens (account_sid, slot, token_hash) VALUES ($1, $2, $3)
           ON CONFLICT (account_sid, slot) DO UPDATE SET token_hash = EXCLUDED.token_hash, created_at = now()`,
    values: [accountSid, slot, tokenHash],
  });
}

export async function findAuthTokens(db: Queryable, accountSid: string): Promise<{ slot: TokenSlot; token_hash: Buffer }[]> {
  const { rows } = await db.query<{ slot: TokenSlot; token_hash: Buffer }>({
    name: 'auth-token-find',
    text: 'SELECT slot, token_hash FROM auth_tokens WHERE account_sid = $1',
    values: [accountSid],
  });
  return rows;
}

/** Moves the secondary token into the primary slot; false when there is no secondary. */
export async function promoteSecondaryToken(db: Queryable, accountSid: string): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'auth-token-promote',
    text: `WITH promoted AS (
             DELETE FROM auth_tokens WHERE account_sid = $1 AND slot = 'secondary' RETURNING token_hash
           )
           UPDATE auth_tokens t SET token_hash = promoted.token_hash, created_at = now()
             FROM promoted WHERE t.account_sid = $1 AND t.slot = 'primary'`,
    values: [accountSid],
  });
  return (rowCount ?? 0) > 0;
}

export async function deleteSecondaryToken(db: Queryable, accountSid: string): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'auth-token-delete-secondary',
    text: `DELETE FROM auth_tokens WHERE account_sid = $1 AND slot = 'secondary'`,
    values: [accountSid],
  });
  return (rowCount ?? 0) > 0;
}

export async function findRetentionDays(db: Queryable, accountSid: string): Promise<number | null | undefined> {
  const { rows } = await db.query<{ retention_days: number | null }>({
    name: 'account-retention-find',
    text: 'SELECT retention_days FROM accounts WHERE sid = $1',
    values: [accountSid],
  });
  return rows[0]?.retention_days;
}

export async function updateRetentionDays(db: Queryable, accountSid: string, days: number | null): Promise<void> {
  await db.query({
    name: 'account-retention-update',
    text: 'UPDATE accounts SET retention_days = $2 WHERE sid = $1',
    values: [accountSid, days],
  });
}

export interface ListedAccountRow {
  sid: string;
  name: string;
  created_at: Date;
  retention_days: number | null;
  media: number;
  api_keys: number;
  applications: number;
}

/**
 * A page of accounts in sid order after `afterSid` (keyset on the primary key: each page
 * is one index range scan however many accounts there are), with counts read through
 * each table's account index.
 */
export async function listAccountsAfter(db: Queryable, afterSid: string, limit: number): Promise<ListedAccountRow[]> {
  const { rows } = await db.query<ListedAccountRow>({
    name: 'account-list-after',
    text: `SELECT a.sid, a.name, a.created_at, a.retention_days,
                  (SELECT count(*) FROM media m WHERE m.account_sid = a.sid)::int AS media,
                  (SELECT count(*) FROM api_keys k WHERE k.account_sid = a.sid)::int AS api_keys,
                  (SELECT count(*) FROM applications p WHERE p.account_sid = a.sid)::int AS applications
             FROM accounts a
            WHERE a.sid > $1
            ORDER BY a.sid
            LIMIT $2`,
    values: [afterSid, limit],
  });
  return rows;
}

export interface AccountContents {
  name: string;
  media: number;
  uploads_in_progress: number;
  auth_tokens: number;
  api_keys: number;
  applications: number;
  share_links: number;
  console_sessions: number;
  events: number;
}

/** What deleting the account would delete (undefined: no such account). */
export async function findAccountContents(db: Queryable, accountSid: string): Promise<AccountContents | undefined> {
  const { rows } = await db.query<AccountContents>({
    name: 'account-contents',
    text: `SELECT a.name,
                  (SELECT count(*) FROM media WHERE account_sid = a.sid)::int AS media,
                  (SELECT count(*) FROM uploads WHERE account_sid = a.sid AND completed_at IS NULL)::int AS uploads_in_progress,
                  (SELECT count(*) FROM auth_tokens WHERE account_sid = a.sid)::int AS auth_tokens,
                  (SELECT count(*) FROM api_keys WHERE account_sid = a.sid)::int AS api_keys,
                  (SELECT count(*) FROM applications WHERE account_sid = a.sid)::int AS applications,
                  (SELECT count(*) FROM share_links WHERE account_sid = a.sid)::int AS share_links,
                  (SELECT count(*) FROM console_sessions WHERE account_sid = a.sid)::int AS console_sessions,
                  (SELECT count(*) FROM account_events WHERE account_sid = a.sid)::int AS events
             FROM accounts a WHERE a.sid = $1`,
    values: [accountSid],
  });
  return rows[0];
}

/**
 * Locks what an upload finishing right now would lock, in the order it locks them: the
 * account's uploads in progress (a completion holds its upload's row), the protection
 * switches (an insert of media reads its switch FOR SHARE), then the account row (the
 * insert's foreign key check). The same order on both sides: they wait for each other
 * instead of deadlocking. False when there is no such account.
 */
export async function lockAccountForDeletion(db: Queryable, accountSid: string): Promise<boolean> {
  await db.query({
    name: 'account-delete-lock-uploads',
    text: 'SELECT 1 FROM uploads WHERE account_sid = $1 AND completed_at IS NULL FOR UPDATE',
    values: [accountSid],
  });
  await db.query({
    name: 'account-delete-lock-switches',
    text: 'SELECT 1 FROM media_protection WHERE account_sid = $1 FOR UPDATE',
    values: [accountSid],
  });
  const { rowCount } = await db.query({
    name: 'account-delete-lock-account',
    text: 'SELECT 1 FROM accounts WHERE sid = $1 FOR UPDATE',
    values: [accountSid],
  });
  return rowCount === 1;
}

export interface RevokedAccess {
  auth_tokens: number;
  api_keys: number;
  applications: number;
  share_links: number;
  console_sessions: number;
}

/**
 * Deletes every credential of the account (auth tokens, API keys, applications, console
 * sessions) and its share links, and turns every protection switch on, so that an upload
 * finishing afterwards cannot create public media. One statement: all of it or none.
 * Returns the account's name with the counts; undefined when there is no such account.
 * (The account row is not locked: an upload holding its switch and waiting for the row
 * would deadlock with this statement.)
 */
export async function revokeAccountAccess(db: Queryable, accountSid: string): Promise<({ name: string } & RevokedAccess) | undefined> {
  const { rows } = await db.query<{ name: string } & RevokedAccess>({
    name: 'account-revoke-access',
    text: `WITH tokens AS (DELETE FROM auth_tokens WHERE account_sid = $1 RETURNING 1),
                keys AS (DELETE FROM api_keys WHERE account_sid = $1 RETURNING 1),
                apps AS (DELETE FROM applications WHERE account_sid = $1 RETURNING 1),
                links AS (DELETE FROM share_links WHERE account_sid = $1 RETURNING 1),
                sessions AS (DELETE FROM console_sessions WHERE account_sid = $1 RETURNING 1),
                -- runs though nothing reads it (PostgreSQL runs every data-modifying WITH)
                switches AS (UPDATE media_protection SET enabled = true, changed_at = now()
                              WHERE account_sid = $1 AND NOT enabled)
           SELECT a.name,
                  (SELECT count(*) FROM tokens)::int AS auth_tokens,
                  (SELECT count(*) FROM keys)::int AS api_keys,
                  (SELECT count(*) FROM apps)::int AS applications,
                  (SELECT count(*) FROM links)::int AS share_links,
                  (SELECT count(*) FROM sessions)::int AS console_sessions
             FROM accounts a WHERE a.sid = $1`,
    values: [accountSid],
  });
  return rows[0];
}

/** Where a walk through an account's media stopped: the last row's created_at (to the microsecond) and sid. */
export interface MediaCursor {
  createdAt: string;
  sid: string;
}

/**
 * Makes the next `limit` of the account's media (newest first, after `after`) require
 * credentials; returns where the page ended (undefined: no media left to walk). Keyset
 * on the account's (created_at, sid) index: rows already done are not read again.
 */
export async function protectAccountMediaPage(
  db: Queryable,
  accountSid: string,
  after: MediaCursor | undefined,
  limit: number,
): Promise<MediaCursor | undefined> {
  const { rows } = await db.query<{ cursor_created_at: string; sid: string }>({
    name: 'account-media-protect-page',
    text: `WITH page AS (
             SELECT sid, created_at FROM media
              WHERE account_sid = $1 AND (created_at, sid) < ($2::timestamptz, $3::text)
              ORDER BY created_at DESC, sid DESC
              LIMIT $4
           ), protected AS (
             UPDATE media m SET requires_auth = true FROM page WHERE m.sid = page.sid AND NOT m.requires_auth
           )
           SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_created_at, sid
             FROM page ORDER BY page.created_at, page.sid LIMIT 1`,
    // From the top: every real timestamp is before 'infinity'. (No `IS NULL OR` for the
    // first page: it would keep the row comparison from bounding the index scan.)
    values: [accountSid, after?.createdAt ?? 'infinity', after?.sid ?? '', limit],
  });
  const last = rows[0];
  return last && { createdAt: last.cursor_created_at, sid: last.sid };
}

/** A batch of the account's media, locked until the caller's transaction ends. */
export async function lockAccountMedia(db: Queryable, accountSid: string, limit: number): Promise<{ sid: string; object_key: string }[]> {
  const { rows } = await db.query<{ sid: string; object_key: string }>({
    name: 'account-media-lock',
    text: `SELECT sid, object_key FROM media WHERE account_sid = $1
            ORDER BY created_at DESC, sid DESC LIMIT $2 FOR UPDATE`,
    values: [accountSid, limit],
  });
  return rows;
}

export async function deleteAccountMedia(db: Queryable, accountSid: string, mediaSids: string[]): Promise<number> {
  const { rowCount } = await db.query({
    name: 'account-media-delete',
    text: 'DELETE FROM media WHERE account_sid = $1 AND sid = ANY($2::text[])',
    values: [accountSid, mediaSids],
  });
  return rowCount ?? 0;
}

/**
 * A batch of the account's uploads in progress (never completed), locked. The uploads
 * table has no account index: it holds only uploads of the last day or so (gc forgets
 * the rest), so a scan is small.
 */
export async function lockAccountUploads(db: Queryable, accountSid: string, limit: number): Promise<{ upload_id: string; object_key: string }[]> {
  const { rows } = await db.query<{ upload_id: string; object_key: string }>({
    name: 'account-uploads-lock',
    text: `SELECT upload_id, object_key FROM uploads WHERE account_sid = $1 AND completed_at IS NULL
            ORDER BY upload_id LIMIT $2 FOR UPDATE`,
    values: [accountSid, limit],
  });
  return rows;
}

export async function deleteAccountUploads(db: Queryable, accountSid: string, uploadIds: string[]): Promise<number> {
  const { rowCount } = await db.query({
    name: 'account-uploads-delete',
    text: 'DELETE FROM uploads WHERE account_sid = $1 AND upload_id = ANY($2::text[])',
    values: [accountSid, uploadIds],
  });
  return rowCount ?? 0;
}

/**
 * Deletes the account row; its events are counted as they go, and what is left of it
 * (settings, completed uploads, anything a foreign key names) goes by ON DELETE CASCADE.
 */
export async function deleteAccountRow(db: Queryable, accountSid: string): Promise<{ events: number }> {
  const events = await db.query({
    name: 'account-events-delete',
    text: 'DELETE FROM account_events WHERE account_sid = $1',
    values: [accountSid],
  });
  await db.query({ name: 'account-delete-row', text: 'DELETE FROM accounts WHERE sid = $1', values: [accountSid] });
  return { events: events.rowCount ?? 0 };
}
