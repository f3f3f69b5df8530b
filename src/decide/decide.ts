import { blockedReply, blockedText, refusedReply } from '../act/sinkhole.js';
import type { Config } from '../config/types.js';
import type { Answer, Next, Query, Stage } from '../pipeline/types.js';
import { EDE } from '../wire/constants.js';
import { qtypeName } from '../wire/qtypes.js';
import { decide, type GrantLookup, type QuarantineLookup } from './policy.js';

/**
 * Applies the role's policy. Sinkhole and refuse are answered here; forward
 * and hold go on down the chain. In audit mode every decision goes on as a
 * forward, carrying `wouldBlock`.
 */
export class DecideStage implements Stage {
  readonly name = 'decide';

  constructor(
    private readonly config: Pick<Config, 'mode' | 'sinkhole'>,
    private readonly grants: GrantLookup,
    private readonly quarantine: QuarantineLookup,
  ) {}

  handle(query: Query, next: Next): Promise<Answer> {
    const agent = query.agent!;
    const decision = decide(agent, query.qname, query.qtype, this.grants, this.quarantine, this.config.mode, Date.now());
    query.decision = decision;
    if (decision.wouldBlock || decision.action === 'forward' || decision.action === 'hold') return next(query);

    const base = { action: decision.action, reason: decision.reason, ...(decision.rule !== undefined && { rule: decision.rule }) };
    if (decision.action === 'refuse') {
      const text = blockedText(agent.role.name, decision.reason, `type ${qtypeName(query.qtype)} not allowed`);
      return Promise.resolve({ ...base, reply: refusedReply(EDE.BLOCKED, text) });
    }
    return Promise.resolve({ ...base, reply: blockedReply(this.config.sinkhole, query, decision.reason, decision.rule) });
  }
}
