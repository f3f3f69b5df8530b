import { proposeAllowList, type Proposal } from './allowlist.js';

/**
 * The allow-list item `intentdns suggest` writes for a proposal, without its
 * indentation: `- pkg.example.com  # 2 queries`. The console shows the same
 * text for a blocked name, so what an operator copies from either is one line.
 */
export function allowItem(p: Proposal): string {
  return `- ${yamlEntry(p.entry)}  # ${describe(p)}`;
}

/**
 * What suggest would write for `name` seen `count` times and nothing else:
 * the name itself, or a preset when the name is most of a (one-name) preset.
 * A subtree needs several names, so one name alone never becomes "*.domain".
 */
export function allowItemFor(name: string, count: number): string {
  const [proposal] = proposeAllowList(new Map([[name, count]]));
  return allowItem(proposal ?? { entry: name, count });
}

/** "*" starts a YAML alias and "@" is reserved: those entries need quotes. */
export function yamlEntry(entry: string): string {
  return /^[*@]/.test(entry) ? `"${entry}"` : entry;
}

function describe(p: Proposal): string {
  if (p.preset) return `${p.preset.seen} of its ${p.preset.of} names seen, ${queries(p.count)}`;
  if (p.names) return `${p.names.length} names below it seen, ${queries(p.count)}`;
  return queries(p.count);
}

export function queries(n: number): string {
  return `${n} ${n === 1 ? 'query' : 'queries'}`;
}
