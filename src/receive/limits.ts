/**
 * A counter with two ceilings: one for everyone, one per key (a client IP).
 * The per-key ceiling is what keeps one flooding client from using up the
 * global one and starving everybody else.
 */

/** Which ceiling refused: mirrors the DropReason values of the same names. */
export type LimitVerdict = 'global_limit' | 'client_limit';

export class KeyedLimiter {
  #maxTotal: number;
  #maxPerKey: number;
  #total = 0;
  readonly #perKey = new Map<string, number>();

  constructor(maxTotal: number, maxPerKey: number) {
    checkCeilings(maxTotal, maxPerKey);
    this.#maxTotal = maxTotal;
    this.#maxPerKey = maxPerKey;
  }

  get maxTotal(): number {
    return this.#maxTotal;
  }

  get maxPerKey(): number {
    return this.#maxPerKey;
  }

  /**
   * New ceilings (a config reload). Slots already held stay held; below a
   * lowered ceiling nothing new is granted until enough are given back.
   */
  setCeilings(maxTotal: number, maxPerKey: number): void {
    checkCeilings(maxTotal, maxPerKey);
    this.#maxTotal = maxTotal;
    this.#maxPerKey = maxPerKey;
  }

  /** Takes one slot for `key`, or says which ceiling is in the way (and takes nothing). */
  tryAcquire(key: string): LimitVerdict | null {
    if (this.#total >= this.#maxTotal) return 'global_limit';
    const held = this.#perKey.get(key) ?? 0;
    if (held >= this.#maxPerKey) return 'client_limit';
    this.#perKey.set(key, held + 1);
    this.#total++;
    return null;
  }

  /** Gives back a slot taken by a successful tryAcquire. */
  release(key: string): void {
    const held = this.#perKey.get(key);
    if (held === undefined) return;
    // Delete at zero so the map stays as small as the set of active clients.
    if (held <= 1) this.#perKey.delete(key);
    else this.#perKey.set(key, held - 1);
    this.#total--;
  }

  get total(): number {
    return this.#total;
  }

  held(key: string): number {
    return this.#perKey.get(key) ?? 0;
  }
}

function checkCeilings(maxTotal: number, maxPerKey: number): void {
  if (!(maxTotal >= 1 && maxPerKey >= 1)) throw new RangeError('limits must be at least 1');
}

/** Called when a slot may have come free; returns whether the waiter took one. */
export type Wake = () => boolean;

/**
 * A KeyedLimiter that callers can wait on instead of giving up: a TCP
 * connection whose client has used up its budget stops reading (backpressure)
 * and is woken when one of that client's queries, or any query after the
 * global ceiling, gives its slot back. Each release frees one slot, so it
 * wakes waiters, oldest first, until one of them takes it.
 *
 * Bounded: a waiter is a connection, and connections are bounded.
 */
export class WaitingLimiter extends KeyedLimiter {
  readonly #waitingForKey = new Map<string, Set<Wake>>();
  readonly #waitingForAny = new Set<Wake>();

  /** Wakes `wake` when a slot that `refused` stood in the way of may be free. */
  wait(key: string, refused: LimitVerdict, wake: Wake): void {
    if (refused === 'global_limit') {
      this.#waitingForAny.add(wake);
      return;
    }
    let set = this.#waitingForKey.get(key);
    if (!set) this.#waitingForKey.set(key, (set = new Set()));
    set.add(wake);
  }

  /** Forgets a waiter (its connection closed). */
  cancel(key: string, wake: Wake): void {
    this.#waitingForAny.delete(wake);
    const set = this.#waitingForKey.get(key);
    if (!set) return;
    set.delete(wake);
    if (set.size === 0) this.#waitingForKey.delete(key);
  }

  /** Waiters now, for tests and metrics. */
  get waiting(): number {
    let n = this.#waitingForAny.size;
    for (const set of this.#waitingForKey.values()) n += set.size;
    return n;
  }

  override release(key: string): void {
    super.release(key);
    const set = this.#waitingForKey.get(key);
    if (!this.#wakeOne(set)) this.#wakeOne(this.#waitingForAny);
    if (set?.size === 0 && this.#waitingForKey.get(key) === set) this.#waitingForKey.delete(key);
  }

  #wakeOne(set: Set<Wake> | undefined): boolean {
    if (!set || set.size === 0) return false;
    // A copy: a waiter that is refused again adds itself back, and must not be visited twice.
    for (const wake of [...set]) {
      set.delete(wake);
      if (wake()) return true;
    }
    return false;
  }
}
