/**
 * Answers remembered per name, in two generations: a name found only in the
 * old one moves to the young one, and when the young one is full the old one
 * is dropped. So the names asked within the last `generation` or more
 * distinct names stay remembered, at most 2 × `generation` in all. A single
 * map cleared when full would forget them all at once, and a cycle of more
 * names than it holds (10,000 names under 1,000 rules, as in the bench) would
 * find none of them and pay the memo on top of the work.
 *
 * Only for answers that never go stale: the lists a memo answers for never
 * change (a reload builds new ones, and new memos with them).
 */
export class Memo<V> {
  #young = new Map<string, V>();
  #old = new Map<string, V>();

  constructor(private readonly generation: number) {}

  get(name: string): V | undefined {
    const young = this.#young.get(name);
    if (young !== undefined) return young;
    const old = this.#old.get(name);
    if (old !== undefined) this.set(name, old);
    return old;
  }

  set(name: string, value: V): void {
    if (this.#young.size >= this.generation) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(name, value);
  }
}
