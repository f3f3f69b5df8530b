import { loadPreset, presetNames } from '../config/presets.js';
import { NameSet } from '../decide/names.js';
import { splitAtRegistrable } from '../decide/tunneling.js';

/**
 * Distinct names seen below one registrable domain before suggest proposes
 * "*.domain" instead of listing them: fewer are listed one by one, because a
 * subtree allows every name below it, not only those seen.
 */
export const SUBTREE_MIN_NAMES = 5;

/** One allow list entry to propose: a name, "*.domain", or "@preset", with the seen names it stands for. */
export interface Proposal {
  readonly entry: string;
  readonly count: number;
  /** For a subtree or a preset: the seen names it covers. */
  readonly names?: readonly string[];
  /** For a preset: how many of its rules the seen names match, and how many it has. */
  readonly preset?: { readonly seen: number; readonly of: number };
}

/**
 * Turns seen names (name → queries) into allow entries: a preset when more
 * than half of its rules were seen, "*.domain" when SUBTREE_MIN_NAMES or
 * more distinct names were seen below a registrable domain (as the tunneling
 * budgets split a name, splitAtRegistrable), otherwise each name. Preset rules are matched by
 * decide's NameSet, as serving would match them.
 */
export function proposeAllowList(seen: ReadonlyMap<string, number>): Proposal[] {
  const left = new Map(seen);
  const out: Proposal[] = [];
  for (const preset of presetNames()) {
    const patterns = loadPreset(preset) ?? [];
    const set = new NameSet(patterns);
    const covered = [...left.keys()].filter((n) => set.match(n) !== undefined);
    const rules = new Set(covered.map((n) => set.match(n)));
    if (rules.size * 2 <= patterns.length) continue;
    out.push({ entry: `@${preset}`, count: sum(covered, left), names: covered.sort(), preset: { seen: rules.size, of: patterns.length } });
    for (const n of covered) left.delete(n);
  }
  const below = new Map<string, string[]>();
  for (const name of left.keys()) {
    const { domain, below: chars } = splitAtRegistrable(name);
    if (chars > 0) below.set(domain, [...(below.get(domain) ?? []), name]);
  }
  for (const [domain, names] of below) {
    if (names.length < SUBTREE_MIN_NAMES) continue;
    out.push({ entry: `*.${domain}`, count: sum(names, left), names: names.sort() });
    for (const n of names) left.delete(n);
  }
  for (const [name, count] of left) out.push({ entry: name, count });
  return out.sort((a, b) => a.entry.localeCompare(b.entry));
}

function sum(names: readonly string[], counts: ReadonlyMap<string, number>): number {
  return names.reduce((n, name) => n + (counts.get(name) ?? 0), 0);
}
