import type { Fetched, Flow, Next, Query, Stage } from '../pipeline/types.js';
import { questionKey } from '../wire/question-key.js';
import type { AnswerCache } from './store.js';

/** Serves forwarded queries from the answer cache; on a miss asks the stage below and keeps what it got. */
export class CacheStage implements Stage {
  readonly name = 'cache';

  constructor(private readonly cache: AnswerCache) {}

  handle(query: Query, next: Next): Flow {
    const m = query.message;
    const key = questionKey(m.question.wire, m.edns?.dnssecOk ?? false, m.checkingDisabled);
    const hit = this.cache.get(key);
    if (hit) return { kind: 'answer', view: hit.view, ageS: hit.ageS, source: 'cache' };
    const flow = next(query);
    return flow instanceof Promise ? flow.then((f) => this.#keep(key, f)) : this.#keep(key, flow);
  }

  #keep(key: string, fetched: Fetched | null): Fetched | null {
    if (fetched?.kind === 'answer') this.cache.set(key, fetched.view);
    return fetched;
  }
}
