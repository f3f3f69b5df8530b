import type { Fetched, Next, Query, Stage } from '../pipeline/types.js';
import { questionKey } from '../wire/question-key.js';
import type { AnswerCache } from './store.js';

/** Serves forwarded queries from the answer cache; on a miss asks the stage below and keeps what it got. */
export class CacheStage implements Stage {
  readonly name = 'cache';

  constructor(private readonly cache: AnswerCache) {}

  async handle(query: Query, next: Next): Promise<Fetched | null> {
    const m = query.message;
    const key = questionKey(m.question.wire, m.edns?.dnssecOk ?? false, m.checkingDisabled);
    const hit = this.cache.get(key);
    if (hit) return { kind: 'answer', view: hit.view, ageS: hit.ageS, source: 'cache' };
    const fetched = await next(query);
    if (fetched?.kind === 'answer') this.cache.set(key, fetched.view);
    return fetched;
  }
}
