import type { Config, Mode } from '../config/types.js';
import { DecideStage } from '../decide/decide.js';
import { NO_BUDGETS, NO_GRANTS, NO_QUARANTINE, type DomainBudgetLookup } from '../decide/policy.js';
import { compileRoles } from '../decide/role.js';
import { withoutApproval } from '../hold/hold.js';
import { ClientTable } from '../identify/clients.js';
import { IdentifyStage } from '../identify/identify.js';
import { chain, NOTHING, Query, type Agent, type Next, type Verdict } from '../pipeline/types.js';
import { buildQuery } from '../wire/build.js';
import { encodeName } from '../wire/names.js';
import { decodeQuery } from '../wire/query.js';
import { UsageError } from './io.js';

export interface OfflineDecision {
  readonly agent: Agent | undefined;
  readonly verdict: Verdict;
  /** Audit mode, and enforce would have blocked. */
  readonly wouldBlock: boolean;
}

/**
 * Decides queries the way the serving chain does, through the same stages
 * (identify, decide) and hold's rule for when nobody can be asked, with no
 * network. Grants, holds and quarantines live only in a running server, so
 * none apply here. The tunneling budgets apply when `budgets` is given
 * (replay spends them in log order, at the logged times); without, only a
 * name's own tunneling signals do.
 */
export class OfflineDecider {
  readonly #chain: Next;
  readonly #approval: boolean;
  #now = Date.now();

  /** `force`: one mode for every agent (replay: enforce); null: each agent's own, as the server runs. */
  constructor(config: Config, force: Mode | null = null, budgets: DomainBudgetLookup = NO_BUDGETS) {
    const clients = new ClientTable(config.clients, compileRoles(config.roles), config.mode);
    // The chain stops after decide: nothing is held, cached or asked upstream.
    const decide = new DecideStage(NO_GRANTS, NO_QUARANTINE, budgets, () => this.#now);
    this.#chain = chain([new IdentifyStage(clients, force), decide], () => NOTHING);
    this.#approval = config.approval !== null;
  }

  /**
   * `now`: when the query was asked, epoch milliseconds (default: now).
   * @throws UsageError when `qname` is not a name a DNS query can carry.
   */
  async decide(client: string, qname: string, qtype: number, now = Date.now()): Promise<OfflineDecision> {
    this.#now = now;
    const query = new Query(questionFor(qname, qtype), client, 'udp', performance.now());
    await this.#chain(query);
    const decided = query.verdict!;
    const verdict = this.#approval ? decided : withoutApproval(decided);
    return { agent: query.agent, verdict, wouldBlock: query.audit && verdict.serve !== 'upstream' };
  }
}

function questionFor(qname: string, qtype: number) {
  if (qname.length > 253 || qname.split('.').some((label) => label.length === 0 || label.length > 63)) {
    throw new UsageError(`"${qname}" is not a valid DNS name (labels of 1 to 63 characters, 253 in all)`);
  }
  const question = Buffer.concat([encodeName(qname), Buffer.from([qtype >> 8, qtype & 0xff, 0, 1])]);
  const decoded = decodeQuery(buildQuery(0, question, { dnssecOk: false, checkingDisabled: false }));
  if (!decoded.ok) throw new UsageError(`"${qname}" is not a name intentdns would judge: ${decoded.rejection.detail}`);
  return decoded.query;
}
