import type { Logger } from 'pino';
import type { QueryLogging } from '../config/types.js';
import { DecisionJson } from './decision-json.js';
import type { DecisionSink } from './decision-sink.js';
import { infoLines, type InfoLines } from './line-writer.js';
import type { Agent, Answer, Query, Reason, Transport } from '../pipeline/types.js';
import type { DecodedQuery } from '../wire/query.js';
import { rcodeName } from '../wire/constants.js';
import { qtypeName } from '../wire/qtypes.js';

/** Told about every finished query, e.g. by the metrics module. */
export type QueryObserver = (query: Query, answer: Answer, seconds: number) => void;

/**
 * A query turned away by its source's rate limit before the chain ran
 * (chain.ts checks the limit before decoding): what is known of it.
 */
export interface LimitedQuery {
  readonly client: string;
  readonly transport: Transport;
  /** The client it came from, or null for a source that matches no client. */
  readonly agent: Agent | null;
  readonly action: 'drop' | 'refuse';
  /** Decoded only when it had to be (over_limit refuse, or its log line is due); null otherwise. */
  readonly message: DecodedQuery | null;
  /** From the decoded question, or read from the packet without decoding; undefined when it has none. */
  readonly qtype: number | undefined;
  /** performance.now() when the packet arrived. */
  readonly receivedAt: number;
}

/** Told about every rate-limited query, e.g. by the metrics module. */
export type LimitObserver = (limited: LimitedQuery) => void;

/**
 * Which refused or limited queries get a line (limit/sampler.ts is one):
 * `take` counts one and says how many queries the line stands for, 0 for no line.
 */
export interface LineSampling {
  due(client: string, now: number): boolean;
  take(client: string, now: number): number;
}

/** Reasons whose lines are sampled per source: what a flood is made of, and what filled 358 MB of log. */
const SAMPLED_REASONS: ReadonlySet<Reason> = new Set<Reason>(['unknown_client', 'rate_limit']);

export interface ObserveOptions {
  readonly limitObservers?: readonly LimitObserver[];
  /** Without it every refused and limited query gets its line. */
  readonly sampler?: LineSampling | null;
  /** The live decision stream; it outlives the snapshot (a reload builds a new Observe around the same). */
  readonly sink?: DecisionSink | null;
}

/**
 * The last step before encode: times the query, tells the observers (metrics)
 * and writes the one decision log line. The stages return values and do not
 * log decisions themselves.
 */
export class Observe {
  private readonly limitObservers: readonly LimitObserver[];
  private readonly sampler: LineSampling | null;
  /** The decision lines' way out: pino's destination, without pino's per-line work. */
  private readonly out: InfoLines;
  private readonly lines = new DecisionJson();
  private readonly sink: DecisionSink | null;

  constructor(
    log: Logger,
    private readonly logging: QueryLogging,
    private readonly observers: readonly QueryObserver[] = [],
    opts: ObserveOptions = {},
  ) {
    this.limitObservers = opts.limitObservers ?? [];
    this.sampler = opts.sampler ?? null;
    this.sink = opts.sink ?? null;
    this.out = infoLines(log);
  }

  /**
   * The stream gets every decision whatever log.queries and log.level say (an
   * operator watching it wants what happens now, not what the log keeps), and
   * the same sampling of strangers and rate-limited queries as the log: those
   * are what a flood is made of. The line is made once, for both.
   */
  record(query: Query, answer: Answer): void {
    const seconds = (performance.now() - query.receivedAt) / 1000;
    for (const observe of this.observers) observe(query, answer, seconds);
    const logs = this.#shouldLog(answer) && this.out.enabled();
    const sink = this.sink !== null && this.sink.listening ? this.sink : null;
    if (!logs && sink === null) return;
    let limited: number | undefined;
    if (this.sampler && SAMPLED_REASONS.has(answer.reason)) {
      limited = this.sampler.take(query.client, query.receivedAt);
      if (limited === 0) return;
    }
    const line = this.out.format(this.lines.fields(query, answer, seconds, limited), 'query');
    if (logs) this.out.write(line);
    sink?.publish({ line, agent: query.agent?.name, role: query.agent?.role.name, action: answer.action, reason: answer.reason });
  }

