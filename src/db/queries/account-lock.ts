import type { Queryable } from '../pool.js';

/**
 * Locks the account's row until the transaction ends, so that creations counted against
 * a per-account cap (keys, applications, share links) run one at a time per account: a
 * count and an insert of two racing requests would otherwise both see room for one.
 * NO KEY UPDATE: inserts of rows referencing the account (media, events) are not held up.
 * False when there is no such account.
 */
export async function lockAccount(db: Queryable, accountSid: string): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'account-lock',
    text: 'SELECT 1 FROM accounts WHERE sid = $1 FOR NO KEY UPDATE',
    values: [accountSid],
  });
  return rowCount === 1;
}
