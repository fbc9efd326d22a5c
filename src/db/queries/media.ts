import type { Queryable } from '../pool.js';

export interface MediaRow {
  sid: string;
  account_sid: string;
  kind: string;
  content_type: string;
  size_bytes: number;
  sha256: string | null;
  filename: string | null;
  object_key: string;
  requires_auth: boolean;
  application_id: string | null;
  created_at: Date;
}

export const MEDIA_COLUMNS = `m.sid, m.account_sid, m.kind, m.content_type, m.size_bytes, m.sha256, m.filename,
  m.object_key, m.requires_auth, m.application_id, m.created_at`;

// Media past its account's retention is gone for readers even before the sweep runs.
const NOT_EXPIRED = `(a.retention_days IS NULL OR m.created_at > now() - make_interval(days => a.retention_days))`;

export interface NewMedia {
  sid: string;
  accountSid: string;
  kind: string;
  contentType: string;
  sizeBytes: number;
  sha256: string | null;
  filename: string | null;
  objectKey: string;
  applicationId: string | null;
}

/**
 * Inserts the row with requires_auth stamped from the switch's committed state. FOR
 * SHARE makes the insert wait for a concurrent PATCH of that switch and then read its
 * new value, so nothing is created public after the switch that protects it committed.
 * No row comes back when the account no longer exists.
 */
export async function insertMedia(db: Queryable, m: NewMedia): Promise<MediaRow | undefined> {
  const { rows } = await db.query<MediaRow>({
    name: 'media-insert',
    text: `INSERT INTO media AS m (sid, account_sid, kind, content_type, size_bytes, sha256, filename, object_key,
             requires_auth, application_id)
           SELECT $1, $2, $3, $4, $5, $6, $7, $8, p.enabled, $9
             FROM media_protection p
            WHERE p.account_sid = $2 AND p.kind = $3
              FOR SHARE
           RETURNING ${MEDIA_COLUMNS}`,
    values: [m.sid, m.accountSid, m.kind, m.contentType, m.sizeBytes, m.sha256, m.filename, m.objectKey, m.applicationId],
  });
  return rows[0];
}

export interface FoundMediaRow extends MediaRow {
  retention_days: number | null;
}

export async function findMedia(db: Queryable, accountSid: string, mediaSid: string): Promise<FoundMediaRow | undefined> {
  const { rows } = await db.query<FoundMediaRow>({
    name: 'media-find',
    text: `SELECT ${MEDIA_COLUMNS}, a.retention_days FROM media m JOIN accounts a ON a.sid = m.account_sid
            WHERE m.sid = $1 AND m.account_sid = $2 AND ${NOT_EXPIRED}`,
    values: [mediaSid, accountSid],
  });
  return rows[0];
}

/** Where a page ended (domain/paging.ts): the last row's created_at and sid. */
export interface ListCursor {
  createdAt: string;
  id: string;
}

export interface ListedMediaRow extends MediaRow {
  cursor_created_at: string;
}

// Keyset pagination on (created_at, sid), newest first: each page is one index range
// scan however deep the client pages. The cursor keeps created_at to the microsecond.
const LIST_SELECT = `SELECT ${MEDIA_COLUMNS},
    to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_created_at
  FROM media m JOIN accounts a ON a.sid = m.account_sid`;

export async function listMedia(
  db: Queryable,
  accountSid: string,
  kind: string | undefined,
  after: ListCursor | undefined,
  limit: number,
  applicationId?: string | undefined,
): Promise<ListedMediaRow[]> {
  const values: unknown[] = [accountSid, after?.createdAt ?? null, after?.id ?? null, limit, applicationId ?? null];
  const cursor = `($2::timestamptz IS NULL OR (m.created_at, m.sid) < ($2::timestamptz, $3::text))`;
  const application = `($5::uuid IS NULL OR m.application_id IS NULL OR m.application_id = $5::uuid)`;
  const text =
    kind === undefined
      ? `${LIST_SELECT} WHERE m.account_sid = $1 AND ${cursor} AND ${application} AND ${NOT_EXPIRED}
           ORDER BY m.created_at DESC, m.sid DESC LIMIT $4`
      : `${LIST_SELECT} WHERE m.account_sid = $1 AND m.kind = $6 AND ${cursor} AND ${application} AND ${NOT_EXPIRED}
           ORDER BY m.created_at DESC, m.sid DESC LIMIT $4`;
  if (kind !== undefined) values.push(kind);
  const { rows } = await db.query<ListedMediaRow>({ name: kind ? 'media-list-kind' : 'media-list', text, values });
  return rows;
}

/** Deletes and returns the row, locked until the caller's transaction ends. */
export async function deleteMedia(db: Queryable, accountSid: string, mediaSid: string): Promise<MediaRow | undefined> {
  const { rows } = await db.query<MediaRow>({
    name: 'media-delete',
    text: `DELETE FROM media m USING accounts a
            WHERE a.sid = m.account_sid AND m.sid = $1 AND m.account_sid = $2 AND ${NOT_EXPIRED}
           RETURNING ${MEDIA_COLUMNS}`,
    values: [mediaSid, accountSid],
  });
  return rows[0];
}

export async function protectExistingMedia(db: Queryable, accountSid: string, kind: string): Promise<number> {
  const { rowCount } = await db.query({
    name: 'media-protect-existing',
    text: `UPDATE media SET requires_auth = true WHERE account_sid = $1 AND kind = $2 AND NOT requires_auth`,
    values: [accountSid, kind],
  });
  return rowCount ?? 0;
}
