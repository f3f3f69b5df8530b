import type { Fetched, Next, Query, Reason, Stage } from '../pipeline/types.js';
import { isPrivateAddress } from './private.js';

/**
 * Looks at what came back for a forwarded query, from the cache or upstream:
 * a CNAME into the deny list or a private address for a public name replaces
 * the verdict with a sinkhole. The answer itself is left as it came; answer/
 * decides what the agent gets (in audit mode, still the upstream's answer).
 */
export class CheckStage implements Stage {
  readonly name = 'check';

  constructor(private readonly blockPrivate: boolean) {}

  async handle(query: Query, next: Next): Promise<Fetched | null> {
    const fetched = await next(query);
    // Only verdicts that let the answer through are judged: in audit mode a query decide already
    // blocked is forwarded too, and its line must keep the reason enforce mode would have given.
    if (fetched?.kind !== 'answer' || query.verdict?.serve !== 'upstream') return fetched;
    const view = fetched.view;
    const role = query.agent!.role;

    for (const target of view.cnames) {
      const rule = role.deny.match(target);
      if (rule !== undefined) return block(query, fetched, 'denylist_cname', `${target} matches ${rule}`);
    }
    if (this.blockPrivate && view.addresses.length > 0 && role.privateOk.match(query.qname) === undefined) {
      for (const address of view.addresses) {
        if (isPrivateAddress(address)) return block(query, fetched, 'rebinding', `${query.qname} answered ${address}`);
      }
    }
    return fetched;
  }
}

/** The grant and hold that let the query through stay in the verdict, for the log. */
function block(query: Query, fetched: Fetched, reason: Reason, rule: string): Fetched {
  query.verdict = { ...query.verdict!, action: 'sinkhole', reason, serve: 'sinkhole', rule };
  return fetched;
}
