import type { ApprovalConfig } from '../config/types.js';
import { NOTHING, type Fetched, type Flow, type Next, type Query, type Stage, type Verdict } from '../pipeline/types.js';
import type { HoldLimits, HoldOutcome, HoldPostProblem, HoldWaiter } from './registry.js';

/**
 * `unlisted: hold`: asks the approval service and waits for a reviewer
 * (registry.ts keeps the books). Queries that are not held pass through untouched.
 *
 * Every verdict this stage sets for a held query has action `hold` and one
 * of these reasons (check/ may still turn an approved one into a sinkhole):
 *   - hold_approved: a reviewer allowed it; the query goes on down the chain
 *     carrying the new grant, so its TTLs are capped by the grant's life;
 *   - hold_denied:   denied now, or recently (sinkhole, EDE names the hold);
 *   - hold_timeout:  no decision within hold_timeout (`on_hold_timeout`:
 *     sinkhole with the sinkhole TTL, or SERVFAIL); the hold stays open;
 *   - hold_capacity: max_pending_holds, max_pending_holds_per_agent (for the
 *     agent, or for its client entry), or the hold's waiters are used up (sinkhole);
 *   - link_down:     the event link is down (`on_link_down`: sinkhole, or
 *     forward down the chain);
 *   - hold_error:    the link is up but the service did not take the hold
 *     (non-2xx, timeout, network error): sinkhole, whatever on_link_down
 *     says, since nobody reviewed the name. The rule says what went wrong.
 *
 * Without an `approval` section there is nobody to ask: see withoutApproval.
 */
export class HoldStage implements Stage {
  readonly name = 'hold';
  readonly #limits: HoldLimits | null;

  constructor(
    private readonly approval: ApprovalConfig | null,
    private readonly holds: HoldWaiter | null,
  ) {
    this.#limits = approval === null ? null : {
      timeoutMs: approval.holdTimeoutMs,
      maxPending: approval.maxPendingHolds,
      maxPendingPerAgent: approval.maxPendingHoldsPerAgent,
      keepOpenMs: approval.grantTtlMs,
    };
  }

  handle(query: Query, next: Next): Flow {
    const verdict = query.verdict!;
    // Audit mode asks nobody: the query is forwarded and logged as held.
    if (verdict.serve !== 'review' || query.audit) return next(query);
    if (this.holds === null || this.approval === null || this.#limits === null) {
      query.verdict = withoutApproval(verdict);
      return NOTHING;
    }
    return this.#hold(query, next, this.holds, this.approval, this.#limits);
  }

  async #hold(query: Query, next: Next, holds: HoldWaiter, approval: ApprovalConfig, limits: HoldLimits): Promise<Fetched | null> {
    const agent = query.agent!;
    const verdict = query.verdict!;
    const outcome = await holds.wait(
      { agent: agent.name, entry: agent.entry, role: agent.role.name, client: query.client, qname: query.qname, qtype: query.qtype },
      limits,
    );
    query.verdict = withTunneling(heldVerdict(outcome, approval), verdict);
    return query.verdict.serve === 'upstream' ? next(query) : NOTHING;
  }
}

/**
 * A verdict that asks for a reviewer when there is none (no `approval`
 * section): the spec's "hold acts as sinkhole", reason `unlisted`. The chain
 * and `intentdns explain` / `replay` both use this.
 */
export function withoutApproval(verdict: Verdict): Verdict {
  if (verdict.serve !== 'review') return verdict;
  return withTunneling({ action: 'sinkhole', reason: 'unlisted', serve: 'sinkhole', rule: 'no approval service to hold for' }, verdict);
}

/** A logged tunneling signal (tunneling `action: log`) stays on the verdict that replaces the one that had it. */
function withTunneling(next: Verdict, before: Verdict): Verdict {
  return before.tunneling === undefined ? next : { ...next, tunneling: before.tunneling };
}

function heldVerdict(outcome: HoldOutcome, approval: ApprovalConfig): Verdict {
  switch (outcome.kind) {
    case 'approved':
      return { action: 'hold', reason: 'hold_approved', serve: 'upstream', holdId: outcome.holdId, grant: outcome.grant };
    case 'denied':
      return { action: 'hold', reason: 'hold_denied', serve: 'sinkhole', holdId: outcome.holdId };
    case 'timeout':
      return {
        action: 'hold', reason: 'hold_timeout', holdId: outcome.holdId,
        serve: approval.onHoldTimeout === 'servfail' ? 'servfail' : 'sinkhole',
      };
    case 'capacity':
      return {
        action: 'hold', reason: 'hold_capacity', serve: 'sinkhole',
        ...(outcome.holdId !== undefined && { holdId: outcome.holdId }),
        rule: outcome.full === 'holds' ? 'too many pending holds' : 'too many queries waiting on the hold',
      };
    case 'link_down':
      return {
        action: 'hold', reason: 'link_down', serve: approval.onLinkDown === 'forward' ? 'upstream' : 'sinkhole',
        rule: 'approval service unreachable',
      };
    case 'error':
      return {
        action: 'hold', reason: 'hold_error', serve: 'sinkhole', holdId: outcome.holdId,
        rule: postFailure(outcome.problem, outcome.status),
      };
  }
}

/** The decision log's `rule` for a failed hold POST. */
function postFailure(problem: HoldPostProblem, status: number | null): string {
  switch (problem) {
    case 'refused':
      return `approval service answered ${status ?? 'no status'}`;
    case 'no_answer':
      return 'approval service did not answer';
    case 'oversize':
      return `approval service answered ${status ?? 'no status'} with a body too long to read`;
    case 'busy':
      return 'approval service busy: too many hold POSTs in flight';
  }
}
