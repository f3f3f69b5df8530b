import type { Fetched, Query } from '../pipeline/types.js';
import type { Upstreams } from './exchange.js';

/** The end of the chain: asks the upstream servers and returns what came back, or why nothing did. */
export class UpstreamStage {
  readonly name = 'upstream';

  constructor(private readonly upstreams: Upstreams) {}

  readonly handle = async (query: Query): Promise<Fetched> => {
    const m = query.message;
    const result = await this.upstreams.exchange(m.question.wire, {
      dnssecOk: m.edns?.dnssecOk ?? false,
      checkingDisabled: m.checkingDisabled,
    });
    return result.ok
      ? { kind: 'answer', view: result.view, ageS: 0, source: result.upstream }
      : { kind: 'failed', error: result.error };
  };
}
