/**
 * A counter with two ceilings: one for everyone, one per key (a client IP).
 * The per-key ceiling is what keeps one flooding client from using up the
 * global one and starving everybody else.
 */

/** Which ceiling refused: mirrors the DropReason values of the same names. */
export type LimitVerdict = 'global_limit' | 'client_limit';

export class KeyedLimiter {
  readonly maxTotal: number;
  readonly maxPerKey: number;
  #total = 0;
  readonly #perKey = new Map<string, number>();

  constructor(maxTotal: number, maxPerKey: number) {
    if (!(maxTotal >= 1 && maxPerKey >= 1)) throw new RangeError('limits must be at least 1');
    this.maxTotal = maxTotal;
    this.maxPerKey = maxPerKey;
  }

  /** Takes one slot for `key`, or says which ceiling is in the way (and takes nothing). */
  tryAcquire(key: string): LimitVerdict | null {
    if (this.#total >= this.maxTotal) return 'global_limit';
    const held = this.#perKey.get(key) ?? 0;
    if (held >= this.maxPerKey) return 'client_limit';
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
