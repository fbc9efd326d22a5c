import { withTransaction, type Db } from '../db/pool.js';
import { insertEvent } from '../db/queries/events.js';
import { deleteShareLinksCreatedBy } from '../db/queries/share-links.js';
import { countApiKeys, deleteApiKey as deleteApiKeyRow, insertApiKey, listApiKeys, type ApiKeyRow } from '../db/queries/keys.js';
import { assertRoomForOneMore } from './account-caps.js';
import { decodePageToken, pageOf, type PageRequest } from './paging.js';
import { validateName } from './accounts.js';
import { NotFound } from './errors.js';
import { isSid, newSecret, newSid } from './ids.js';
import { hashSecret } from './secrets.js';
import { commitWithInvalidation, type InvalidationDeps } from './invalidation.js';

/** An API key, without its secret. */
export interface ApiKey {
  sid: string;
  accountSid: string;
  name: string;
  createdAt: Date;
}

export interface CreatedApiKey extends ApiKey {
  /** shown once: only its digest is stored */
  secret: string;
}

const apiKeyFromRow = (row: ApiKeyRow): ApiKey => ({ sid: row.sid, accountSid: row.account_sid, name: row.name, createdAt: row.created_at });

/** At most `maxKeys` per account (API_KEYS_PER_ACCOUNT): 409 past it. */
export async function createApiKey(db: Db, accountSid: string, name: string, maxKeys: number): Promise<CreatedApiKey> {
  const validName = validateName(name);
  const sid = newSid('SK');
  const secret = newSecret();
  const row = await withTransaction(db, async (tx) => {
    await assertRoomForOneMore(tx, accountSid, { what: 'API keys', setting: 'API_KEYS_PER_ACCOUNT', max: maxKeys, count: countApiKeys });
    const created = await insertApiKey(tx, sid, accountSid, validName, hashSecret(secret));
    await insertEvent(tx, accountSid, 'api_key.created', { key_sid: sid, name: validName });
    return created;
  });
  return { ...apiKeyFromRow(row), secret };
}

/** The account's keys, newest first, a page at a time. */
export async function getApiKeys(db: Db, accountSid: string, paging: PageRequest): Promise<{ keys: ApiKey[]; nextPageToken: string | null }> {
  const after = paging.pageToken === undefined ? undefined : decodePageToken(paging.pageToken, (id) => isSid(id, 'SK'));
  const { page, nextPageToken } = pageOf(await listApiKeys(db, accountSid, after, paging.pageSize + 1), paging.pageSize, (row) => row.sid);
  return { keys: page.map(apiKeyFromRow), nextPageToken };
}

/**
 * Deletes the key, and the share links it created (a leaked key's links die with it);
 * every instance drops both from its caches when this commits.
 */
export async function deleteApiKey(deps: InvalidationDeps, accountSid: string, keySid: string): Promise<void> {
  if (!isSid(keySid, 'SK')) throw new NotFound('no such key');
  await commitWithInvalidation(deps, { kind: 'credentials', accountSid }, async (tx) => {
    if (!(await deleteApiKeyRow(tx, accountSid, keySid))) throw new NotFound('no such key');
    const links = await deleteShareLinksCreatedBy(tx, accountSid, keySid);
    await insertEvent(tx, accountSid, 'api_key.deleted', { key_sid: keySid, ...(links > 0 && { share_links_deleted: links }) });
  });
}
