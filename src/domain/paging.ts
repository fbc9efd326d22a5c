import { InvalidRequest } from './errors.js';

// Lists are paged by keyset on (created_at, id), newest first: each page is one index
// range scan however deep a client pages. The token is the last row's creation time,
// to the microsecond as the database writes it, and its id, opaque to clients.

/** What a client asks of a list. */
export interface PageRequest {
  pageSize: number;
  /** the previous page's token */
  pageToken: string | undefined;
}

/** Where a page ended. */
export interface Cursor {
  /** `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC) */
  createdAt: string;
  id: string;
}

/** A row of a paged query: the database's rendering of its created_at (to_char … US) */
export interface CursorRow {
  cursor_created_at: string;
}

const TIMESTAMP = /^(\d{4})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\d{3}Z$/;

export function encodePageToken(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString('base64url');
}

/**
 * The cursor a page token names; 400 for anything else. The date must be a real one
 * (not `2026-13-45T99:99:99.000000Z`): a token is the client's to write, and the
 * database must only ever see values it accepts.
 */
export function decodePageToken(token: string, isId: (id: string) => boolean): Cursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2) {
      const [createdAt, id] = value as unknown[];
      if (typeof createdAt === 'string' && isRealTimestamp(createdAt) && typeof id === 'string' && isId(id)) return { createdAt, id };
    }
  } catch {
    // not base64url JSON: the same answer as any other bad token
  }
  throw new InvalidRequest('page_token is not valid');
}

function isRealTimestamp(value: string): boolean {
  const match = TIMESTAMP.exec(value);
  if (!match || Number(match[1]) < 1970) return false;
  const millis = value.slice(0, 23);
  const date = new Date(`${millis}Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 23) === millis;
}

/**
 * A page from a query that fetched one row more than pageSize (that row tells whether
 * another page exists), and the token of the next page.
 */
export function pageOf<R extends CursorRow>(rows: R[], pageSize: number, idOf: (row: R) => string): { page: R[]; nextPageToken: string | null } {
  const page = rows.slice(0, pageSize);
  const last = page[page.length - 1];
  return { page, nextPageToken: rows.length > pageSize && last ? encodePageToken({ createdAt: last.cursor_created_at, id: idOf(last) }) : null };
}
