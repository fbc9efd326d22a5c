import type { Queryable } from '../pool.js';

/** A page of object keys in byte order (COLLATE "C", as S3 lists keys), after `after`. */
export async function objectKeysAfter(db: Queryable, after: string, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ object_key: string }>({
    name: 'media-object-keys-after',
    text: `SELECT object_key FROM media WHERE object_key COLLATE "C" > $1 COLLATE "C"
            ORDER BY object_key COLLATE "C" LIMIT $2`,
    values: [after, limit],
  });
  return rows.map((r) => r.object_key);
}

export async function accountsWithRetention(db: Queryable): Promise<{ sid: string; retention_days: number }[]> {
  const { rows } = await db.query<{ sid: string; retention_days: number }>({
    name: 'accounts-with-retention',
    text: 'SELECT sid, retention_days FROM accounts WHERE retention_days IS NOT NULL ORDER BY sid',
  });
  return rows;
}

/**
 * Locks a batch of the account's expired media (SKIP LOCKED: concurrent sweepers on
 * several hosts take different rows) for the caller's transaction to delete.
 */
export async function lockExpiredMedia(db: Queryable, accountSid: string, limit: number): Promise<{ sid: string; object_key: string }[]> {
  // Retention is read here, in the same statement, not from an earlier list: an owner
  // who lengthens or clears it while a sweep runs is obeyed at once.
  const { rows } = await db.query<{ sid: string; object_key: string }>({
    name: 'media-lock-expired',
    text: `SELECT m.sid, m.object_key FROM media m JOIN accounts a ON a.sid = m.account_sid
            WHERE m.account_sid = $1 AND a.retention_days IS NOT NULL
              AND m.created_at <= now() - make_interval(days => a.retention_days)
            ORDER BY m.created_at LIMIT $2
              FOR UPDATE OF m SKIP LOCKED`,
    values: [accountSid, limit],
  });
  return rows;
}

export async function deleteMediaBySids(db: Queryable, sids: string[]): Promise<number> {
  const { rowCount } = await db.query({
    name: 'media-delete-by-sids',
    text: 'DELETE FROM media WHERE sid = ANY($1::text[])',
    values: [sids],
  });
  return rowCount ?? 0;
}

/** Takes the session advisory lock if no other session holds it; false otherwise. */
export async function tryAdvisoryLock(db: Queryable, key: number): Promise<boolean> {
  const { rows } = await db.query<{ locked: boolean }>({
    name: 'advisory-try-lock',
    text: 'SELECT pg_try_advisory_lock($1) AS locked',
    values: [key],
  });
  return rows[0]?.locked === true;
}

export async function advisoryUnlock(db: Queryable, key: number): Promise<void> {
  await db.query({ name: 'advisory-unlock', text: 'SELECT pg_advisory_unlock($1)', values: [key] });
}
