import type { Db } from '../db/pool.js';
import { listEvents, type EventRow } from '../db/queries/events.js';

/** The account's credential and setting changes, newest first; the token is the last id seen. */
export async function listAccountEvents(
  db: Db,
  accountSid: string,
  pageSize: number,
  pageToken: string | undefined,
): Promise<{ events: EventRow[]; nextPageToken: string | null }> {
  // One row more than asked tells whether another page exists.
  const rows = await listEvents(db, accountSid, pageToken ?? null, pageSize + 1);
  const events = rows.slice(0, pageSize);
  return { events, nextPageToken: rows.length > pageSize ? events[events.length - 1]!.id : null };
}
