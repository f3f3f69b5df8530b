import type { Agent, GrantRef, Verdict } from '../pipeline/types.js';
import { qtypeName } from '../wire/qtypes.js';
import { NO_BUDGETS, type DomainBudgetLookup } from './domain-budgets.js';
import { tunnelingRule, type NameFactsMemo } from './tunneling.js';

export { NO_BUDGETS, type DomainBudgetLookup };

/**
 * An agent's grants, as decide/ needs them: the grant store (grants/grants.ts),
 * filled from approved commands (approval/approvals.ts) and allowed holds
 * (hold/registry.ts).
 */
export interface GrantLookup {
  find(agent: string, qname: string, now: number): GrantRef | undefined;
}

/**
 * Agents an operator has cut off: by name, by client entry or by source range
 * (quarantine/quarantine.ts). Asked on every query, and again when an answer
 * leaves after waiting (decide.ts).
 */
export interface QuarantineLookup {
  /** What cuts the agent off, as the decision log's `rule` ("agent ci-1", "client pool-{ip}", "cidr 10.0.0.0/8"), or undefined. */
  match(agent: Agent): string | undefined;
}

export const NO_GRANTS: GrantLookup = { find: () => undefined };
export const NO_QUARANTINE: QuarantineLookup = { match: () => undefined };

/** The quarantine verdict. `rule` names the quarantine entry, for the log (the EDE text never carries a rule). */
export function quarantined(rule: string): Verdict {
  return { action: 'sinkhole', reason: 'quarantine', serve: 'sinkhole', rule };
}

/**
 * The decision rules of the spec, in their order, as one pure function, so the
 * serving chain, `intentdns explain` and `intentdns replay` cannot drift apart.
 * Unknown clients never get here: identify/ refuses them. The verdict is the
 * enforced one; audit mode is applied when the answer is made (answer/).
 *
 * Pure but for `budgets`, the agents' windowed tunneling state, which this
 * call spends from when the role has tunneling on (NO_BUDGETS offline).
 */
export function decide(
  agent: Agent, qname: string, qtype: number,
  grants: GrantLookup, quarantine: QuarantineLookup, now: number,
  budgets: DomainBudgetLookup = NO_BUDGETS,
  /** Each name's tunneling facts, remembered (tunneling.ts); without it they are worked out per call. */
  names?: NameFactsMemo,
): Verdict {
  const role = agent.role;
  const cutOff = quarantine.match(agent);
  if (cutOff !== undefined) return quarantined(cutOff);
  if (!role.allowsType(qtype)) {
    const type = qtypeName(qtype);
    return { action: 'refuse', reason: 'qtype', serve: 'refused', rule: `qtypes of ${role.name} (${type})` };
  }
  const lists = role.lists(qname);
  if (lists.deny !== undefined) return { action: 'sinkhole', reason: 'denylist', serve: 'sinkhole', rule: lists.deny };
  // After deny (a denied name says denylist), before grants and allow: a tunnel inside an allowed wildcard is still a tunnel.
  const limits = role.tunneling;
  if (limits === null) return granted(agent, qname, lists.allow, grants, now);
  const tunnel = tunnelingRule(agent.name, qname, limits, budgets, now, names);
  if (tunnel === undefined) return granted(agent, qname, lists.allow, grants, now);
  if (limits.action === 'sinkhole') return { action: 'sinkhole', reason: 'tunneling', serve: 'sinkhole', rule: tunnel };
  return { ...granted(agent, qname, lists.allow, grants, now), tunneling: tunnel };
}

/** The rules after tunneling: grant > allow > unlisted. `allowed`: the allow rule that matches qname. */
function granted(agent: Agent, qname: string, allowed: string | undefined, grants: GrantLookup, now: number): Verdict {
  const grant = grants.find(agent.name, qname, now);
  if (grant) return { action: 'forward', reason: 'grant', serve: 'upstream', grant };
  if (allowed !== undefined) return { action: 'forward', reason: 'allowlist', serve: 'upstream', rule: allowed };
  return UNLISTED[agent.role.unlisted];
}

const UNLISTED: Readonly<Record<Agent['role']['unlisted'], Verdict>> = {
  forward: { action: 'forward', reason: 'unlisted', serve: 'upstream' },
  sinkhole: { action: 'sinkhole', reason: 'unlisted', serve: 'sinkhole' },
  hold: { action: 'hold', reason: 'unlisted', serve: 'review' },
};
