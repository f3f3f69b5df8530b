/**
 * The state a worker's query path reads but only the primary changes: the
 * grants and the quarantine. The primary sends each change to every worker
 * (fanout.ts) and a snapshot to a worker that starts; these apply them.
 */
import type { GrantListing, GrantPattern, GrantSource, GrantStore } from '../grants/grants.js';
import type { QuarantineLookup } from '../decide/policy.js';
import type { Agent, GrantRef } from '../pipeline/types.js';
import { Quarantine } from '../quarantine/quarantine.js';
import type { GrantOp, QuarantineState } from './messages.js';

/** Replays one change of the primary's grant store on a replica: the same call, so the same result. */
export function applyGrantOp(store: GrantStore, op: GrantOp): void {
  if (op.kind === 'add') store.add(op.agent, op.patterns, op.ref, op.now, op.source);
  else store.revoke(op.id);
}

/** Live grants (GrantStore.list) as the changes that make them, one `add` per approval and agent: a starting worker's snapshot. */
export function grantSnapshot(listing: readonly GrantListing[], now: number): GrantOp[] {
  const byApproval = new Map<string, { kind: 'add'; agent: string; patterns: GrantPattern[]; ref: GrantRef; now: number; source: GrantSource }>();
  for (const g of listing) {
    const key = `${g.agent}\0${g.id}`;
    let op = byApproval.get(key);
    if (op === undefined) {
      op = {
        kind: 'add', agent: g.agent, patterns: [], now, source: g.source,
        ref: { id: g.id, command: g.command, approvedBy: g.approved_by, expiresAt: Date.parse(g.expires_at) },
      };
      byApproval.set(key, op);
    }
    op.patterns.push({ scope: g.scope, name: g.name });
  }
  return [...byApproval.values()];
}

/** What the query path needs of a quarantine (QuarantineState) from the primary's. */
export function quarantineState(q: Quarantine): QuarantineState {
  const { agents, clients, cidrs } = q.list();
  return { agents, clients, cidrs };
}

/**
 * A worker's quarantine: the primary's entries, replaced whole on every
 * change (a quarantine is small and changes rarely), so a replica never
 * drifts. Names arrive canonical: the replica knows no names of its own.
 */
export class ReplicaQuarantine implements QuarantineLookup {
  #current = new Quarantine();

  match(agent: Agent): string | undefined {
    return this.#current.match(agent);
  }

  get size(): number {
    return this.#current.size;
  }

  replace(state: QuarantineState): void {
    const next = new Quarantine();
    for (const agent of state.agents) next.set('agent', agent, true);
    for (const client of state.clients) next.set('client', client, true);
    for (const cidr of state.cidrs) next.set('cidr', cidr, true);
    this.#current = next;
  }
}
