import type { Queryable } from '../pool.js';
import { MEDIA_COLUMNS, type MediaRow } from './media.js';

export interface UploadRow {
  upload_id: string;
  account_sid: string;
  media_sid: string;
  object_key: string;
  kind: string;
  content_type: string;
  size_bytes: number;
  filename: string | null;
  sha256: string | null;
  application_id: string | null;
  url_expires_at: Date;
  completed_at: Date | null;
  created_at: Date;
}

const COLUMNS = `upload_id, account_sid, media_sid, object_key, kind, content_type, size_bytes, filename, sha256,
  application_id, url_expires_at, completed_at, created_at`;

/** Inserts the upload and its `upload.started` event, in one statement. */
export async function insertUpload(db: Queryable, u: Omit<UploadRow, 'completed_at' | 'created_at'>, event: Record<string, unknown>): Promise<void> {
  await db.query({
    name: 'upload-insert',
    text: `WITH upload AS (
             INSERT INTO uploads (upload_id, account_sid, media_sid, object_key, kind, content_type, size_bytes, filename, sha256,
               application_id, url_expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING account_sid)
           INSERT INTO account_events (account_sid, type, detail) SELECT account_sid, 'upload.started', $12 FROM upload`,
    values: [u.upload_id, u.account_sid, u.media_sid, u.object_key, u.kind, u.content_type, u.size_bytes, u.filename, u.sha256, u.application_id, u.url_expires_at, JSON.stringify(event)],
  });
}

export async function findUpload(db: Queryable, accountSid: string, uploadId: string): Promise<UploadRow | undefined> {
  const { rows } = await db.query<UploadRow>({
    name: 'upload-find',
    text: `SELECT ${COLUMNS} FROM uploads WHERE account_sid = $1 AND upload_id = $2`,
    values: [accountSid, uploadId],
  });
  return rows[0];
}

/**
 * Completes the upload, creates its media and writes the `upload.completed` event, in one
 * statement; undefined when another completion came first (or gc removed the upload). The
 * row lock of the UPDATE makes a second completion wait and then find it completed; the
 * media's requires_auth is read from the switch FOR SHARE, as `insertMedia` does: nothing
 * is created public after the switch that protects it committed.
 */
export async function completeUpload(db: Queryable, accountSid: string, uploadId: string, storedSha256: string | null): Promise<MediaRow | undefined> {
  const { rows } = await db.query<MediaRow>({
    name: 'upload-complete',
    text: `WITH upload AS (
             UPDATE uploads u SET completed_at = now()
              WHERE u.account_sid = $1 AND u.upload_id = $2 AND u.completed_at IS NULL
                AND EXISTS (SELECT 1 FROM media_protection p WHERE p.account_sid = u.account_sid AND p.kind = u.kind)
             RETURNING u.media_sid, u.account_sid, u.kind, u.content_type, u.size_bytes, u.sha256, u.filename, u.object_key, u.application_id
           ), created AS (
             INSERT INTO media AS m (sid, account_sid, kind, content_type, size_bytes, sha256, filename, object_key,
               requires_auth, application_id)
             SELECT u.media_sid, u.account_sid, u.kind, u.content_type, u.size_bytes, coalesce(u.sha256, $3), u.filename, u.object_key,
                    p.enabled, u.application_id
               FROM upload u JOIN media_protection p ON p.account_sid = u.account_sid AND p.kind = u.kind
                FOR SHARE OF p
             RETURNING ${MEDIA_COLUMNS}
           ), event AS (
             INSERT INTO account_events (account_sid, type, detail)
             SELECT account_sid, 'upload.completed', jsonb_build_object('upload_id', $2::text, 'media_sid', sid, 'requires_auth', requires_auth)
               FROM created
           )
           SELECT * FROM created`,
    values: [accountSid, uploadId, storedSha256],
  });
  return rows[0];
}

/** Uploads never completed whose URL expired before `before`: gc removes them with their objects. */
export async function expiredUploads(db: Queryable, before: Date): Promise<string[]> {
  const { rows } = await db.query<{ upload_id: string }>({
    name: 'upload-expired',
    text: 'SELECT upload_id FROM uploads WHERE completed_at IS NULL AND url_expires_at < $1',
    values: [before],
  });
  return rows.map((r) => r.upload_id);
}

/**
 * Deletes an upload if it is still not completed (waiting for a completion under way,
 * which holds its row); returns its object's key, or undefined.
 */
export async function deleteUncompletedUpload(db: Queryable, uploadId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ object_key: string }>({
    name: 'upload-delete-uncompleted',
    text: 'DELETE FROM uploads WHERE upload_id = $1 AND completed_at IS NULL RETURNING object_key',
    values: [uploadId],
  });
  return rows[0]?.object_key;
}

/** Object keys of uploads whose URL may still be used (not completed, not expired at `now`): gc leaves them. */
export async function pendingUploadKeys(db: Queryable, now: Date): Promise<string[]> {
  const { rows } = await db.query<{ object_key: string }>({
    name: 'upload-pending-keys',
    text: 'SELECT object_key FROM uploads WHERE completed_at IS NULL AND url_expires_at >= $1',
    values: [now],
  });
  return rows.map((r) => r.object_key);
}

/** Forgets completed uploads older than `completedBefore` (completing again then answers 404). */
export async function deleteCompletedUploads(db: Queryable, completedBefore: Date): Promise<number> {
  const { rowCount } = await db.query({
    name: 'upload-delete-completed',
    text: 'DELETE FROM uploads WHERE completed_at < $1',
    values: [completedBefore],
  });
  return rowCount ?? 0;
}
