import type { Logger } from 'pino';
import type { Db } from './db/pool.js';
import { collectGarbage, sweepExpiredMedia } from './domain/maintenance.js';
import type { Store } from './storage/store.js';

export interface PeriodicJobs {
  /** no new runs; waits for a run in progress, at most waitMillis */
  stop(waitMillis: number): Promise<void>;
}

const SWEEP_EVERY_MILLIS = 10 * 60_000;
const GC_EVERY_MILLIS = 60 * 60_000;

/**
 * In-process maintenance: the retention sweep every 10 minutes and gc every hour. With
 * several instances (or a CLI run), an advisory lock lets one run at a time do each job.
 */
export function startPeriodicJobs(deps: { db: Db; store: Store; clock: () => Date; log: Logger }): PeriodicJobs {
  const running = new Set<Promise<unknown>>();
  // Each job takes its own lock: another host running it makes this run a no-op (undefined).
  const every = (name: string, millis: number, job: () => Promise<unknown>) => {
    const timer = setInterval(() => {
      const run = job()
        .then((result) => result !== undefined && deps.log.info({ job: name, result }, 'periodic job done'))
        .catch((err: Error) => deps.log.warn({ job: name, err: err.message }, 'periodic job failed'))
        .finally(() => running.delete(run));
      running.add(run);
    }, millis);
    timer.unref();
    return timer;
  };
  const timers = [
    every('sweep', SWEEP_EVERY_MILLIS, () => sweepExpiredMedia(deps, { batchSize: 100 })),
    every('gc', GC_EVERY_MILLIS, async () => {
      const r = await collectGarbage(deps, { graceSeconds: 3600 });
      if (!r) return undefined;
      if (r.missingObjects.length) deps.log.warn({ missing: r.missingObjects.slice(0, 100) }, 'media rows whose object is missing');
      return { removed: r.removedObjects.length, missing: r.missingObjects.length };
    }),
  ];
  return {
    async stop(waitMillis) {
      timers.forEach(clearInterval);
      if (running.size === 0) return;
      await Promise.race([Promise.all(running), new Promise((r) => setTimeout(r, waitMillis).unref())]);
    },
  };
}
