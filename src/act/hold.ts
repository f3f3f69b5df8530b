import type { Config } from '../config/types.js';
import type { Answer, Next, Query, Stage } from '../pipeline/types.js';
import { blockedText, sinkholeReply } from './sinkhole.js';

/**
 * `unlisted: hold` without an approval service: there is nobody to ask, so
 * the query is sinkholed (the spec: "hold" acts as sinkhole). Queries that are
 * not held pass through untouched.
 */
export class HoldStage implements Stage {
  readonly name = 'hold';

  constructor(private readonly config: Pick<Config, 'sinkhole'>) {}

  handle(query: Query, next: Next): Promise<Answer> {
    const decision = query.decision!;
    if (decision.action !== 'hold' || decision.wouldBlock) return next(query);
    const { response, ttlS } = this.config.sinkhole;
    const text = blockedText(query.agent!.role.name, 'unlisted', 'no approval service to hold for');
    return Promise.resolve({ action: 'sinkhole', reason: 'unlisted', reply: sinkholeReply(response, query.qtype, ttlS, text) });
  }
}
