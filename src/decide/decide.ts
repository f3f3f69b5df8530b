import { NOTHING, type Fetched, type Next, type Query, type Stage } from '../pipeline/types.js';
import { decide, type GrantLookup, type QuarantineLookup } from './policy.js';

/**
 * Applies the role's policy and sets the verdict. A block (sinkhole, refuse)
 * ends the chain here, unless audit mode lets the query go on; forward and
 * hold go on down the chain.
 */
export class DecideStage implements Stage {
  readonly name = 'decide';

  constructor(
    private readonly grants: GrantLookup,
    private readonly quarantine: QuarantineLookup,
  ) {}

  handle(query: Query, next: Next): Promise<Fetched | null> {
    query.verdict = decide(query.agent!, query.qname, query.qtype, this.grants, this.quarantine, Date.now());
    return query.goesOn ? next(query) : NOTHING;
  }
}
