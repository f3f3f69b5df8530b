/**
 * Holds in one state (pending, or late), counted overall, per agent and per
 * client entry, each in the order they came in, so the bounds cost O(1): a
 * count is a Set's size and the oldest is its first element.
 */

/** What a HoldSet needs of a hold. */
export interface Counted {
  readonly query: { readonly agent: string; readonly entry: string };
}

export class HoldSet<H extends Counted> {
  readonly #all = new Set<H>();
  readonly #byAgent = new Map<string, Set<H>>();
  readonly #byEntry = new Map<string, Set<H>>();

  get size(): number {
    return this.#all.size;
  }

  has(h: H): boolean {
    return this.#all.has(h);
  }

  add(h: H): void {
    if (this.#all.has(h)) return;
    this.#all.add(h);
    addTo(this.#byAgent, h.query.agent, h);
    addTo(this.#byEntry, h.query.entry, h);
  }

  delete(h: H): boolean {
    if (!this.#all.delete(h)) return false;
    deleteFrom(this.#byAgent, h.query.agent, h);
    deleteFrom(this.#byEntry, h.query.entry, h);
    return true;
  }

  ofAgent(agent: string): ReadonlySet<H> {
    return this.#byAgent.get(agent) ?? EMPTY;
  }

  ofEntry(entry: string): ReadonlySet<H> {
    return this.#byEntry.get(entry) ?? EMPTY;
  }

  /** The one that came in first, overall. */
  oldest(): H | undefined {
    return first(this.#all);
  }

  values(): IterableIterator<H> {
    return this.#all.values();
  }
}

const EMPTY: ReadonlySet<never> = new Set<never>();

/** The first element of a set (its oldest), or undefined. */
export function first<T>(set: ReadonlySet<T>): T | undefined {
  const it = set.values().next();
  return it.done === true ? undefined : it.value;
}

function addTo<H>(map: Map<string, Set<H>>, key: string, h: H): void {
  let set = map.get(key);
  if (set === undefined) map.set(key, (set = new Set()));
  set.add(h);
}

function deleteFrom<H>(map: Map<string, Set<H>>, key: string, h: H): void {
  const set = map.get(key);
  if (set === undefined) return;
  set.delete(h);
  if (set.size === 0) map.delete(key);
}
