import type { Queryable } from '../pool.js';

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

export async function insertUpload(db: Queryable, u: Omit<UploadRow, 'completed_at' | 'created_at'>): Promise<UploadRow> {
  const { rows } = await db.query<UploadRow>({
    name: 'upload-insert',
    text: `INSERT INTO uploads (upload_id, account_sid, media_sid, object_key, kind, content_type, size_bytes, filename, sha256,
             application_id, url_expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${COLUMNS}`,
    values: [u.upload_id, u.account_sid, u.media_sid, u.object_key, u.kind, u.content_type, u.size_bytes, u.filename, u.sha256, u.application_id, u.url_expires_at],
  });
  return rows[0]!;
}

/** The upload, locked for the caller's transaction (one completion at a time). */
export async function lockUpload(db: Queryable, accountSid: string, uploadId: string): Promise<UploadRow | undefined> {
  const { rows } = await db.query<UploadRow>({
    name: 'upload-lock',
    text: `SELECT ${COLUMNS} FROM uploads WHERE account_sid = $1 AND upload_id = $2 FOR UPDATE`,
    values: [accountSid, uploadId],
  });
  return rows[0];
}

export async function markUploadCompleted(db: Queryable, uploadId: string): Promise<void> {
  await db.query({ name: 'upload-complete', text: 'UPDATE uploads SET completed_at = now() WHERE upload_id = $1', values: [uploadId] });
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
