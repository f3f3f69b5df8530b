/**
 * At most MAX_HOLD_POSTS_IN_FLIGHT hold POSTs at once; the others wait their
 * turn, first come first served.
 *
 * Why wait rather than fail at once: a burst of distinct unlisted names (a
 * page load, a package install) opens many holds in the same millisecond,
 * and failing those beyond the bound would sinkhole names nobody reviewed
 * while the service is healthy. Waiting costs one small record per hold,
 * and holds are bounded already (max_pending_holds). Waiting is bounded in
 * time too: a POST gets `timeoutMs` in all, queueing included, and one that
 * could not start in that time fails as `busy` (hold_error) without being
 * sent, so a slow service cannot build a backlog longer than hold_timeout.
 */
import { ApprovalRequestError } from './errors.js';

/** Hold POSTs in flight at once, to one approval service. */
export const MAX_HOLD_POSTS_IN_FLIGHT = 16;

/** Sends one POST with the time that is left; rejects when the service did not take it. */
export type SendWithin = (remainingMs: number) => Promise<void>;

interface Waiting {
  readonly send: SendWithin;
  readonly deadline: number;            // performance.now() by which it must have started
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
  readonly timer: NodeJS.Timeout;
}

export class HoldPostQueue {
  readonly #limit: number;
  #inFlight = 0;
  /** Insertion order is arrival order; a Set so a waiter that times out leaves in O(1). */
  readonly #waiting = new Set<Waiting>();

  constructor(limit: number = MAX_HOLD_POSTS_IN_FLIGHT) {
    this.#limit = limit;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get queued(): number {
    return this.#waiting.size;
  }

  /** Runs `send` when a slot is free, within `timeoutMs` from now (queueing included). */
  run(timeoutMs: number, send: SendWithin): Promise<void> {
    if (this.#inFlight < this.#limit) return this.#start(send, timeoutMs);
    const deadline = performance.now() + timeoutMs;
    return new Promise<void>((resolve, reject) => {
      const waiting: Waiting = {
        send, deadline, resolve, reject,
        timer: setTimeout(() => {
          this.#waiting.delete(waiting);
          reject(new ApprovalRequestError(
            `hold POST not sent: ${this.#limit} POSTs stayed in flight for ${timeoutMs} ms`, 'busy', null,
          ));
        }, timeoutMs),
      };
      this.#waiting.add(waiting);
    });
  }

  /** Fails every POST still waiting (shutdown), as `busy`: none of them is sent, and no timer is left. */
  cancelWaiting(): void {
    for (const w of [...this.#waiting]) {
      this.#waiting.delete(w);
      clearTimeout(w.timer);
      w.reject(new ApprovalRequestError('hold POST not sent: shutting down', 'busy', null));
    }
  }

  #start(send: SendWithin, remainingMs: number): Promise<void> {
    this.#inFlight += 1;
    let sent: Promise<void>;
    try {
      sent = send(remainingMs);
    } catch (err) {
      sent = Promise.reject(err);
    }
    return sent.finally(() => {
      this.#inFlight -= 1;
      this.#next();
    });
  }

  /** Starts the longest-waiting POST, if a slot is free and one waits. */
  #next(): void {
    if (this.#inFlight >= this.#limit) return;
    const first = this.#waiting.values().next();
    if (first.done === true) return;
    const w = first.value;
    this.#waiting.delete(w);
    clearTimeout(w.timer);
    // Its timer has not fired, so some time is left; at least 1 ms so fetch gets a real bound.
    const remainingMs = Math.max(1, Math.ceil(w.deadline - performance.now()));
    this.#start(w.send, remainingMs).then(w.resolve, w.reject);
  }
}
