import type { NamePattern } from '../config/types.js';
import { parentAt } from '../wire/names.js';

/**
 * A set of name rules that answers "which rule matches this name?" with one
 * hash lookup for the name and one per label above it, however long the list:
 * `exact` rules are keyed by the name, `subtree` rules ("*.example.org") by
 * the name they sit below.
 */
export class NameSet {
  readonly #exact = new Map<string, string>();
  readonly #subtree = new Map<string, string>();

  constructor(patterns: readonly NamePattern[]) {
    for (const p of patterns) {
      const map = p.kind === 'exact' ? this.#exact : this.#subtree;
      if (!map.has(p.name)) map.set(p.name, p.source);
    }
  }

  get size(): number {
    return this.#exact.size + this.#subtree.size;
  }

  /** The source text of a matching rule, or undefined. `name` is lower-case without a trailing dot. */
  match(name: string): string | undefined {
    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;
    if (this.#subtree.size === 0) return undefined;
    // "*.example.org" covers every name strictly below example.org (wire/names.ts isBelow), never
    // example.org itself: the names parentAt walks to are exactly those a name is below.
    for (let at = parentAt(name, 0); at >= 0; at = parentAt(name, at)) {
      const rule = this.#subtree.get(name.slice(at));
      if (rule !== undefined) return rule;
    }
    return undefined;
  }
}
