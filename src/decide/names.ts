import type { NamePattern } from '../config/types.js';
import type { TimeSlices } from '../slices.js';
import { parentAt } from '../wire/names.js';
import { Memo } from './memo.js';

/** Names a NameSet's memo generation holds (memo.ts): at most twice that, ≈ 1.6 MiB per set with long names. */
const MEMO_GENERATION = 8192;

/**
 * A set of name rules that answers "which rule matches this name?" with one
 * hash lookup for the name and one per label above it, however long the list:
 * `exact` rules are keyed by the name, `subtree` rules ("*.example.org") by
 * the name they sit below.
 *
 * With subtree rules, match() remembers the answer for each name (memo.ts):
 * agents ask the same names over and over, and one lookup of the whole name,
 * whose hash the string already carries after the first set asked, replaces
 * a slice and a hash per label. The set never changes (a reload builds a new
 * one), so a remembered answer is never stale; test/decide/fast-path.test.ts
 * holds the memo to the rules.
 */
export class NameSet {
  readonly #exact = new Map<string, string>();
  readonly #subtree = new Map<string, string>();
  /** name → the matching rule, or null for none. */
  readonly #memo = new Memo<string | null>(MEMO_GENERATION);

  constructor(patterns: readonly NamePattern[]) {
    for (const p of patterns) this.#add(p);
  }

  /**
   * The same set, filled in time slices (a reload, on the event loop that
   * answers: a million rules take over a second). Nobody holds the set until
   * it resolves, so no query ever meets it half filled.
   *
   * Exact rules first, then subtree rules: a Map copies its whole table when
   * it outgrows it, in one step that cannot be sliced (25 ms at 262,144
   * entries here), and with the kinds interleaved the two maps would outgrow
   * theirs at the same insert, in the same slice.
   */
  static async build(patterns: readonly NamePattern[], slices: TimeSlices): Promise<NameSet> {
    const set = new NameSet([]);
    for (const kind of ['exact', 'subtree'] as const) {
      for (let i = 0; i < patterns.length; i++) {
        const p = patterns[i]!;
        if (p.kind === kind) set.#add(p);
        if ((i & 255) === 255 && slices.due()) await slices.pause();
      }
    }
    return set;
  }

  #add(p: NamePattern): void {
    const map = p.kind === 'exact' ? this.#exact : this.#subtree;
    if (!map.has(p.name)) map.set(p.name, p.source);
  }

  get size(): number {
    return this.#exact.size + this.#subtree.size;
  }

  /** The source text of a matching rule, or undefined. `name` is lower-case without a trailing dot. */
  match(name: string): string | undefined {
    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;
    if (this.#subtree.size === 0) return undefined;
    let rule = this.#memo.get(name);
    if (rule === undefined) this.#memo.set(name, (rule = this.#matchSubtree(name)));
    return rule ?? undefined;
  }

  /** match() without the memo, for a caller that remembers the answer itself (Role.lists). */
  lookup(name: string): string | undefined {
    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;
    if (this.#subtree.size === 0) return undefined;
    return this.#matchSubtree(name) ?? undefined;
  }

  #matchSubtree(name: string): string | null {
    // "*.example.org" covers every name strictly below example.org (wire/names.ts isBelow), never
    // example.org itself: the names parentAt walks to are exactly those a name is below.
    for (let at = parentAt(name, 0); at >= 0; at = parentAt(name, at)) {
      const rule = this.#subtree.get(name.slice(at));
      if (rule !== undefined) return rule;
    }
    return null;
  }
}
