/**
 * Questions that every upstream just failed (RFC 9520: resolution failures
 * are cached, here for 5 s), by question key (wire/question-key.ts). A stub
 * resolver retries a SERVFAIL at once and again after a second or two; a
 * burst of retries for a failing name then costs one round of timeouts, not
 * one per retry, and the next identical question is answered SERVFAIL at once.
 *
 * Only failures live here; answers live in the answer cache (cache/), which
 * never holds a failure.
 *
 * Every entry lives the same time, so insertion order is expiry order and the
 * Map is a FIFO: expired entries and, beyond `maxEntries`, the oldest ones are
 * dropped from the front in O(1). Times are `performance.now()` milliseconds.
 */

/** RFC 9520 §3.2: at least 1 s; 5 s is the upper end of what it suggests for a first failure. */
export const FAILURE_TTL_MS = 5_000;

/**
 * Entries at most: a key (≤ 260 bytes) and one line of error text each, so a
 * few MB at worst, whatever clients ask.
 */
export const MAX_FAILURES = 10_000;

export interface CachedFailure {
  /** The exchange's error line ("all upstreams failed: …"). */
  readonly error: string;
  /** Milliseconds since the failure was cached. */
  readonly ageMs: number;
}

export class FailureCache {
  readonly #entries = new Map<string, { readonly error: string; readonly at: number }>();

  constructor(
    private readonly ttlMs = FAILURE_TTL_MS,
    private readonly maxEntries = MAX_FAILURES,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  get(key: string, now: number): CachedFailure | undefined {
    this.#expire(now);
    const entry = this.#entries.get(key);
    return entry && { error: entry.error, ageMs: now - entry.at };
  }

  set(key: string, error: string, now: number): void {
    this.#entries.delete(key);     // re-inserted at the back, so the order stays the expiry order
    this.#entries.set(key, { error, at: now });
    this.#expire(now);
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.maxEntries) break;
      this.#entries.delete(oldest);
    }
  }

  #expire(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (now - entry.at < this.ttlMs) return;
      this.#entries.delete(key);
    }
  }
}
