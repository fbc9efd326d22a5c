import { withTransaction, type Db } from '../db/pool.js';
import { insertAccount, upsertAuthToken } from '../db/queries/accounts.js';
import { InvalidRequest } from './errors.js';
import { newSecret, newSid } from './ids.js';
import { isDisplaySafe } from './printable.js';
import { MEDIA_KINDS } from './media-kinds.js';
import { hashSecret } from './secrets.js';

export interface CreatedAccount {
  sid: string;
  /** shown once: only its digest is stored */
  auth_token: string;
}

export function validateName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0 || trimmed.length > 200 || !isDisplaySafe(trimmed)) {
    throw new InvalidRequest('name must be 1 to 200 printable characters, without control or bidirectional formatting characters');
  }
  return trimmed;
}

export async function createAccount(db: Db, name: string): Promise<CreatedAccount> {
  const validName = validateName(name);
  const sid = newSid('AC');
  const authToken = newSecret();
  await withTransaction(db, async (tx) => {
    await insertAccount(tx, sid, validName, MEDIA_KINDS);
    await upsertAuthToken(tx, sid, 'primary', hashSecret(authToken));
  });
  return { sid, auth_token: authToken };
}
