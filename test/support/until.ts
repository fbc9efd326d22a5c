/**
 * Resolves once `condition` holds, looking again after each turn of the event loop: for
 * state the service changes as it works (a timer set, a count reached). Never a sleep;
 * the test's own timeout bounds it.
 */
export async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}
