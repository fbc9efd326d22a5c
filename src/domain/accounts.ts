import { notifyInvalidation } from '../db/notifications.js';
import { withTransaction, type Db, type Queryable } from '../db/pool.js';
import {
  deleteAccountMedia,
  deleteAccountRow,
  deleteAccountUploads,
  findAccountContents,
  insertAccount,
  listAccountsAfter,
  lockAccountForDeletion,
  lockAccountMedia,
  lockAccountUploads,
  protectAccountMediaPage,
  revokeAccountAccess,
  upsertAuthToken,
  type AccountContents,
  type MediaCursor,
  type RevokedAccess,
} from '../db/queries/accounts.js';
import { StoreUnavailable } from '../storage/errors.js';
import type { Store } from '../storage/store.js';
import { DomainError, InvalidRequest, NotFound } from './errors.js';
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

/** An account as the operator's list shows it: never a secret. */
export interface AccountSummary {
  sid: string;
  name: string;
  created_at: string;
  /** days media is kept; null: until deleted */
  retention_days: number | null;
  media: number;
  api_keys: number;
  applications: number;
}

/**
 * Every account in sid order, a page at a time: memory stays bounded however many
 * accounts there are (each page is a keyset range of the primary key).
 */
export async function* listAccounts(db: Db, pageSize = 500): AsyncGenerator<AccountSummary[]> {
  let after = '';
  for (;;) {
    const rows = await listAccountsAfter(db, after, pageSize);
    if (rows.length > 0) {
      yield rows.map((r) => ({
        sid: r.sid,
        name: r.name,
        created_at: r.created_at.toISOString(),
        retention_days: r.retention_days,
        media: r.media,
        api_keys: r.api_keys,
        applications: r.applications,
      }));
    }
    if (rows.length < pageSize) return;
    after = rows[rows.length - 1]!.sid;
  }
}

/** What deleting the account would delete; NotFound when there is no such account. */
export async function describeAccount(db: Db, accountSid: string): Promise<AccountContents> {
  const contents = await findAccountContents(db, accountSid);
  if (!contents) throw new NotFound(`no such account ${accountSid}`);
  return contents;
}

/** What one run of deleteAccount deleted (a run that finishes an interrupted one counts only its own part). */
export interface AccountDeletion extends RevokedAccess {
  sid: string;
  name: string;
  /** media rows, each with its stored object */
  media: number;
  /** direct uploads never completed, each with whatever object its URL let a client PUT */
  uploads: number;
  /** objects removed from the store: one per media and per upload in progress */
  objects: number;
  events: number;
}

/**
 * The store could not remove an object: deletion stopped with everything before it done
 * and nothing pointing at a missing object. Running it again finishes.
 */
export class AccountDeletionIncomplete extends DomainError {
  constructor(
    readonly done: AccountDeletion,
    objectKey: string,
    reason: string,
  ) {
    super(
      'service_unavailable',
      `the object store could not delete ${objectKey} (${reason}); the account's credentials and share links are already revoked and ` +
        `${done.media} media and ${done.uploads} uploads deleted with their objects; run \`mediagate accounts delete ${done.sid} --yes\` again to finish`,
    );
  }
}

// Rows per transaction while their objects are removed (the rows stay locked meanwhile),
// objects removed at once within a batch, and media made to need credentials per statement.
const DELETE_BATCH = 100;
const PARALLEL_OBJECT_DELETES = 8;
const PROTECT_PAGE = 1000;

interface ObjectFailure {
  objectKey: string;
  reason: string;
}

interface BatchResult {
  locked: number;
  deleted: number;
  failure?: ObjectFailure | undefined;
}

/**
 * Deletes the account and everything of it, in an order where every step leaves a state
 * that is safe to serve and safe to resume from:
 *
 * 1. One transaction: its credentials (auth tokens, API keys, applications, console
 *    sessions) and share links are deleted and its protection switches turned on. Its
 *    NOTIFY makes every running instance drop what it cached of the account at commit,
 *    so no token, key, JWT, session or share link of it is honoured from then on.
 * 2. Its media is made to need credentials, a page per statement: legacy (public) media
 *    stops being served too, since no credential of the account is left.
 * 3. Media in batches: each batch's rows are locked, their objects removed from the store,
 *    then the rows deleted (as the retention sweep does). If the store cannot remove an
 *    object, the rows whose objects are gone are deleted and the others kept: no row
 *    names a missing object and no object is left without its row. Then the uploads in
 *    progress, the same way.
 * 4. One transaction holding the account row locked (an upload finishing meanwhile waits
 *    for it, then fails for want of the account; see lockAccountForDeletion): whatever
 *    slipped in since is deleted the same way, then the events and the account row,
 *    which takes its settings and anything else with it (ON DELETE CASCADE).
 *
 * NotFound for an unknown account; AccountDeletionIncomplete when the store failed (run
 * again to finish: step 1 then finds nothing left to revoke).
 */
