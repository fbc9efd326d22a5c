/**
 * A service's clock for tests (startService({ clock: clock.now })): the system's, until a
 * test pins it to an instant, so that what the service signs or reports from "now" can
 * be compared exactly. Signatures carry whole seconds, so pin() takes a whole second.
 */
export class TestClock {
  private pinned: Date | undefined;

  readonly now = (): Date => this.pinned ?? new Date();

  /** pins the clock (default: to the current whole second) and returns the instant */
  pin(at = Math.floor(Date.now() / 1000) * 1000): Date {
    this.pinned = new Date(at);
    return this.pinned;
  }

  /** back to the system's clock */
  release(): void {
    this.pinned = undefined;
  }
}
