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

export async function listApplications(db: Queryable, accountSid: string): Promise<ApplicationRow[]> {
  const { rows } = await db.query<ApplicationRow>({
    name: 'application-list',
    text: `SELECT ${COLUMNS} FROM applications WHERE account_sid = $1 ORDER BY created_at DESC`,
    values: [accountSid],
  });
  return rows;
}

export async function deleteApplication(db: Queryable, accountSid: string, applicationId: string): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'application-delete',
    text: 'DELETE FROM applications WHERE account_sid = $1 AND application_id = $2',
    values: [accountSid, applicationId],
  });
  return rowCount === 1;
}
