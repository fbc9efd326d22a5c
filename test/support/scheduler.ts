import type { Scheduler } from '../../src/scheduler.js';

interface Task {
  at: number;
  every: number | undefined;
  run: () => void;
  cancelled: boolean;
}

/** The service's timers on a clock the test moves: `advance(ms)` runs what falls due, in order. */
export class ManualScheduler implements Scheduler {
  private now = 0;
  private readonly tasks: Task[] = [];

  after(millis: number, run: () => void): () => void {
    return this.add({ at: this.now + millis, every: undefined, run, cancelled: false });
  }

  every(millis: number, run: () => void): () => void {
    return this.add({ at: this.now + millis, every: millis, run, cancelled: false });
  }

  /** how many timers are set and not yet run or cancelled */
  get pending(): number {
    return this.tasks.filter((t) => !t.cancelled).length;
  }

  advance(millis: number): void {
    const until = this.now + millis;
    for (;;) {
      const due = this.tasks.filter((t) => !t.cancelled && t.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.now = due.at;
      if (due.every === undefined) due.cancelled = true;
      else due.at += due.every;
      due.run();
    }
    this.now = until;
    for (let i = this.tasks.length - 1; i >= 0; i--) if (this.tasks[i]!.cancelled) this.tasks.splice(i, 1);
  }

  private add(task: Task): () => void {
    this.tasks.push(task);
    return () => {
      task.cancelled = true;
    };
  }
}
