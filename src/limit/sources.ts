/**
 * A Map from source address to some per-source state, bounded in size and
 * ordered by last use: at the bound the source seen least recently is
 * forgotten. Every table in limit/ that a client can grow by sending from
 * new addresses is one of these, so none of them grows without bound.
 */
export class SourceTable<V> {
  readonly maxSources: number;
  readonly #entries = new Map<string, V>();
  /** The key used last: a flood from one source does not reorder the map on every packet. */
  #newest: string | undefined = undefined;

  constructor(maxSources: number) {
    if (!(Number.isSafeInteger(maxSources) && maxSources >= 1)) throw new RangeError(`maxSources must be a whole number ≥ 1, got ${maxSources}`);
    this.maxSources = maxSources;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The state of `source`, made by `create` when the table has none (forgetting the oldest source at the bound). */
  get(source: string, create: () => V): V {
    const found = this.#entries.get(source);
    if (found !== undefined) {
      if (this.#newest !== source) {
        // Map keeps insertion order: re-inserting moves the source to the "recently used" end.
        this.#entries.delete(source);
        this.#entries.set(source, found);
        this.#newest = source;
      }
      return found;
    }
    if (this.#entries.size >= this.maxSources) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    const made = create();
    this.#entries.set(source, made);
    this.#newest = source;
    return made;
  }
}
