import type { TokenBuckets } from './buckets.js';

/** The rates of one config snapshot (limits.*), as RateLimit reads them. */
export interface Rates {
  /** Queries per second per source address of a known client; 0: not limited. */
  readonly clientQps: number;
  readonly clientBurst: number;
  /** Queries per second per source address that matches no client; never off. */
  readonly unknownQps: number;
  readonly unknownBurst: number;
}

/**
 * Whether a query may go on, by its source's token bucket: the first thing
 * the pipeline asks about a packet, before decoding it, so a flood costs a
 * map lookup and a few additions per packet. Built per config snapshot
 * around the buckets that outlive it.
 */
export class RateLimit {
  constructor(
    private readonly rates: Rates,
    private readonly buckets: TokenBuckets,
  ) {}

  /** True when the query is within its source's budget (and takes one token), false when it is over. */
  admit(source: string, known: boolean, now: number): boolean {
    const r = this.rates;
    if (known) return r.clientQps === 0 || this.buckets.take(source, r.clientQps, r.clientBurst, now);
    return this.buckets.take(source, r.unknownQps, r.unknownBurst, now);
  }
}
