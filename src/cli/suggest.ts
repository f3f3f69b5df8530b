import { isIP } from 'node:net';
import { isPrivateAddress } from '../check/private.js';
import { ipToBigInt } from '../config/address.js';
import type { Reason } from '../pipeline/types.js';
import { allowable, allowItem, proposeAllowList, queries, SUBTREE_MIN_NAMES, UNCOVERED_REASONS, type Proposal } from '../suggest/index.js';
import { readDecisionLog, UnreadableLines, type LoggedQuery } from './decision-log.js';
import { UsageError, type Io } from './io.js';

/** Why a seen name is listed apart instead of suggested. */
type Withheld = 'nxdomain' | 'rebinding';
const WITHHELD_TEXT: Readonly<Record<Withheld, string>> = {
  nxdomain: 'the name does not exist (every upstream answer was NXDOMAIN)',
  rebinding: 'answered with a private address (rebinding): allowed, it is still blocked unless private_ok lists it',
};

interface Seen {
  queries: number;
  /** Answers from upstream (forwarded, or audit mode's would-block), and how many of them were NXDOMAIN. */
  answered: number;
  nxdomain: number;
  rebinding: boolean;
}

export const suggest = {
  name: 'suggest',
  summary: 'read a decision log and print a YAML allowlist that would have allowed what was seen',
  usage: 'intentdns suggest --log FILE|- [--role ROLE] [--json]',
  options: {
    log: { type: 'string' },
    role: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values: { log?: string; role?: string; json?: boolean }, io: Io): Promise<number> {
    if (!values.log) throw new UsageError('--log needs a decision log file (- for stdin)');
    const source = values.log === '-' ? 'stdin' : values.log;
    const byRole = new Map<string, Map<string, Seen>>();
    const unreadable = new UnreadableLines();
    let lines = 0;
    for await (const q of readDecisionLog(values.log, unreadable, io.stdin)) {
      lines++;
      if (!q.role || (values.role !== undefined && q.role !== values.role)) continue;
      if (!allowable(q.qname) || (!UNCOVERED_REASONS.has(q.reason as Reason) && q.reason !== 'rebinding')) continue;
      let names = byRole.get(q.role);
      if (!names) byRole.set(q.role, (names = new Map()));
      record(names, q);
    }
    const note = unreadable.describe(source);
    if (note) io.err(note);
    if (lines === 0) {
      io.err(`${source}: no decision log lines (msg "query") to suggest from`);
      return 1;
    }

    const roles = [...byRole.keys()].sort().map((role) => ({ role, ...split(byRole.get(role)!) }));
    if (values.json) {
      const out = Object.fromEntries(roles.map(({ role, allow, withheld }) => [role, {
        allow: allow.map((p) => ({ name: p.entry, count: p.count, ...(p.names && { names: p.names }), ...(p.preset && { preset: p.preset }) })),
        ...(withheld.length > 0 && { not_suggested: withheld }),
      }]));
      io.out(JSON.stringify({ lines, roles: out }));
      return 0;
    }
    const text = [
      `# intentdns suggest: names outside each role's lists, from ${lines} decision lines of ${source}`,
      '# Review before pasting into roles: every name here was resolved or asked for by an agent.',
      `# "@preset": more than half of the preset's names were seen. "*.domain": ${SUBTREE_MIN_NAMES} or more names were seen below it, and it allows every other name below it too.`,
    ];
    text.push(roles.length === 0 ? 'roles: {}' : 'roles:');
    for (const { role, allow, withheld } of roles) {
      text.push(`  ${role}:`, allow.length === 0 ? '    allow: []' : '    allow:');
      for (const p of allow) text.push(`      ${allowItem(p)}`);
      for (const why of ['nxdomain', 'rebinding'] as const) {
        const names = withheld.filter((w) => w.why === why);
        if (names.length === 0) continue;
        text.push(`    # not suggested, ${WITHHELD_TEXT[why]}:`);
        for (const w of names) text.push(`    #   - ${w.name}  # ${queries(w.count)}`);
      }
    }
    io.out(text.join('\n'));
    return 0;
  },
} as const;

function record(names: Map<string, Seen>, q: LoggedQuery): void {
  let seen = names.get(q.qname);
  if (!seen) names.set(q.qname, (seen = { queries: 0, answered: 0, nxdomain: 0, rebinding: false }));
  seen.queries++;
  // Audit mode forwards an unlisted name without the rebinding check; its logged answer shows what enforce would block.
  if (q.reason === 'rebinding' || q.answers?.some(isPrivate)) seen.rebinding = true;
  // A sinkhole's NXDOMAIN is ours; only an answer that came from upstream says the name does not exist.
  else if (q.action === 'forward' || q.wouldBlock) {
    seen.answered++;
    if (q.rcode === 'NXDOMAIN') seen.nxdomain++;
  }
}

function isPrivate(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const bytes = family === 4 ? 4 : 16;
  const value = ipToBigInt(address, family);
  return isPrivateAddress(Uint8Array.from({ length: bytes }, (_, i) => Number((value >> BigInt(8 * (bytes - 1 - i))) & 0xffn)));
}

function split(names: ReadonlyMap<string, Seen>): { allow: Proposal[]; withheld: Array<{ name: string; count: number; why: Withheld }> } {
  const suggestable = new Map<string, number>();
  const withheld: Array<{ name: string; count: number; why: Withheld }> = [];
  for (const [name, seen] of [...names].sort(([a], [b]) => a.localeCompare(b))) {
    if (seen.rebinding) withheld.push({ name, count: seen.queries, why: 'rebinding' });
    else if (seen.answered > 0 && seen.nxdomain === seen.answered) withheld.push({ name, count: seen.queries, why: 'nxdomain' });
    else suggestable.set(name, seen.queries);
  }
  return { allow: proposeAllowList(suggestable), withheld };
}
