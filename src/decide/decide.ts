import { NOTHING, type Agent, type Fetched, type Flow, type Next, type Query, type Stage } from '../pipeline/types.js';
import { decide, quarantined, type GrantLookup, type QuarantineLookup } from './policy.js';

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

  constructor(
    private readonly grants: GrantLookup,
    private readonly quarantine: QuarantineLookup,
  ) {}

  handle(query: Query, next: Next): Flow {
    const agent = query.agent!;
    query.verdict = decide(agent, query.qname, query.qtype, this.grants, this.quarantine, Date.now());
    if (!query.goesOn) return NOTHING;
    const flow = next(query);
    return flow instanceof Promise ? flow.then((f) => this.#lookAgain(query, agent, f)) : this.#lookAgain(query, agent, flow);
  }

  /** The hold id stays for the log (a reviewer's answer that came too late); a grant no longer matters. */
  #lookAgain(query: Query, agent: Agent, fetched: Fetched | null): Fetched | null {
    if (query.verdict?.reason === 'quarantine') return fetched;
    const cutOff = this.quarantine.match(agent);
    if (cutOff === undefined) return fetched;
    const holdId = query.verdict?.holdId;
    query.verdict = { ...quarantined(cutOff), ...(holdId !== undefined && { holdId }) };
    return fetched;
  }
}
