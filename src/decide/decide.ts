import { NOTHING, type Agent, type Fetched, type Flow, type Next, type Query, type Stage } from '../pipeline/types.js';
import { NameFactsMemo } from './tunneling.js';
import { decide, NO_BUDGETS, quarantined, type DomainBudgetLookup, type GrantLookup, type QuarantineLookup } from './policy.js';

/**
 * Applies the role's policy and sets the verdict. A block (sinkhole, refuse)
 * ends the chain here, unless audit mode lets the query go on; forward and
 * hold go on down the chain.
 *
 * Quarantine is looked up again when what went down the chain comes back: a
 * query can wait there for seconds (a hold for its reviewer, an upstream
 * exchange), and an agent quarantined meanwhile must get the quarantine
 * answer, not the one it was waiting for. Here, once, covers every stage
 * below that can wait.
 */
export class DecideStage implements Stage {
  readonly name = 'decide';

  /** This snapshot's memo of each name's tunneling facts (its roles' limits key it). */
  readonly #names = new NameFactsMemo();

  constructor(
    private readonly grants: GrantLookup,
    private readonly quarantine: QuarantineLookup,
    /** The agents' tunneling budgets; they outlive the snapshot (server.ts), so a reload does not reset them. */
    private readonly budgets: DomainBudgetLookup = NO_BUDGETS,
    /** Epoch milliseconds; `intentdns replay` passes the logged time so the budgets see the log's pace. */
    private readonly now: () => number = Date.now,
  ) {}

  handle(query: Query, next: Next): Flow {
    const agent = query.agent!;
    query.verdict = decide(agent, query.qname, query.qtype, this.grants, this.quarantine, this.now(), this.budgets, this.#names);
    if (!query.goesOn) return NOTHING;
    const flow = next(query);
    return flow instanceof Promise ? flow.then((f) => this.#lookAgain(query, agent, f)) : this.#lookAgain(query, agent, flow);
  }

  /** The hold id and a logged tunneling signal stay for the log (a reviewer's answer that came too late); a grant no longer matters. */
  #lookAgain(query: Query, agent: Agent, fetched: Fetched | null): Fetched | null {
    if (query.verdict?.reason === 'quarantine') return fetched;
    const cutOff = this.quarantine.match(agent);
    if (cutOff === undefined) return fetched;
    const holdId = query.verdict?.holdId;
    const tunneling = query.verdict?.tunneling;
    query.verdict = { ...quarantined(cutOff), ...(holdId !== undefined && { holdId }), ...(tunneling !== undefined && { tunneling }) };
    return fetched;
  }
}
