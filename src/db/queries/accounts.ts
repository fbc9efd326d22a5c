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
