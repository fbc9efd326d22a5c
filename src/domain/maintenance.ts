import { deleteExpiredConsoleSessions } from '../db/queries/console-sessions.js';
import { notifyInvalidation } from '../db/notifications.js';
import { checkout, withTransaction, type Db } from '../db/pool.js';
import {
  accountsWithRetention,
  advisoryUnlock,
  deleteMediaBySids,
  lockExpiredMedia,
  objectKeysAfter,
  tryAdvisoryLock,
} from '../db/queries/maintenance.js';
import { deleteCompletedUploads, deleteUncompletedUpload, expiredUploads, pendingUploadKeys } from '../db/queries/uploads.js';
import { isObjectKey } from '../storage/object-key.js';
import type { Store } from '../storage/store.js';

export interface GcReport {
  /** objects no row names, older than the grace period, removed */
  removedObjects: string[];
  /** rows whose object is missing from the store (reported, never deleted) */
  missingObjects: string[];
  /** objects without a row but younger than the grace period: maybe an upload in flight */
  youngUnreferenced: number;
  /**
   * what uploads cut short left: temp files or unfinished multipart uploads older than the
   * grace period, and the objects of direct uploads never completed once their URL expired
   */
  abandonedUploads: number;
}

/**
 * One gc at a time across every host (an advisory lock; undefined: another run holds
 * it, so this one did nothing). Walks the store's listing and the media rows side by
 * side, both in byte order, with bounded memory however many objects there are. An object no row names is an upload
 * that failed between storing the bytes and inserting the row (a crash, say); it is
 * removed once older than `graceSeconds`, since a younger one may be an upload whose row
 * is about to be written. Keys that are not mediagate's (`AC…/ME…`) are left alone.
 */
export function collectGarbage(
  deps: { db: Db; store: Store; clock: () => Date },
  options: { graceSeconds: number; dryRun?: boolean },
): Promise<GcReport | undefined> {
  return runExclusively(deps.db, GC_LOCK_KEY, () => collectGarbageLocked(deps, options));
}

async function collectGarbageLocked(
  deps: { db: Db; store: Store; clock: () => Date },
  options: { graceSeconds: number; dryRun?: boolean },
): Promise<GcReport> {
  const report: GcReport = { removedObjects: [], missingObjects: [], youngUnreferenced: 0, abandonedUploads: 0 };
  const now = deps.clock();
  const cutoff = now.getTime() - options.graceSeconds * 1000;
  if (!options.dryRun) report.abandonedUploads = await deps.store.removeAbandonedUploads(new Date(cutoff));
  // Direct uploads never completed whose URL expired go, object and all, however young;
  // each in a transaction whose DELETE waits for a completing statement under way (then
  // keeps the upload; a completion that comes after the DELETE answers 404). An object
  // whose URL may still be used is kept, however old.
  for (const uploadId of await expiredUploads(deps.db, now)) {
    if (options.dryRun) continue;
    await withTransaction(deps.db, async (tx) => {
      const key = await deleteUncompletedUpload(tx, uploadId);
      if (key === undefined) return;
      await deps.store.delete(key);
      report.abandonedUploads++;
    });
  }
  const pending = new Set(await pendingUploadKeys(deps.db, now));

  let rows: string[] = [];
  let rowIndex = 0;
  let lastRow = '';
  let rowsDone = false;
  const peekRow = async (): Promise<string | undefined> => {
    if (rowIndex >= rows.length && !rowsDone) {
      rows = await objectKeysAfter(deps.db, lastRow, 1000);
      rowIndex = 0;
      if (rows.length < 1000) rowsDone = true;
      if (rows.length) lastRow = rows[rows.length - 1]!;
    }
    return rows[rowIndex];
  };

  for await (const object of deps.store.list()) {
    if (!isObjectKey(object.key)) continue;
    // Rows before this object's key have no object.
    for (let row = await peekRow(); row !== undefined && row < object.key; row = await peekRow()) {
      report.missingObjects.push(row);
      rowIndex++;
    }
    if ((await peekRow()) === object.key) {
      rowIndex++;
      continue;
    }
    if (pending.has(object.key)) {
      report.youngUnreferenced++;
      continue;
    }
    if (object.lastModified.getTime() > cutoff) {
      report.youngUnreferenced++;
      continue;
    }
    if (!options.dryRun) await deps.store.delete(object.key);
    report.removedObjects.push(object.key);
  }
  for (let row = await peekRow(); row !== undefined; row = await peekRow()) {
    report.missingObjects.push(row);
    rowIndex++;
  }
  // Completed uploads are remembered for a day (completing again answers the same media).
  if (!options.dryRun) await deleteCompletedUploads(deps.db, new Date(now.getTime() - 86_400_000));
  return report;
}

/**
 * One sweep at a time across every host (undefined: another run holds the lock).
 * Deletes media past its account's retention, objects first, in batches of
 * `batchSize` rows, each batch in one transaction holding its rows locked: if the store
 * cannot delete an object, the batch's rows stay (and the sweep stops, to retry later).
 * Then removes expired console sessions.
 */
export function sweepExpiredMedia(deps: { db: Db; store: Store }, options: { batchSize: number }): Promise<SweepReport | undefined> {
  return runExclusively(deps.db, SWEEP_LOCK_KEY, () => sweepExpiredMediaLocked(deps, options));
}

export interface SweepReport {
  /** media rows (and their objects) past retention */
  deletedMedia: number;
  expiredSessions: number;
}

async function sweepExpiredMediaLocked(deps: { db: Db; store: Store }, options: { batchSize: number }): Promise<SweepReport> {
  let deleted = 0;
  for (const account of await accountsWithRetention(deps.db)) {
    for (;;) {
      const n = await withTransaction(deps.db, async (tx) => {
        const batch = await lockExpiredMedia(tx, account.sid, options.batchSize);
        for (const m of batch) await deps.store.delete(m.object_key);
        const count = batch.length ? await deleteMediaBySids(tx, batch.map((m) => m.sid)) : 0;
        if (count) await notifyInvalidation(tx, { kind: 'media', accountSid: account.sid });
        return count;
      });
      deleted += n;
      if (n < options.batchSize) break;
    }
  }
  // Console sessions past their expiry: no longer valid, only rows (and a list per account).
  return { deletedMedia: deleted, expiredSessions: await deleteExpiredConsoleSessions(deps.db) };
}

// Advisory lock keys: one run at a time of each job, from timers and the CLI, on any host.
export const GC_LOCK_KEY = 0x6d670001;
export const SWEEP_LOCK_KEY = 0x6d670002;

/** Runs job while holding a session advisory lock; undefined when another session holds it. */
async function runExclusively<T>(db: Db, key: number, job: () => Promise<T>): Promise<T | undefined> {
  const client = await checkout(db);
  try {
    if (!(await tryAdvisoryLock(client, key))) return undefined;
    try {
      return await job();
    } finally {
      await advisoryUnlock(client, key);
    }
  } finally {
    client.release();
  }
}
