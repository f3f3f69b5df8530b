import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Long jobs on the event loop that answers DNS (what a reload does there
 * once the worker has parsed the file: unpacking a million patterns and
 * filling the NameSets) run in slices of about `budgetMs`, letting the loop
 * turn in between, so answers wait one slice rather than the whole job.
 *
 *   const slices = new TimeSlices();
 *   for (...) { work(); if ((i & 1023) === 0 && slices.due()) await slices.pause(); }
 *
 * setImmediate rather than a microtask or setTimeout(0): its callbacks run
 * right after the poll phase, so every datagram that came in meanwhile is
 * handled first, and no timer's 1 ms floor is added per slice.
 */
export class TimeSlices {
  #since = performance.now();

  constructor(readonly budgetMs = DEFAULT_SLICE_MS) {}

  /** Whether this slice has used its budget. A clock read: ask every few hundred items, not every one. */
  due(): boolean {
    return performance.now() - this.#since >= this.budgetMs;
  }

  /** Lets the event loop turn (I/O first), then starts the next slice. */
  async pause(): Promise<void> {
    await nextTurn();
    this.#since = performance.now();
  }
}

/** Well under the 50 ms a reload may hold answers up, leaving room for a scavenge landing in a slice. */
export const DEFAULT_SLICE_MS = 8;
