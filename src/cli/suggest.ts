import { parseName } from '../config/pattern.js';
import { readDecisionLog } from './decision-log.js';
import { UsageError, type Io } from './io.js';

/**
 * Reasons that mean "the role did not cover this name": the names an operator
 * may want to allow. Deliberate blocks (denylist, rebinding, qtype,
 * quarantine) are never suggested back.
 */
const UNCOVERED = new Set(['unlisted', 'grant', 'hold_approved', 'hold_denied', 'hold_timeout', 'hold_capacity', 'link_down']);

export const suggest = {
  name: 'suggest',
  summary: 'read a decision log and print a YAML allowlist that would have allowed what was seen',
  usage: 'intentdns suggest --log FILE [--role ROLE] [--json]',
  options: {
    log: { type: 'string' },
    role: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values: { log?: string; role?: string; json?: boolean }, io: Io): Promise<number> {
    if (!values.log) throw new UsageError('--log needs a decision log file');
    const byRole = new Map<string, Map<string, number>>();
    let lines = 0;
    for await (const q of readDecisionLog(values.log)) {
      lines++;
      if (!q.role || !UNCOVERED.has(q.reason)) continue;
      if (values.role !== undefined && q.role !== values.role) continue;
      if (!parseName(q.qname).ok) continue;
      let names = byRole.get(q.role);
      if (!names) byRole.set(q.role, (names = new Map()));
      names.set(q.qname, (names.get(q.qname) ?? 0) + 1);
    }
    const roles = [...byRole.keys()].sort();
    if (values.json) {
      const out = Object.fromEntries(roles.map((r) => [r, { allow: sortedNames(byRole.get(r)!).map(([name, count]) => ({ name, count })) }]));
      io.out(JSON.stringify({ lines, roles: out }));
      return 0;
    }
    const text = [`# intentdns suggest: names outside each role's lists, from ${lines} decision lines of ${values.log}`];
    text.push('# Review before pasting into roles: every name here was resolved or asked for by an agent.');
    if (roles.length === 0) text.push('roles: {}');
    else text.push('roles:');
    for (const role of roles) {
      text.push(`  ${role}:`, '    allow:');
      for (const [name, count] of sortedNames(byRole.get(role)!)) text.push(`      - ${name}  # ${count} ${count === 1 ? 'query' : 'queries'}`);
    }
    io.out(text.join('\n'));
    return 0;
  },
} as const;

function sortedNames(names: Map<string, number>): Array<[string, number]> {
  return [...names].sort(([a], [b]) => a.localeCompare(b));
}
