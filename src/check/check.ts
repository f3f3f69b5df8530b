import type { Fetched, Flow, Next, Query, Reason, Stage } from '../pipeline/types.js';
import type { ResponseView } from '../wire/response.js';
import { firstPrivateAddress } from './private.js';

/**
 * Looks at what came back for a forwarded query, from the cache or upstream:
 * a CNAME into the deny list or a private address for a public name replaces
 * the verdict with a sinkhole. The answer itself is left as it came; answer/
 * decides what the agent gets (in audit mode, still the upstream's answer).
 */
export class CheckStage implements Stage {
  readonly name = 'check';

  /**
   * The first private address of each answer seen, worked out once per answer
   * (a cache hit is the same view again) and dropped with the view.
   */
  readonly #privateAddress = new WeakMap<ResponseView, string | null>();

  constructor(private readonly blockPrivate: boolean) {}

  handle(query: Query, next: Next): Flow {
    const flow = next(query);
    return flow instanceof Promise ? flow.then((f) => this.#judge(query, f)) : this.#judge(query, flow);
  }

  #judge(query: Query, fetched: Fetched | null): Fetched | null {
    // Only verdicts that let the answer through are judged: in audit mode a query decide already
    // blocked is forwarded too, and its line must keep the reason enforce mode would have given.
    if (fetched?.kind !== 'answer' || query.verdict?.serve !== 'upstream') return fetched;
    const view = fetched.view;
    const role = query.agent!.role;

    for (const target of view.cnames) {
      const rule = role.deny.match(target);
      if (rule !== undefined) return block(query, fetched, 'denylist_cname', `${target} matches ${rule}`);
    }
    if (this.blockPrivate) {
      const address = this.#privateAddressOf(view);
      if (address !== null && role.privateOk.match(query.qname) === undefined) {
        return block(query, fetched, 'rebinding', `${query.qname} answered ${address}`);
      }
    }
    return fetched;
  }

  #privateAddressOf(view: ResponseView): string | null {
    let address = this.#privateAddress.get(view);
    if (address === undefined) {
      address = firstPrivateAddress(view);
      this.#privateAddress.set(view, address);
    }
    return address;
  }
}

/** The grant and hold that let the query through stay in the verdict, for the log. */
function block(query: Query, fetched: Fetched, reason: Reason, rule: string): Fetched {
  query.verdict = { ...query.verdict!, action: 'sinkhole', reason, serve: 'sinkhole', rule };
  return fetched;
}
