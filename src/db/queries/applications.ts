import type { Queryable } from '../pool.js';

export interface ApplicationRow {
  application_id: string;
  account_sid: string;
  name: string;
  public_key: string;
  algorithm: string;
  created_at: Date;
}

const COLUMNS = 'application_id, account_sid, name, public_key, algorithm, created_at';

export async function insertApplication(
  db: Queryable,
  app: Omit<ApplicationRow, 'created_at'>,
): Promise<ApplicationRow> {
  const { rows } = await db.query<ApplicationRow>({
    name: 'application-insert',
    text: `INSERT INTO applications (application_id, account_sid, name, public_key, algorithm)
           VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
    values: [app.application_id, app.account_sid, app.name, app.public_key, app.algorithm],
  });
  return rows[0]!;
}

export async function findApplication(db: Queryable, accountSid: string, applicationId: string): Promise<ApplicationRow | undefined> {
  const { rows } = await db.query<ApplicationRow>({
    name: 'application-find',
    text: `SELECT ${COLUMNS} FROM applications WHERE account_sid = $1 AND application_id = $2`,
    values: [accountSid, applicationId],
  });
  return rows[0];
}

export async function findApplicationById(db: Queryable, applicationId: string): Promise<ApplicationRow | undefined> {
  const { rows } = await db.query<ApplicationRow>({
    name: 'application-find-by-id',
    text: `SELECT ${COLUMNS} FROM applications WHERE application_id = $1`,
    values: [applicationId],
  });
  return rows[0];
}

/** The account's applications, newest first, after a cursor (domain/paging.ts). */
export async function listApplications(
  db: Queryable,
  accountSid: string,
  after: { createdAt: string; id: string } | undefined,
  limit: number,
): Promise<(ApplicationRow & { cursor_created_at: string })[]> {
  const { rows } = await db.query<ApplicationRow & { cursor_created_at: string }>({
    name: 'application-list',
    text: `SELECT ${COLUMNS}, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_created_at
             FROM applications
            WHERE account_sid = $1 AND ($2::timestamptz IS NULL OR (created_at, application_id) < ($2::timestamptz, $3::uuid))
            ORDER BY created_at DESC, application_id DESC LIMIT $4`,
    values: [accountSid, after?.createdAt ?? null, after?.id ?? null, limit],
  });
  return rows;
}

export async function countApplications(db: Queryable, accountSid: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>({ name: 'application-count', text: 'SELECT count(*)::int AS n FROM applications WHERE account_sid = $1', values: [accountSid] });
  return rows[0]!.n;
}

export async function deleteApplication(db: Queryable, accountSid: string, applicationId: string): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'application-delete',
    text: 'DELETE FROM applications WHERE account_sid = $1 AND application_id = $2',
    values: [accountSid, applicationId],
  });
  return rowCount === 1;
}
