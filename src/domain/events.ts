import type { Db } from '../db/pool.js';
import { listEvents } from '../db/queries/events.js';

/** A credential or setting change, as the account's owner sees it. */
export interface AccountEvent {
  id: string;
  type: string;
  /** what changed (never a secret) */
  detail: Record<string, unknown>;
  createdAt: Date;
}

/** The account's credential and setting changes, newest first; the token is the last id seen. */
export async function listAccountEvents(
  db: Db,
  accountSid: string,
  pageSize: number,
  pageToken: string | undefined,
): Promise<{ events: AccountEvent[]; nextPageToken: string | null }> {
  // One row more than asked tells whether another page exists.
  const rows = await listEvents(db, accountSid, pageToken ?? null, pageSize + 1);
  const events = rows.slice(0, pageSize).map((r) => ({ id: r.id, type: r.type, detail: r.detail, createdAt: r.created_at }));
  return { events, nextPageToken: rows.length > pageSize ? events[events.length - 1]!.id : null };
}
