import type { ApprovalConfig, Config } from '../config/types.js';
import type { Answer, Next, Query, Reason, Stage } from '../pipeline/types.js';
import type { HoldLimits, HoldOutcome, HoldRegistry } from './holds.js';
import { blockedReply, SERVFAIL } from './sinkhole.js';

/**
 * `unlisted: hold`: asks the approval service and waits for a reviewer
 * (holds.ts keeps the books). Queries that are not held pass through untouched.
 *
 * Every answer of a held query has action `hold` and one of these reasons:
 *   - hold_approved: a reviewer allowed it; the query goes on down the chain
 *     carrying the new grant, so its TTLs are capped by the grant's life;
 *   - hold_denied:   denied now, or recently (sinkhole, EDE names the hold);
 *   - hold_timeout:  no decision within hold_timeout (`on_hold_timeout`:
 *     sinkhole with the sinkhole TTL, or SERVFAIL); the hold stays open;
 *   - hold_capacity: max_pending_holds, the agent's share of it, or the
 *     hold's waiters are used up (sinkhole);
 *   - link_down:     the approval service cannot be reached (`on_link_down`:
 *     sinkhole, or forward down the chain).
 *
 * Without an `approval` section there is nobody to ask: the query is
 * sinkholed, reason `unlisted` (the spec: "hold" acts as sinkhole).
 */
export class HoldStage implements Stage {
  readonly name = 'hold';
  readonly #approval: ApprovalConfig | null;
  readonly #limits: HoldLimits | null;

  constructor(
    private readonly config: Pick<Config, 'sinkhole' | 'approval'>,
    private readonly holds: HoldRegistry | null,
  ) {
    this.#approval = holds === null ? null : config.approval;
    this.#limits = this.#approval === null ? null : {
      timeoutMs: this.#approval.holdTimeoutMs,
      maxPending: this.#approval.maxPendingHolds,
      keepOpenMs: this.#approval.grantTtlMs,
    };
  }

  async handle(query: Query, next: Next): Promise<Answer> {
    const decision = query.decision!;
    if (decision.action !== 'hold' || decision.wouldBlock) return next(query);
    const agent = query.agent!;
    if (this.holds === null || this.#approval === null || this.#limits === null) {
      return this.#sinkhole(query, 'unlisted', undefined, 'no approval service to hold for');
    }
    const outcome = await this.holds.wait(
      { agent: agent.name, role: agent.role.name, client: query.client, qname: query.qname, qtype: query.qtype },
      this.#limits,
    );
    return this.#answer(query, next, outcome, this.#approval);
  }

  #answer(query: Query, next: Next, outcome: HoldOutcome, approval: ApprovalConfig): Promise<Answer> | Answer {
    switch (outcome.kind) {
      case 'approved':
        query.hold = { reason: 'hold_approved', id: outcome.holdId, grant: outcome.grant };
        return next(query);
      case 'denied':
        return this.#sinkhole(query, 'hold_denied', outcome.holdId, `hold ${outcome.holdId}`);
      case 'timeout':
        if (approval.onHoldTimeout === 'servfail') return { action: 'hold', reason: 'hold_timeout', holdId: outcome.holdId, reply: SERVFAIL };
        return this.#sinkhole(query, 'hold_timeout', outcome.holdId, `hold ${outcome.holdId} undecided`);
      case 'capacity':
        return this.#sinkhole(query, 'hold_capacity', outcome.holdId,
          outcome.holdId === undefined ? 'too many pending holds' : `hold ${outcome.holdId} has too many waiting queries`);
      case 'link_down':
        if (approval.onLinkDown === 'forward') {
          query.hold = { reason: 'link_down', ...(outcome.holdId !== undefined && { id: outcome.holdId }) };
          return next(query);
        }
        return this.#sinkhole(query, 'link_down', outcome.holdId, 'approval service unreachable');
    }
  }

  #sinkhole(query: Query, reason: Reason, holdId: string | undefined, detail: string): Answer {
    const reply = blockedReply(this.config.sinkhole, query, reason, detail);
    // Without an approval service the query was never held: it is a plain sinkhole.
    const action = reason === 'unlisted' ? 'sinkhole' : 'hold';
    return { action, reason, reply, ...(holdId !== undefined && { holdId }) };
  }
}
