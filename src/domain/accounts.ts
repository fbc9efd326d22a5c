import { withTransaction, type Db } from '../db/pool.js';
import { insertAccount, upsertAuthToken } from '../db/queries/accounts.js';
import { InvalidRequest } from './errors.js';
import { newSecret, newSid } from './ids.js';
import { hashSecret } from './secrets.js';

export interface CreatedAccount {
  sid: string;
  /** shown once: only its digest is stored */
  auth_token: string;
}

export function validateName(name: string): string {
  const trimmed = name.trim();
  // eslint-disable-next-line no-control-regex
  if (trimmed.length === 0 || trimmed.length > 200 || /[\u0000-\u001f\u007f]/.test(trimmed)) {
    throw new InvalidRequest('name must be 1 to 200 printable characters');
  }
  return trimmed;
}

export async function createAccount(db: Db, name: string): Promise<CreatedAccount> {
  const validName = validateName(name);
  const sid = newSid('AC');
  const authToken = newSecret();
  await withTransaction(db, async (tx) => {
    await insertAccount(tx, sid, validName);
    await upsertAuthToken(tx, sid, 'primary', hashSecret(authToken));
  });
  return { sid, auth_token: authToken };
}
