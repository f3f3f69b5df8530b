/**
 * The `next` of a stage under test: records every query it is called with and
 * brings back what the test says, so a test can assert both what the stage
 * did and whether (and with which query) it went on down the chain.
 */
import type { Fetched, Next, Query } from '../../src/pipeline/types.js';

/** What a fake next brings back unless told otherwise: no upstream answered. */
export const NOTHING_UPSTREAM: Fetched = { kind: 'failed', error: 'fake next: nothing upstream' };

export function fakeNext(fetched: Fetched | null = NOTHING_UPSTREAM): Next & { calls: Query[] } {
  const calls: Query[] = [];
  return Object.assign((q: Query) => {
    calls.push(q);
    return Promise.resolve(fetched);
  }, { calls });
}
