import { LRUCache } from 'lru-cache';
import { RCODE } from '../wire/constants.js';
import type { ResponseView } from '../wire/response.js';

/**
 * The answer cache: upstream answers by question (see wire/question-key.ts), positive
 * and negative, each kept for its own TTL (`ResponseView.cacheTtl`: the lowest
 * answer TTL, or the SOA-derived negative TTL of RFC 2308) and never longer
 * than `maxTtlS`. Bounded by `maxEntries`, least recently used out first.
 * (`answers.max_ttl`, what agents may keep, is not applied here: answer/encode.ts
 * caps the TTLs of each answer as it is written.)
 *
 * The view is stored as the upstream sent it; a hit returns it with its age in
 * whole seconds, and `renderAnswer` takes the age off every TTL. Expired
 * entries are dropped when looked up (or pushed out by newer ones), so no
 * timers run.
 */

export interface CacheHit {
  readonly view: ResponseView;
  /** Whole seconds since the answer was stored; always below its TTL. */
  readonly ageS: number;
}

export interface AnswerCacheOptions {
  readonly maxEntries: number;
  /** Longest time anything is kept, in seconds, whatever the upstream's TTL. Default one day. */
  readonly maxTtlS?: number;
  /** Milliseconds on a monotonic clock; injectable for tests. Default `performance.now`. */
  readonly now?: () => number;
}

export const DEFAULT_CACHE_MAX_TTL_S = 86_400;

interface Entry {
  readonly view: ResponseView;
  readonly storedAt: number;
  readonly expiresAt: number;
}

export class AnswerCache {
  readonly #lru: LRUCache<string, Entry>;
  readonly #maxTtlS: number;
  readonly #now: () => number;
  #hits = 0;
  #misses = 0;

  constructor(opts: AnswerCacheOptions) {
    if (!Number.isInteger(opts.maxEntries) || opts.maxEntries < 1) {
      throw new RangeError(`cache maxEntries must be a positive integer, got ${opts.maxEntries}`);
    }
    this.#lru = new LRUCache<string, Entry>({ max: opts.maxEntries });
    this.#maxTtlS = opts.maxTtlS ?? DEFAULT_CACHE_MAX_TTL_S;
    this.#now = opts.now ?? (() => performance.now());
  }

  /** True when an answer may be cached at all: NOERROR or NXDOMAIN, not truncated, a TTL above zero. */
  static cacheable(view: ResponseView): boolean {
    return (view.rcode === RCODE.NOERROR || view.rcode === RCODE.NXDOMAIN) && !view.truncated && view.cacheTtl > 0;
  }

  get(key: string): CacheHit | undefined {
    const entry = this.#lru.get(key);
    if (entry !== undefined) {
      const now = this.#now();
      if (now < entry.expiresAt) {
        this.#hits++;
        return { view: entry.view, ageS: Math.max(0, Math.floor((now - entry.storedAt) / 1000)) };
      }
      this.#lru.delete(key);
    }
    this.#misses++;
    return undefined;
  }

  /** Stores `view` unless it must not be cached (SERVFAIL and other errors, TC, TTL 0). Returns whether it did. */
  set(key: string, view: ResponseView): boolean {
    if (!AnswerCache.cacheable(view)) return false;
    const ttlS = Math.min(view.cacheTtl, this.#maxTtlS);
    const storedAt = this.#now();
    this.#lru.set(key, { view, storedAt, expiresAt: storedAt + ttlS * 1000 });
    return true;
  }

  delete(key: string): boolean {
    return this.#lru.delete(key);
  }

  clear(): void {
    this.#lru.clear();
  }

  /** Entries held, expired ones not yet dropped included: the `cache_entries` gauge. */
  get size(): number {
    return this.#lru.size;
  }

  get hits(): number {
    return this.#hits;
  }

  get misses(): number {
    return this.#misses;
  }
}
