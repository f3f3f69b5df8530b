/**
 * A worker's ways to the primary's state, behind the small interfaces the
 * query path asks for: holds (HoldWaiter), the firewall writer (SetWrites)
 * and the decision stream (DecisionSink). Each request is bounded in number
 * and in time (pending.ts), and answers the way the single process would
 * when the primary cannot: a hold as timed out, a firewall write as failed
 * (the stage's on_error decides), a decision line dropped and counted.
 */
import type { SetElement, SetWrites } from '../firewall/index.js';
import type { HeldQuery, HoldLimits, HoldOutcome, HoldWaiter } from '../hold/registry.js';
import type { DecisionEvent, DecisionSink } from '../observe/decision-sink.js';
import type { FromWorker, Unversioned } from './messages.js';
import { PendingRequests } from './pending.js';

/** process.send: false when the channel is closed or its backlog is already long (then the caller holds back). */
export type SendToPrimary = (message: Unversioned<FromWorker>) => boolean;

/** Queries of one worker waiting on holds at once: as many as the primary lets wait in all (64 per hold, bounded holds). */
const MAX_WAITING_HOLDS = 10_000;
/** Past hold_timeout, the longest a held query waits for the primary's answer before it is answered as timed out. */
const HOLD_ANSWER_SLACK_MS = 2_000;

export class RemoteHolds implements HoldWaiter {
  readonly #pending = new PendingRequests<HoldOutcome>(MAX_WAITING_HOLDS);

  constructor(private readonly send: SendToPrimary) {}

  wait(q: HeldQuery, limits: HoldLimits): Promise<HoldOutcome> {
    const request = this.#pending.open(limits.timeoutMs + HOLD_ANSWER_SLACK_MS, () => ({ kind: 'timeout', holdId: '' }));
    if (request === null) return Promise.resolve({ kind: 'capacity', full: 'holds' });
    // Plain fields only: the query's facts, not the Query object.
    const query: HeldQuery = { agent: q.agent, entry: q.entry, role: q.role, client: q.client, qname: q.qname, qtype: q.qtype };
    this.send({ t: 'hold.wait', id: request.id, query, limits });
    return request.answer;
  }

  answered(id: number, outcome: HoldOutcome): void {
    this.#pending.settle(id, outcome);
  }

  /** The primary is gone: every waiting query is answered as timed out. */
  close(): void {
    this.#pending.settleAll({ kind: 'timeout', holdId: '' });
  }
}

/** Answers waiting for their addresses to be written at once, per worker. */
const MAX_WAITING_WRITES = 10_000;
/** firewall.wait is at most seconds; past this the write counts as failed whatever the stage's own timer says. */
const WRITE_TIMEOUT_MS = 10_000;

/**
 * Every write goes to the primary's SetWriter, which knows what the sets
 * hold (and what a revoked grant shortened), so the worker keeps no copy of
 * its own that could drift: a round trip over IPC per forwarded answer while
 * firewall: is on.
 */
export class RemoteSetWriter implements SetWrites {
  readonly #pending = new PendingRequests<string | null>(MAX_WAITING_WRITES);

  constructor(private readonly send: SendToPrimary) {}

  write(elements: readonly SetElement[]): Promise<void> {
    const request = this.#pending.open(WRITE_TIMEOUT_MS, () => 'no answer from the primary process');
    if (request === null) return Promise.reject(new Error('too many firewall writes waiting for the primary process'));
    this.send({ t: 'firewall.write', id: request.id, elements });
    return request.answer.then((error) => {
      if (error !== null) throw new Error(error);
    });
  }

  written(id: number, error: string | null): void {
    this.#pending.settle(id, error);
  }

  close(): void {
    this.#pending.settleAll('primary process gone');
  }
}

/** Decision lines queued for the primary per worker; beyond it they are dropped (counted), never waited for. */
const MAX_QUEUED_DECISIONS = 2_000;
/** One IPC message carries at most this many lines. */
const DECISIONS_PER_MESSAGE = 256;
/** Lines wait at most this long to go together. */
const DECISION_FLUSH_MS = 10;

/**
 * The worker's side of GET /v1/decisions: lines are made and forwarded only
 * while the primary says someone subscribes (`wanted`), queued at most
 * MAX_QUEUED_DECISIONS, and sent in batches.
 */
export class RemoteDecisionSink implements DecisionSink {
  #wanted = false;
  #queue: DecisionEvent[] = [];
  #due: NodeJS.Timeout | null = null;
  #dropped = 0;

  constructor(private readonly send: SendToPrimary) {}

  get listening(): boolean {
    return this.#wanted;
  }

  /** Lines dropped because the queue was full (a part of intentdns_decision_stream_dropped_total). */
  get dropped(): number {
    return this.#dropped;
  }

  want(on: boolean): void {
    this.#wanted = on;
    if (!on) this.#queue = [];
  }

  publish(event: DecisionEvent): void {
    if (this.#queue.length >= MAX_QUEUED_DECISIONS) {
      this.#dropped += 1;
      return;
    }
    this.#queue.push({ line: event.line, agent: event.agent, role: event.role, action: event.action, reason: event.reason });
    this.#due ??= setTimeout(this.#flush, DECISION_FLUSH_MS);
  }

  readonly #flush = (): void => {
    this.#due = null;
    while (this.#queue.length > 0) {
      // A backlog on the channel: the rest waits here, in the bounded queue, not in Node's unbounded one.
      if (!this.send({ t: 'decisions', events: this.#queue.splice(0, DECISIONS_PER_MESSAGE) })) break;
    }
    if (this.#queue.length > 0) this.#due = setTimeout(this.#flush, DECISION_FLUSH_MS);
  };

  close(): void {
    if (this.#due !== null) clearTimeout(this.#due);
    this.#due = null;
    this.#queue = [];
  }
}