  /** Whether a rate-limited query from `client` would get a line now: the pipeline decodes only those (or refused ones). */
  wouldLog(client: string, now: number): boolean {
    return (this.logging !== 'none' || this.sink?.listening === true) && (this.sampler?.due(client, now) ?? true);
  }

  /** Counts a rate-limited query and writes its line when the sampler says so (`blocked` logs it too: it was not answered). */
  recordLimited(limited: LimitedQuery): void {
    for (const observe of this.limitObservers) observe(limited);
    const logs = this.logging !== 'none' && this.out.enabled();
    const sink = this.sink !== null && this.sink.listening ? this.sink : null;
    if (!logs && sink === null) return;
    const count = this.sampler ? this.sampler.take(limited.client, limited.receivedAt) : 1;
    if (count === 0) return;
    // Rare (sampled), so the object is made and stringified: the fields are those of limitedLine.
    const line = this.out.format(JSON.stringify(limitedLine(limited, count)).slice(1, -1), 'query');
    if (logs) this.out.write(line);
    sink?.publish({ line, agent: limited.agent?.name, role: limited.agent?.role.name, action: limited.action, reason: 'rate_limit' });
  }

  #shouldLog(answer: Answer): boolean {
    if (this.logging === 'all') return true;
    if (this.logging === 'none') return false;
    // "blocked" means everything that did not plainly resolve: upstream failures too, and a
    // tunneling signal logged instead of enforced (the line is what `action: log` is for).
    return answer.action !== 'forward' || answer.wouldBlock || answer.reason === 'upstream_error' || answer.error !== undefined
      || answer.verdict?.tunneling !== undefined;
  }
}

/** The decision line of a rate-limited query: what decisionLine would say, from what is known without the chain. */
export function limitedLine(limited: LimitedQuery, count: number): Record<string, unknown> {
  return {
    client: limited.client,
    transport: limited.transport,
    agent: limited.agent?.name,
    role: limited.agent?.role.name,
    qname: limited.message?.question.name,
    qtype: limited.qtype === undefined ? undefined : qtypeName(limited.qtype),
    action: limited.action,
    reason: 'rate_limit',
    // Dropped or refused: never the upstream's answer.
    blocked: true,
    rcode: limited.action === 'refuse' ? 'REFUSED' : undefined,
    limited: count,
  };
}

/**
 * The fields of the spec's decision log line; absent facts are left out, not
 * null. The log writes the same as text directly (decision-json.ts); this
 * object is what the tests and tools read.
 */
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
    blocked: answer.reply.kind !== 'upstream',
    would_block: answer.wouldBlock ? true : undefined,
    rule: verdict?.rule,
    rcode: rcodeName(reply.kind === 'synthetic' ? reply.rcode : reply.view.rcode),
    duration_ms: Math.round(seconds * 1e6) / 1e3,
  };
  const grant = verdict?.grant;
  if (grant) line.grant = { id: grant.id, command: grant.command, approved_by: grant.approvedBy };
  if (verdict?.holdId !== undefined) line.hold_id = verdict.holdId;
  if (verdict?.tunneling !== undefined) line.tunneling = verdict.tunneling;
  // What the agent was handed; a blocked answer's addresses stay out (the rule names what tripped).
  if (reply.kind === 'upstream') {
    line.answers = reply.view.addresses;
    if (reply.view.cnames.length > 0) line.cnames = reply.view.cnames;
  }
  if (fetched?.kind === 'answer') line.upstream = fetched.source;
  const error = answer.error ?? (fetched?.kind === 'failed' ? fetched.error : undefined);
  if (error !== undefined) line.error = error;
  return line;
}
