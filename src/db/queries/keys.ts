import type { Queryable } from '../pool.js';

export interface ApiKeyRow {
  sid: string;
  account_sid: string;
  name: string;
  created_at: Date;
}

export async function insertApiKey(db: Queryable, sid: string, accountSid: string, name: string, secretHash: Buffer): Promise<ApiKeyRow> {
  const { rows } = await db.query<ApiKeyRow>({
    name: 'api-key-insert',
    text: `INSERT INTO api_keys (sid, account_sid, name, secret_hash) VALUES ($1, $2, $3, $4)
           RETURNING sid, account_sid, name, created_at`,
    values: [sid, accountSid, name, secretHash],
  });
  return rows[0]!;
}

export async function findApiKeySecret(db: Queryable, sid: string): Promise<{ account_sid: string; secret_hash: Buffer } | undefined> {
  const { rows } = await db.query<{ account_sid: string; secret_hash: Buffer }>({
    name: 'api-key-find-secret',
    text: 'SELECT account_sid, secret_hash FROM api_keys WHERE sid = $1',
    values: [sid],
  });
  return rows[0];
}

/** The account's keys, newest first, after a cursor (domain/paging.ts). */
export async function listApiKeys(
  db: Queryable,
  accountSid: string,
  after: { createdAt: string; id: string } | undefined,
  limit: number,
): Promise<(ApiKeyRow & { cursor_created_at: string })[]> {
  const { rows } = await db.query<ApiKeyRow & { cursor_created_at: string }>({
    name: 'api-key-list',
    text: `SELECT sid, account_sid, name, created_at,
                  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_created_at
             FROM api_keys
            WHERE account_sid = $1 AND ($2::timestamptz IS NULL OR (created_at, sid) < ($2::timestamptz, $3::text))
            ORDER BY created_at DESC, sid DESC LIMIT $4`,
    values: [accountSid, after?.createdAt ?? null, after?.id ?? null, limit],
  });
  return rows;
}

export async function countApiKeys(db: Queryable, accountSid: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>({ name: 'api-key-count', text: 'SELECT count(*)::int AS n FROM api_keys WHERE account_sid = $1', values: [accountSid] });
  return rows[0]!.n;
}

export async function deleteApiKey(db: Queryable, accountSid: string, sid: string): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'api-key-delete',
    text: 'DELETE FROM api_keys WHERE account_sid = $1 AND sid = $2',
    values: [accountSid, sid],
  });
  return (rowCount ?? 0) > 0;
}
