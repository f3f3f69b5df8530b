import type { Mode } from '../config/types.js';
import { NOTHING, type Flow, type Next, type Query, type Stage, type Verdict } from '../pipeline/types.js';
import type { ClientTable } from './clients.js';

/** A source that matches no client entry: refused in every mode, so intentdns is never an open resolver. */
export const UNKNOWN_CLIENT: Verdict = { action: 'refuse', reason: 'unknown_client', serve: 'refused' };

/**
 * Ties the query to an agent and role by source address, and to the mode that
 * applies to it: the agent's own (client, else role, else global; see
 * ClientTable), unless `force` overrides every agent's (replay asks what
 * enforce would decide, whatever the config says).
 */
export class IdentifyStage implements Stage {
  readonly name = 'identify';

  constructor(
    private readonly clients: ClientTable,
    private readonly force: Mode | null = null,
  ) {}

  handle(query: Query, next: Next): Flow {
    const agent = this.clients.lookup(query.client);
    if (!agent) {
      query.verdict = UNKNOWN_CLIENT;
      return NOTHING;
    }
    query.agent = agent;
    query.audit = (this.force ?? agent.mode) === 'audit';
    return next(query);
  }
}
