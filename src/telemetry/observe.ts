import type { Logger } from 'pino';
import { SERVFAIL } from '../act/sinkhole.js';
import type { QueryLogging } from '../config/types.js';
import type { Answer, Next, Query, Stage } from '../pipeline/types.js';
import { rcodeName } from '../wire/constants.js';
import { qtypeName } from '../wire/qtypes.js';

/** Told about every finished query, e.g. by the metrics module. */
export type QueryObserver = (query: Query, answer: Answer, seconds: number) => void;

/**
 * First stage of the chain: times the query, turns any fault below into
 * SERVFAIL (never a crash, never a silent drop), and writes the one decision
 * log line. Stages below return values and do not log decisions themselves.
 */
export class ObserveStage implements Stage {
  readonly name = 'observe';

  constructor(
    private readonly log: Logger,
    private readonly logging: QueryLogging,
    private readonly observers: readonly QueryObserver[] = [],
  ) {}

  async handle(query: Query, next: Next): Promise<Answer> {
    let answer: Answer;
    try {
      answer = await next(query);
    } catch (err) {
      this.log.error({ err, qname: query.qname, client: query.client }, 'query failed');
      answer = { action: query.decision?.action ?? 'refuse', reason: 'error', reply: SERVFAIL, error: String(err) };
    }
    const seconds = (performance.now() - query.receivedAt) / 1000;
    for (const observe of this.observers) observe(query, answer, seconds);
    if (this.#shouldLog(answer)) this.log.info(decisionLine(query, answer, seconds), 'query');
    return answer;
  }

  #shouldLog(answer: Answer): boolean {
    if (this.logging === 'all') return true;
    if (this.logging === 'none') return false;
    // "blocked" means everything that did not plainly resolve: upstream failures too.
    return answer.action !== 'forward' || answer.wouldBlock === true || answer.error !== undefined;
  }
}

/** The fields of the spec's decision log line; absent facts are left out, not null. */
export function decisionLine(query: Query, answer: Answer, seconds: number): Record<string, unknown> {
  const reply = answer.reply;
  const line: Record<string, unknown> = {
    client: query.client,
    transport: query.transport,
    agent: query.agent?.name,
    role: query.agent?.role.name,
    qname: query.qname,
    qtype: qtypeName(query.qtype),
    action: answer.action,
    reason: answer.reason,
    rule: answer.rule,
    rcode: rcodeName(reply.kind === 'synthetic' ? reply.rcode : reply.view.rcode),
    duration_ms: Math.round(seconds * 1e6) / 1e3,
  };
  if (answer.grant) line.grant = { id: answer.grant.id, command: answer.grant.command, approved_by: answer.grant.approvedBy };
  if (answer.holdId !== undefined) line.hold_id = answer.holdId;
  if (reply.kind === 'upstream') {
    line.answers = reply.view.addresses;
    if (reply.view.cnames.length > 0) line.cnames = reply.view.cnames;
  }
  if (answer.upstream !== undefined) line.upstream = answer.upstream;
  if (answer.wouldBlock) line.would_block = true;
  if (answer.error !== undefined) line.error = answer.error;
  return line;
}
