import { notifyInvalidation, type Invalidation } from '../db/notifications.js';
import { withTransaction, type Db, type Queryable } from '../db/pool.js';

/**
 * What changed, told to this instance's caches right after a commit (other instances
 * learn it from the NOTIFY sent in the same transaction).
 */
export type LocalInvalidation = (invalidation: Invalidation) => void;

export interface InvalidationDeps {
  db: Db;
  invalidate: LocalInvalidation;
}

/**
 * Runs `work` in a transaction that also announces `invalidation`: every instance's
 * caches (this one's right after the commit, the others' on the NOTIFY delivered at
 * commit) drop what the change made stale. Every write that a cache could contradict
 * goes through here.
 */
export async function commitWithInvalidation<T>(
  deps: InvalidationDeps,
  invalidation: Invalidation,
  work: (tx: Queryable) => Promise<T>,
): Promise<T> {
  const result = await withTransaction(deps.db, async (tx) => {
    const value = await work(tx);
    await notifyInvalidation(tx, invalidation);
    return value;
  });
  deps.invalidate(invalidation);
  return result;
}