export async function deleteAccount(deps: { db: Db; store: Store }, accountSid: string): Promise<AccountDeletion> {
  const revoked = await withTransaction(deps.db, async (tx) => {
    const access = await revokeAccountAccess(tx, accountSid);
    if (access) await announceAccountGone(tx, accountSid);
    return access;
  });
  if (!revoked) throw new NotFound(`no such account ${accountSid}`);
  const done: AccountDeletion = { sid: accountSid, ...revoked, media: 0, uploads: 0, objects: 0, events: 0 };

  for (let after: MediaCursor | undefined; ; ) {
    after = await withTransaction(deps.db, async (tx) => {
      const next = await protectAccountMediaPage(tx, accountSid, after, PROTECT_PAGE);
      await notifyInvalidation(tx, { kind: 'media', accountSid });
      return next;
    });
    if (!after) break;
  }

  const inOwnTransaction = (batch: (tx: Queryable) => Promise<BatchResult>) => () => withTransaction(deps.db, batch);
  await untilDone(done, inOwnTransaction((tx) => deleteMediaBatch(tx, deps.store, accountSid)), 'media');
  await untilDone(done, inOwnTransaction((tx) => deleteUploadBatch(tx, deps.store, accountSid)), 'uploads');

  // A failure inside the last transaction is thrown after it commits the batches before it.
  let failure: ObjectFailure | undefined;
  await withTransaction(deps.db, async (tx) => {
    if (!(await lockAccountForDeletion(tx, accountSid))) return; // another run finished it meanwhile
    failure =
      (await untilDone(done, () => deleteMediaBatch(tx, deps.store, accountSid), 'media', false)) ??
      (await untilDone(done, () => deleteUploadBatch(tx, deps.store, accountSid), 'uploads', false));
    if (failure) return;
    done.events = (await deleteAccountRow(tx, accountSid)).events;
    await announceAccountGone(tx, accountSid);
  });
  if (failure) throw new AccountDeletionIncomplete(done, failure.objectKey, failure.reason);
  return done;
}

/**
 * Runs batches until one comes back short; counts what they deleted. A store failure
 * is thrown (or returned, for the caller to throw once its transaction commits).
 */
async function untilDone(done: AccountDeletion, batch: () => Promise<BatchResult>, what: 'media' | 'uploads', throwFailure = true): Promise<ObjectFailure | undefined> {
  for (;;) {
    const result = await batch();
    done[what] += result.deleted;
    done.objects += result.deleted;
    if (result.failure) {
      if (throwFailure) throw new AccountDeletionIncomplete(done, result.failure.objectKey, result.failure.reason);
      return result.failure;
    }
    if (result.locked < DELETE_BATCH) return undefined;
  }
}

async function deleteMediaBatch(tx: Queryable, store: Store, accountSid: string): Promise<BatchResult> {
  const rows = await lockAccountMedia(tx, accountSid, DELETE_BATCH);
  const { removed, failure } = await removeObjects(store, rows.map((m) => ({ id: m.sid, objectKey: m.object_key })));
  const deleted = removed.length ? await deleteAccountMedia(tx, accountSid, removed) : 0;
  if (deleted) await notifyInvalidation(tx, { kind: 'media', accountSid });
  return { locked: rows.length, deleted, failure };
}

async function deleteUploadBatch(tx: Queryable, store: Store, accountSid: string): Promise<BatchResult> {
  const rows = await lockAccountUploads(tx, accountSid, DELETE_BATCH);
  const { removed, failure } = await removeObjects(store, rows.map((u) => ({ id: u.upload_id, objectKey: u.object_key })));
  const deleted = removed.length ? await deleteAccountUploads(tx, accountSid, removed) : 0;
  return { locked: rows.length, deleted, failure };
}

/**
 * Removes the objects, a few at a time; on the first failure starts no more and says
 * which. Returns the ids whose objects are gone (removing a missing object succeeds).
 */
async function removeObjects(store: Store, items: { id: string; objectKey: string }[]): Promise<{ removed: string[]; failure?: ObjectFailure }> {
  const removed: string[] = [];
  let failure: ObjectFailure | undefined;
  let next = 0;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await store.delete(item.objectKey);
        removed.push(item.id);
      } catch (err) {
        failure ??= { objectKey: item.objectKey, reason: err instanceof StoreUnavailable ? err.reason : String((err as Error)?.message ?? err) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_OBJECT_DELETES, items.length) }, worker));
  return failure ? { removed, failure } : { removed };
}

/** Every instance drops what it cached of the account: credentials, media, share links. */
async function announceAccountGone(tx: Queryable, accountSid: string): Promise<void> {
  await notifyInvalidation(tx, { kind: 'credentials', accountSid });
  await notifyInvalidation(tx, { kind: 'media', accountSid });
}
