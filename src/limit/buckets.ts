import { SourceTable } from './sources.js';

interface Bucket {
  tokens: number;
  /** performance.now() of the last refill. */
  at: number;
}

/**
 * One token bucket per source address: `ratePerS` tokens a second, at most
 * `burst` saved up, one token per query. A new source starts with a full
 * bucket. Rates are given on every call (they come from the config snapshot
 * of the moment), so a reload changes them without losing what each source
 * has used.
 *
 * Bounded: the table holds at most `maxSources` sources (a SourceTable). At
 * the bound the source seen least recently is forgotten and, when it comes
 * back, starts again with a full bucket: the bound can only make the limit
 * more generous for a moment, never refuse a source that is within its rate.
 */
export class TokenBuckets {
  readonly #table: SourceTable<Bucket>;

  constructor(maxSources: number) {
    this.#table = new SourceTable(maxSources);
  }

  /** Sources tracked now. */
  get size(): number {
    return this.#table.size;
  }

  /** Takes one token from `source`'s bucket; false when it is empty (the query is over the limit). */
  take(source: string, ratePerS: number, burst: number, now: number): boolean {
    const bucket = this.#table.get(source, () => ({ tokens: burst, at: now }));
    const refilled = bucket.tokens + ((now - bucket.at) * ratePerS) / 1000;
    bucket.tokens = refilled > burst ? burst : refilled;
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
