/**
 * The bound on sockets to the upstreams, across every config snapshot: one
 * slot per exchange in flight (its UDP attempt and any TCP retry run one
 * after the other, on one socket at a time). When none is free the exchange
 * fails at once (SERVFAIL, reason upstream_error) instead of asking the
 * kernel for a file descriptor it may not have (EMFILE), which would also
 * cost every other client its TCP accepts and the HTTP probes.
 */
export class SocketBudget {
  readonly max: number;
  #open = 0;
  #refused = 0;

  constructor(max: number) {
    if (!(Number.isSafeInteger(max) && max >= 1)) throw new RangeError(`the upstream socket bound must be a whole number ≥ 1, got ${max}`);
    this.max = max;
  }

  /** Takes a slot; false when all are in use (counted). */
  tryOpen(): boolean {
    if (this.#open >= this.max) {
      this.#refused++;
      return false;
    }
    this.#open++;
    return true;
  }

  /** Whether every slot is taken now; counts nothing (the caller may find another way first). */
  get full(): boolean {
    return this.#open >= this.max;
  }

  /** Counts an attempt that found no slot free and no other way. */
  countRefused(): void {
    this.#refused++;
  }

  /** Gives back a slot taken by tryOpen. */
  close(): void {
    if (this.#open > 0) this.#open--;
  }

  get open(): number {
    return this.#open;
  }

  /** Exchanges that found no slot free, since start. */
  get refused(): number {
    return this.#refused;
  }
}
