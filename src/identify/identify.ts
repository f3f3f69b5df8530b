import { refusedReply } from '../act/sinkhole.js';
import type { Answer, Next, Query, Stage } from '../pipeline/types.js';
import { EDE } from '../wire/constants.js';
import type { ClientTable } from './clients.js';

const UNKNOWN_CLIENT: Answer = {
  action: 'refuse',
  reason: 'unknown_client',
  reply: refusedReply(EDE.PROHIBITED, 'intentdns: unknown client'),
};

/** Ties the query to an agent and role by source address; strangers are refused in every mode. */
export class IdentifyStage implements Stage {
  readonly name = 'identify';

  constructor(private readonly clients: ClientTable) {}

  handle(query: Query, next: Next): Promise<Answer> {
    const agent = this.clients.lookup(query.client);
    if (!agent) return Promise.resolve(UNKNOWN_CLIENT);
    query.agent = agent;
    return next(query);
  }
}
