import type { Mode } from '../config/types.js';
import type { Agent, Decision, GrantRef } from '../pipeline/types.js';
import { qtypeName } from '../wire/qtypes.js';

/** The approved-command grants of an agent, as decide/ needs them. Filled by the approval link. */
export interface GrantLookup {
  find(agent: string, qname: string, now: number): GrantRef | undefined;
}

/** Agents an operator has cut off. */
export interface QuarantineLookup {
  has(agent: string): boolean;
}

export const NO_GRANTS: GrantLookup = { find: () => undefined };

/**
 * The decision rules of the spec, in their order, as one pure function, so the
 * serving chain, `intentdns explain` and `intentdns replay` cannot drift apart.
 * Unknown clients never get here: identify/ refuses them.
 */
export function decide(
  agent: Agent, qname: string, qtype: number,
  grants: GrantLookup, quarantine: QuarantineLookup, mode: Mode, now: number,
): Decision {
  const decision = decideEnforced(agent, qname, qtype, grants, quarantine, now);
  if (mode === 'audit' && decision.action !== 'forward') return { ...decision, wouldBlock: true };
  return decision;
}

function decideEnforced(
  agent: Agent, qname: string, qtype: number,
  grants: GrantLookup, quarantine: QuarantineLookup, now: number,
): Decision {
  const role = agent.role;
  if (quarantine.has(agent.name)) return { action: 'sinkhole', reason: 'quarantine' };
  if (!role.allowsType(qtype)) return { action: 'refuse', reason: 'qtype', rule: `qtypes of ${role.name} (${qtypeName(qtype)})` };
  const denied = role.deny.match(qname);
  if (denied !== undefined) return { action: 'sinkhole', reason: 'denylist', rule: denied };
  const grant = grants.find(agent.name, qname, now);
  if (grant) return { action: 'forward', reason: 'grant', grant };
  const allowed = role.allow.match(qname);
  if (allowed !== undefined) return { action: 'forward', reason: 'allowlist', rule: allowed };
  return { action: role.unlisted, reason: 'unlisted' };
}
