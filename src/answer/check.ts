import { blockedReply } from '../act/sinkhole.js';
import type { Config } from '../config/types.js';
import type { Answer, Next, Query, Reason, Stage } from '../pipeline/types.js';
import { isPrivateAddress } from './private.js';

/**
 * Looks at what came back for a forwarded query, from the cache or upstream:
 * a CNAME into the deny list or a private address for a public name turns the
 * answer into a sinkhole, and every TTL is capped so that no cache downstream
 * outlives answers.max_ttl or the grant that allowed the name.
 */
export class CheckStage implements Stage {
  readonly name = 'check';

  constructor(private readonly config: Pick<Config, 'mode' | 'answers' | 'sinkhole'>) {}

  async handle(query: Query, next: Next): Promise<Answer> {
    const answer = await next(query);
    const reply = answer.reply;
    if (reply.kind !== 'upstream') return answer;
    const role = query.agent!.role;

    for (const target of reply.view.cnames) {
      const rule = role.deny.match(target);
      if (rule !== undefined) return this.#block(query, answer, 'denylist_cname', `${target} matches ${rule}`);
    }
    if (this.config.answers.blockPrivate && reply.view.addresses.length > 0 && role.privateOk.match(query.qname) === undefined) {
      for (const address of reply.view.addresses) {
        if (isPrivateAddress(address)) return this.#block(query, answer, 'rebinding', `${query.qname} answered ${address}`);
      }
    }

    let maxTtl = this.config.answers.maxTtlS;
    if (answer.grant) maxTtl = Math.min(maxTtl, Math.max(0, Math.floor((answer.grant.expiresAt - Date.now()) / 1000)));
    return reply.maxTtl === maxTtl ? answer : { ...answer, reply: { ...reply, maxTtl } };
  }

  #block(query: Query, answer: Answer, reason: Reason, rule: string): Answer {
    if (this.config.mode === 'audit') return { ...answer, action: 'sinkhole', reason, rule, wouldBlock: true };
    // The upstream that answered stays in the log; the answer itself does not reach the agent.
    const { grant, upstream, holdId } = answer;
    return {
      action: 'sinkhole', reason, rule,
      reply: blockedReply(this.config.sinkhole, query, reason, rule),
      ...(grant && { grant }), ...(upstream !== undefined && { upstream }), ...(holdId !== undefined && { holdId }),
    };
  }
}
