/**
 * The bound on hold POSTs in flight: beyond it a POST waits its turn, first
 * come first served, within its own timeout; one that cannot start in time
 * fails as `busy` without being sent.
 */
import { describe, expect, it } from 'vitest';

import { ApprovalRequestError } from '../../src/approval/errors.js';
import { HoldPostQueue, MAX_HOLD_POSTS_IN_FLIGHT } from '../../src/approval/hold-queue.js';
import { waitFor } from '../helpers/wait-for.js';

/** A send the test finishes by hand, recording the time it was given. */
function gate() {
  const started: number[] = [];
  const finish: Array<() => void> = [];
  const send = (remainingMs: number) => {
    started.push(remainingMs);
    return new Promise<void>((resolve) => finish.push(resolve));
  };
  return { send, started, finish };
}

describe('HoldPostQueue', () => {
  it('is 16 wide by default', () => {
    expect(MAX_HOLD_POSTS_IN_FLIGHT).toBe(16);
  });

  it('starts at most `limit` at once; the rest start in arrival order as slots free', async () => {
    const queue = new HoldPostQueue(2);
    const order: string[] = [];
    const g = gate();
    const run = (name: string) => queue.run(5000, (ms) => {
      order.push(name);
      return g.send(ms);
    });
    const done = ['a', 'b', 'c', 'd'].map(run);
    expect(order).toEqual(['a', 'b']);
    expect({ inFlight: queue.inFlight, queued: queue.queued }).toEqual({ inFlight: 2, queued: 2 });
    g.finish[1]!();
    await waitFor(() => order.length === 3, { what: 'c to start' });
    expect(order).toEqual(['a', 'b', 'c']);
    // The queued one gets what is left of its 5 s, not a fresh 5 s.
    expect(g.started[2]).toBeLessThanOrEqual(5000);
    for (const f of [0, 2]) g.finish[f]!();
    await waitFor(() => order.length === 4, { what: 'd to start' });
    g.finish[3]!();
    await Promise.all(done);
    expect({ inFlight: queue.inFlight, queued: queue.queued }).toEqual({ inFlight: 0, queued: 0 });
  });

  it('a POST that cannot start within its timeout fails as busy and is never sent', async () => {
    const queue = new HoldPostQueue(1);
    const g = gate();
    const first = queue.run(5000, g.send);
    let sent = false;
    const err = await queue.run(50, () => {
      sent = true;
      return Promise.resolve();
    }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApprovalRequestError);
    expect(err).toMatchObject({ problem: 'busy', status: null });
    expect(queue.queued).toBe(0);
    g.finish[0]!();
    await first;
    expect(sent).toBe(false);
  });

  it('a failed POST frees its slot too', async () => {
    const queue = new HoldPostQueue(1);
    await expect(queue.run(1000, () => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
    await expect(queue.run(1000, () => { throw new Error('thrown'); })).rejects.toThrow('thrown');
    expect(queue.inFlight).toBe(0);
    await expect(queue.run(1000, () => Promise.resolve())).resolves.toBeUndefined();
  });

  it('cancelWaiting fails every waiting POST as busy, unsent; the ones in flight go on', async () => {
    const queue = new HoldPostQueue(1);
    const g = gate();
    const first = queue.run(5000, g.send);
    const waiting = queue.run(5000, () => Promise.reject(new Error('must not be sent')));
    queue.cancelWaiting();
    await expect(waiting).rejects.toMatchObject({ problem: 'busy' });
    expect(queue.queued).toBe(0);
    g.finish[0]!();
    await expect(first).resolves.toBeUndefined();
  });
});
