import type { Answer, Next, Query, Stage } from '../../pipeline/types.js';
import { SERVFAIL } from '../sinkhole.js';
import { AnswerCache, cacheKey } from './cache.js';
import type { Upstreams } from './upstream.js';

/** Largest TTL before check/ applies the caps; the check stage always sets the real one. */
const UNCAPPED = 0x7fffffff;

/** An Answer for a forwarded query: the decision's (and a held query's hold) facts plus what came back. */
function forwarded(query: Query, fields: Pick<Answer, 'reply'> & Partial<Answer>): Answer {
  const d = query.decision!;
  const h = query.hold;
  const grant = h?.grant ?? d.grant;
  return {
    action: d.action,
    reason: h?.reason ?? d.reason,
    ...(d.rule !== undefined && { rule: d.rule }),
    ...(grant && { grant }),
    ...(h?.id !== undefined && { holdId: h.id }),
    ...(d.wouldBlock && { wouldBlock: true }),
    ...fields,
  };
}

/** Serves forwarded queries from the answer cache; on a miss asks the stage below and keeps what it got. */
export class CacheStage implements Stage {
  readonly name = 'cache';

  constructor(private readonly cache: AnswerCache) {}

  async handle(query: Query, next: Next): Promise<Answer> {
    const m = query.message;
    const key = cacheKey(m.question.wire, m.edns?.dnssecOk ?? false, m.checkingDisabled);
    const hit = this.cache.get(key);
    if (hit) return forwarded(query, { reply: { kind: 'upstream', view: hit.view, ageS: hit.ageS, maxTtl: UNCAPPED }, upstream: 'cache' });
    const answer = await next(query);
    if (answer.reply.kind === 'upstream') this.cache.set(key, answer.reply.view);
    return answer;
  }
}

/** The end of the chain: asks the upstream servers; SERVFAIL when none answers. */
export class UpstreamStage {
  readonly name = 'upstream';

  constructor(private readonly upstreams: Upstreams) {}

  readonly handle = async (query: Query): Promise<Answer> => {
    const m = query.message;
    const result = await this.upstreams.exchange(m.question.wire, {
      dnssecOk: m.edns?.dnssecOk ?? false,
      checkingDisabled: m.checkingDisabled,
    });
    if (!result.ok) return forwarded(query, { reply: SERVFAIL, error: result.error });
    return forwarded(query, { reply: { kind: 'upstream', view: result.view, ageS: 0, maxTtl: UNCAPPED }, upstream: result.upstream });
  };
}
