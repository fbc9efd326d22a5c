import type { Queryable } from '../pool.js';

export interface EventRow {
  id: string;
  type: string;
  detail: Record<string, unknown>;
  created_at: Date;
}

export async function insertEvent(
  db: Queryable,
  accountSid: string,
  type: string,
  detail: Record<string, unknown> = {},
): Promise<void> {
  await db.query({
    name: 'event-insert',
    text: 'INSERT INTO account_events (account_sid, type, detail) VALUES ($1, $2, $3)',
    values: [accountSid, type, JSON.stringify(detail)],
  });
}

export async function listEvents(db: Queryable, accountSid: string, beforeId: string | null, limit: number): Promise<EventRow[]> {
  const { rows } = await db.query<EventRow>({
    name: 'event-list',
    // Ordered by the bigint column, not by its text rendering ("9" > "16" as text).
    text: `SELECT e.id::text AS id, e.type, e.detail, e.created_at FROM account_events e
            WHERE e.account_sid = $1 AND ($2::bigint IS NULL OR e.id < $2::bigint)
            ORDER BY e.id DESC LIMIT $3`,
    values: [accountSid, beforeId, limit],
  });
  return rows;
}
