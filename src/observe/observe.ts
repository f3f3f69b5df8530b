import type { Logger } from 'pino';
import type { QueryLogging } from '../config/types.js';
import type { Answer, Query } from '../pipeline/types.js';
import { rcodeName } from '../wire/constants.js';
import { qtypeName } from '../wire/qtypes.js';

/** Told about every finished query, e.g. by the metrics module. */
export type QueryObserver = (query: Query, answer: Answer, seconds: number) => void;

/**
 * The last step before encode: times the query, tells the observers (metrics)
 * and writes the one decision log line. The stages return values and do not
 * log decisions themselves.
 */
export class Observe {
  constructor(
    private readonly log: Logger,
    private readonly logging: QueryLogging,
    private readonly observers: readonly QueryObserver[] = [],
  ) {}

  record(query: Query, answer: Answer): void {
    const seconds = (performance.now() - query.receivedAt) / 1000;
    for (const observe of this.observers) observe(query, answer, seconds);
    if (this.#shouldLog(answer)) this.log.info(decisionLine(query, answer, seconds), 'query');
  }

  #shouldLog(answer: Answer): boolean {
    if (this.logging === 'all') return true;
    if (this.logging === 'none') return false;
    // "blocked" means everything that did not plainly resolve: upstream failures too.
    return answer.action !== 'forward' || answer.wouldBlock || answer.reason === 'upstream_error' || answer.error !== undefined;
  }
}

/** The fields of the spec's decision log line; absent facts are left out, not null. */
export function decisionLine(query: Query, answer: Answer, seconds: number): Record<string, unknown> {
  const { reply, verdict, fetched } = answer;
  const line: Record<string, unknown> = {
    client: query.client,
    transport: query.transport,
    agent: query.agent?.name,
    role: query.agent?.role.name,
    qname: query.qname,
    qtype: qtypeName(query.qtype),
    action: answer.action,
    reason: answer.reason,
    rule: verdict?.rule,
    rcode: rcodeName(reply.kind === 'synthetic' ? reply.rcode : reply.view.rcode),
    duration_ms: Math.round(seconds * 1e6) / 1e3,
  };
  const grant = verdict?.grant;
  if (grant) line.grant = { id: grant.id, command: grant.command, approved_by: grant.approvedBy };
  if (verdict?.holdId !== undefined) line.hold_id = verdict.holdId;
  // What the agent was handed; a blocked answer's addresses stay out (the rule names what tripped).
  if (reply.kind === 'upstream') {
    line.answers = reply.view.addresses;
    if (reply.view.cnames.length > 0) line.cnames = reply.view.cnames;
  }
  if (fetched?.kind === 'answer') line.upstream = fetched.source;
  if (answer.wouldBlock) line.would_block = true;
  const error = answer.error ?? (fetched?.kind === 'failed' ? fetched.error : undefined);
  if (error !== undefined) line.error = error;
  return line;
}
