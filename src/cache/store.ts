import { LRUCache } from 'lru-cache';
import { RCODE } from '../wire/constants.js';
import type { ResponseView } from '../wire/response.js';

/**
 * The answer cache: upstream answers by question (see wire/question-key.ts), positive
 * and negative, each kept for its own TTL (`ResponseView.cacheTtl`: the lowest
 * answer TTL, or the SOA-derived negative TTL of RFC 2308) and never longer
 * than `maxTtlS`. Bounded by `maxEntries` and by `maxBytes` (what the entries
 * hold, see `entryBytes`), least recently used out first.
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
  /** Bound on the sum of `entryBytes` over the entries (`cache.max_bytes`). */
  readonly maxBytes: number;
  /** Longest time anything is kept, in seconds, whatever the upstream's TTL. Default one day. */
  readonly maxTtlS?: number;
  /** Milliseconds on a monotonic clock; injectable for tests. Default `performance.now`. */
  readonly now?: () => number;
}

export const DEFAULT_CACHE_MAX_TTL_S = 86_400;

/**
 * What one entry is counted as: the message bytes, the key, the TTL and
 * address offsets, the CNAME targets and logged addresses as strings, and a
 * fixed part for the objects around them. An estimate of the memory it pins,
 * so that many small answers are bounded as well as a few large ones; the
 * figures are V8's on 64-bit (8 bytes an array slot, a one-byte string's
 * characters plus a 16-byte header).
 */
export function entryBytes(key: string, view: ResponseView): number {
  let bytes = ENTRY_OVERHEAD + view.wire.length + key.length;
  bytes += 8 * (view.ttlOffsets.length + view.ttls.length + view.ipv4At.length + view.ipv6At.length);
  for (const name of view.cnames) bytes += 16 + name.length;
  for (const address of view.addresses) bytes += 16 + address.length;
  return bytes;
}

/**
 * The entry, the view and its Buffer objects, six array headers, the LRU's
 * map slot. Measured by `npm run bench -- --lists` (200,000 cached answers of
 * one A record): about 1,070–1,100 bytes of process memory each (738 of V8
 * heap, the rest the message buffers and the allocator's slack). With 700,
 * as first measured on the heap alone, the count was 842 bytes an entry and
 * `cache.max_bytes` bounded only ≈ 78 % of what the cache really held.
 */
const ENTRY_OVERHEAD = 950;

interface Entry {
  readonly view: ResponseView;
  readonly storedAt: number;
  readonly expiresAt: number;
  /** `entryBytes`, worked out once when stored. */
  readonly bytes: number;
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
    const maxBytes = opts.maxBytes;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
      throw new RangeError(`cache maxBytes must be a positive integer, got ${maxBytes}`);
    }
    // An answer larger than the whole bound is not stored at all (lru-cache's maxEntrySize defaults to maxSize).
    this.#lru = new LRUCache<string, Entry>({ max: opts.maxEntries, maxSize: maxBytes, sizeCalculation: (entry) => entry.bytes });
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

  /**
   * Stores `view` unless it must not be cached (SERVFAIL and other errors, TC,
   * TTL 0) or is larger than the whole byte bound. Returns whether it did.
   */
  set(key: string, view: ResponseView): boolean {
    if (!AnswerCache.cacheable(view)) return false;
    const ttlS = Math.min(view.cacheTtl, this.#maxTtlS);
    const storedAt = this.#now();
    const bytes = entryBytes(key, view);
    if (bytes > this.#lru.maxSize) {
      this.#lru.delete(key);       // an older answer for the key must not outlive a newer one we could not keep
      return false;
    }
    this.#lru.set(key, { view, storedAt, expiresAt: storedAt + ttlS * 1000, bytes });
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

  /** `entryBytes` summed over the entries held, expired ones not yet dropped included: the `cache_bytes` gauge. Never above `maxBytes`. */
  get bytes(): number {
    return this.#lru.calculatedSize;
  }

  get hits(): number {
    return this.#hits;
  }

  get misses(): number {
    return this.#misses;
  }
}
