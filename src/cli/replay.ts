import { loadConfig } from '../config/load.js';
import { DomainBudgets } from '../decide/domain-budgets.js';
import { qtypeNumber } from '../wire/qtypes.js';
import { readDecisionLog, UnreadableLines, type LoggedQuery } from './decision-log.js';
import { configPath, UsageError, type Io } from './io.js';
import { OfflineDecider } from './offline.js';

/**
 * Re-decides every logged query under a (changed) config and reports what
 * would now go differently. Only the policy is replayed: grants, holds and
 * quarantines were runtime state, and answer checks (denylist_cname,
 * rebinding) need the upstream's answer, so those lines are counted apart.
 * The tunneling budgets are spent in file order at each line's logged time,
 * as the server would have spent them (a line without a time: now).
 */
export const replay = {
  name: 'replay',
  summary: 're-decide a decision log under a config and print what would change',
  usage: 'intentdns replay --log FILE|- [--config FILE] [--blocked] [--json]',
  options: {
    log: { type: 'string' },
    config: { type: 'string' },
    blocked: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run(values: { log?: string; config?: string; blocked?: boolean; json?: boolean }, io: Io): Promise<number> {
    if (!values.log) throw new UsageError('--log needs a decision log file (- for stdin)');
    const config = loadConfig(configPath(values.config, io));
    // Enforce: the question is what the new policy decides, whatever mode either config runs in.
    const decider = new OfflineDecider(config, 'enforce', new DomainBudgets());
    const changes = new Map<string, { role: string; from: string; to: string; qname: string; qtype: string; count: number }>();
    let total = 0;
    let notReplayed = 0;

    const unreadable = new UnreadableLines();
    for await (const q of readDecisionLog(values.log, unreadable, io.stdin)) {
      total++;
      const before = policyOutcome(q);
      const qtype = qtypeNumber(q.qtype);
      if (before === undefined || qtype === undefined) { notReplayed++; continue; }
      const { agent, verdict } = await decider.decide(q.client, q.qname, qtype, q.time ?? Date.now()).catch(() => ({ agent: undefined, verdict: undefined }));
      if (verdict === undefined) { notReplayed++; continue; }
      const after = `${verdict.action}/${verdict.reason}`;
      // --blocked: what the config would still keep from the agents, changed or not; otherwise what changed.
      if (values.blocked ? verdict.serve === 'upstream' : after === before) continue;
      const role = agent?.role.name ?? q.role ?? '-';
      const key = `${role}\0${q.qname}\0${q.qtype}\0${before}\0${after}`;
      const change = changes.get(key);
      if (change) change.count++;
      else changes.set(key, { role, from: before, to: after, qname: q.qname, qtype: q.qtype, count: 1 });
    }

    const note = unreadable.describe(values.log === '-' ? 'stdin' : values.log);
    if (note) io.err(note);
    const summary = summarise([...changes.values()]);
    if (values.json) {
      for (const c of changes.values()) io.out(JSON.stringify(c));
      io.out(JSON.stringify({ total, not_replayed: notReplayed, changed: summary.changed, by_role: summary.byRole }));
      return 0;
    }
    for (const c of changes.values()) io.out(`${c.role}\t${c.qname} ${c.qtype}\t${c.from} -> ${c.to}\t(${c.count}×)`);
    const what = values.blocked ? 'would still be blocked under enforce' : 'would be decided differently';
    io.out(`${summary.changed} of ${total} queries ${what} (${notReplayed} not replayable: grants, holds, answer checks)`);
    for (const [role, reasons] of Object.entries(summary.byRole)) {
      io.out(`  ${role}: ${Object.entries(reasons).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    }
    return 0;
  },
} as const;

/** The logged outcome as action/reason of the policy alone, or undefined when the policy alone did not make it. */
function policyOutcome(q: LoggedQuery): string | undefined {
  if (['grant', 'denylist_cname', 'rebinding', 'quarantine', 'upstream_error', 'error'].includes(q.reason)) return undefined;
  // Every hold outcome started as the policy's "hold, unlisted".
  if (q.reason.startsWith('hold_') || q.reason === 'link_down') return 'hold/unlisted';
  return `${q.action}/${q.reason}`;
}

function summarise(changes: ReadonlyArray<{ role: string; from: string; to: string; count: number }>) {
  const byRole: Record<string, Record<string, number>> = {};
  let changed = 0;
  for (const c of changes) {
    changed += c.count;
    const reasons = (byRole[c.role] ??= {});
    const key = `${c.from} -> ${c.to}`;
    reasons[key] = (reasons[key] ?? 0) + c.count;
  }
  return { changed, byRole };
}
