/**
 * Timers the service sets on requests and resources (a JSON body's deadline, an
 * upload's pace, the keyring's poll), behind one small interface so that tests move
 * time instead of waiting for it (test/support/scheduler.ts).
 */
export interface Scheduler {
  /** runs `task` once after `millis`; returns what cancels it */
  after(millis: number, task: () => void): () => void;
  /** runs `task` every `millis`; returns what stops it */
  every(millis: number, task: () => void): () => void;
}

/** Node's timers, unref'd: none of them alone keeps the process running. */
export const realScheduler: Scheduler = {
  after(millis, task) {
    const timer = setTimeout(task, millis);
    timer.unref();
    return () => clearTimeout(timer);
  },
  every(millis, task) {
    const timer = setInterval(task, millis);
    timer.unref();
    return () => clearInterval(timer);
  },
};
