import type { Queryable } from '../pool.js';

export interface ProtectionRow {
  kind: string;
  enabled: boolean;
  changed_at: Date | null;
}

export async function findProtection(db: Queryable, accountSid: string): Promise<ProtectionRow[]> {
  const { rows } = await db.query<ProtectionRow>({
    name: 'protection-find',
    text: 'SELECT kind, enabled, changed_at FROM media_protection WHERE account_sid = $1',
    values: [accountSid],
  });
  return rows;
}

/** Sets one switch; changed_at moves only when the value really changes. */
export async function updateProtection(db: Queryable, accountSid: string, kind: string, enabled: boolean): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'protection-update',
    text: `UPDATE media_protection SET enabled = $3, changed_at = now()
            WHERE account_sid = $1 AND kind = $2 AND enabled IS DISTINCT FROM $3`,
    values: [accountSid, kind, enabled],
  });
  return (rowCount ?? 0) > 0;
}
