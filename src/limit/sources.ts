import { LRUCache } from 'lru-cache';

/**
 * A map from source address to some per-source state, bounded in size and
 * ordered by last use: at the bound the source seen least recently is
 * forgotten. Every table in limit/ that a client can grow by sending from
 * new addresses is one of these, so none of them grows without bound.
 *
 * lru-cache keeps the order in preallocated arrays: lookup, reorder and
 * eviction are O(1) however many sources come and go (a plain Map re-ordered
 * by delete + set leaves holes that make each eviction scan).
 */
export class SourceTable<V extends object> {
  readonly maxSources: number;
  readonly #entries: LRUCache<string, V>;

  constructor(maxSources: number) {
    if (!(Number.isSafeInteger(maxSources) && maxSources >= 1)) throw new RangeError(`maxSources must be a whole number ≥ 1, got ${maxSources}`);
    this.maxSources = maxSources;
    this.#entries = new LRUCache<string, V>({ max: maxSources });
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The state of `source`, made by `create` when the table has none (forgetting the oldest source at the bound). */
  get(source: string, create: () => V): V {
    const found = this.#entries.get(source);
    if (found !== undefined) return found;
    const made = create();
    this.#entries.set(source, made);
    return made;
  }
}
