/**
 * The hold registry: the open holds of every agent (spec approval-link.md,
 * "Holds"). It lives in the server's shared state, so holds survive a config
 * reload; each call brings the current config's limits.
 *
 *   - One hold per (agent, name), whatever the type (approval-link.md v1.1
 *     "One hold per name": stubs ask A and AAAA at once, and a reviewer should
 *     see one request). The first query opens it and POSTs it once, with its
 *     type; retransmits, parallel queries and the other types join it, and
 *     each joined query is answered for its own type.
 *   - Each waiting query waits at most `hold_timeout` from its own arrival,
 *     then gets `timeout`; the hold itself stays open (at most `grant_ttl`) so
 *     a late `allow` still creates the grant and the agent's retry succeeds.
 *   - A hold is `pending` while a query waits on it and `late` once every
 *     query it had has been answered (spec v1.1 "Clarifications"). Late holds
 *     do not count against the caps: a burst of undecided holds cannot lock
 *     every agent out for grant_ttl. A retry that joins a late hold makes it
 *     pending again, if there is room (else the retry gets `capacity`).
 *   - `allow` creates the grant and releases every waiter as approved, together
 *     with the agent's other pending holds the new grant covers; `deny` does the
 *     same as denied and is remembered for its span, so retries are not held again.
 *   - A decision that carries its question (v1.1 `agent`, `qname`) is applied by
 *     agent and name, whatever the hold id: so another replica's decision
 *     answers this replica's holds for that question, and a `deny` is
 *     remembered here even when this replica never held the name.
 *   - Bounded: `max_pending_holds` pending holds overall;
 *     `max_pending_holds_per_agent` per agent, and as many per client entry,
 *     so neither one agent nor one `{ip}` template (which makes an agent per
 *     address) can take every hold; 64 waiters per hold. Late holds still
 *     take memory, so they are bounded by the same numbers, counted apart:
 *     when a hold goes late over one of them, the oldest late hold of that
 *     entry, agent, or overall is dropped undecided (outcome `evicted`).
 *
 * The registry only keeps books and says what happened (a HoldOutcome); the
 * hold stage turns outcomes into answers.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';

import { covers, GrantStore, scopePattern, type GrantPattern } from '../grants/grants.js';
import { first, HoldSet } from './hold-set.js';
import type { GrantRef } from '../pipeline/types.js';
import { qtypeName } from '../wire/qtypes.js';

/** The facts of a query the registry needs. */
export interface HeldQuery {
  readonly agent: string;
  /** The client entry that produced the agent, as written (Agent.entry). */
  readonly entry: string;
  readonly role: string;
  readonly client: string;
  readonly qname: string;
  readonly qtype: number;
}

/** What the approval service is told about a new hold (approval/hold-client.ts posts it). */
export interface HoldRequest {
  readonly holdId: string;
  readonly agent: string;
  readonly role: string;
  readonly client: string;               // source IP
  readonly qname: string;
  readonly qtype: string;
  readonly at: number;                   // epoch ms, when the query was held
  readonly recentCommands: readonly string[];
}

/** A reviewer's decision on one hold, as the approval link delivers it (`hold.decided`). */
export interface HoldDecision {
  readonly holdId: string;
  readonly decision: 'allow' | 'deny';
  readonly scope: 'name' | 'domain';
  readonly decidedBy?: string;
  /** When absent, the grant (or remembered denial) lasts `grant_ttl`. */
  readonly ttlSeconds?: number;
  /** v1.1: the agent and name that were held (and the type first asked), when the service sends them. */
  readonly question?: { readonly agent: string; readonly qname: string; readonly qtype?: number };
}

/** How the approval link feeds the holds: decisions, and grants that came some other way. */
export interface HoldDecisions {
  decide(decision: HoldDecision, settings: DecisionSettings): 'approved' | 'denied' | 'unknown';
  release(agent: string, patterns: readonly GrantPattern[], grant: GrantRef): number;
  /** Releases every held query (shutdown). */
  close(): void;
}

/**
 * What the hold stage asks: the registry itself in one process, a remote
 * waiter that asks the primary's registry over IPC in a worker of `listen.workers`.
 */
export interface HoldWaiter {
  /** Resolves with what happened to the query; never rejects. */
  wait(q: HeldQuery, limits: HoldLimits): Promise<HoldOutcome>;
}

/** The current config's limits, passed on every call (a reload may change them). */
export interface HoldLimits {
  /** approval.hold_timeout: the longest one query waits. */
  readonly timeoutMs: number;
  /** approval.max_pending_holds: pending holds overall (late ones: as many again). */
  readonly maxPending: number;
  /** approval.max_pending_holds_per_agent: pending holds per agent, and per client entry (late ones: as many again). */
  readonly maxPendingPerAgent: number;
  /** How long an undecided hold stays open for a late decision: approval.grant_ttl. */
  readonly keepOpenMs: number;
}

/** What a decision needs from the config. */
export interface DecisionSettings {
  /** Span of a grant or remembered denial when the event has no ttl_seconds. */
  readonly grantTtlMs: number;
  /** The longest span ttl_seconds may ask for (approval.max_grant_ttl). */
  readonly maxGrantTtlMs: number;
  /** For scope `domain` under a private suffix. */
  readonly internalSuffixes: readonly string[];
}

export type HoldOutcome =
  | { readonly kind: 'approved'; readonly holdId: string; readonly grant: GrantRef }
  | { readonly kind: 'denied'; readonly holdId: string }
  | { readonly kind: 'timeout'; readonly holdId: string }
  /**
   * No room: `holds`, no pending hold fits the caps (holdId set when the query's hold exists but
   * is late and cannot be pending again); `waiters`, the query's hold has too many waiters.
   */
  | { readonly kind: 'capacity'; readonly full: 'holds' | 'waiters'; readonly holdId?: string }
  /** The link is down: no hold was opened. */
  | { readonly kind: 'link_down' }
  /**
   * The link is up but the service did not take this hold (`problem` says how; `status` is the
   * HTTP status, null when none came). Never "link down": the name was not reviewed.
   */
  | { readonly kind: 'error'; readonly holdId: string; readonly status: number | null; readonly problem: HoldPostProblem };

/**
 * How a hold POST failed. A closed set:
 *   - refused:   the service answered a status other than 200, 201, 202;
 *   - no_answer: timeout or network error;
 *   - oversize:  the answer's body was longer than we read (approval/hold-client.ts);
 *   - busy:      never sent: the POSTs already in flight did not leave room within hold_timeout.
 */
export type HoldPostProblem = 'refused' | 'no_answer' | 'oversize' | 'busy';
const HOLD_POST_PROBLEMS: ReadonlySet<string> = new Set<HoldPostProblem>(['refused', 'no_answer', 'oversize', 'busy']);

/**
 * How a hold ended, for `holds_total{outcome}`. A closed set. `expired`: undecided after
 * grant_ttl; `evicted`: a late hold dropped undecided because too many were late.
 */
export type HoldEnd = 'approved' | 'denied' | 'expired' | 'evicted' | 'post_failed';
export const HOLD_ENDS: readonly HoldEnd[] = ['approved', 'denied', 'expired', 'evicted', 'post_failed'];

/** `pending`: a query waits on it, and it counts against the caps; `late`: every query was answered. */
export type HoldState = 'pending' | 'late';

export interface HoldStats {
  /** Pending holds now (`holds_pending`): the ones the caps count. */
  readonly pending: number;
  /** Late holds now (`holds_late`): open for a late decision, nobody waiting. */
  readonly late: number;
  /** Queries waiting now. */
  readonly waiting: number;
  /** Holds ended, by how (`holds_total{outcome}`). */
  readonly ended: Readonly<Record<HoldEnd, number>>;
}

/** Told once per query that waited, when it stops waiting (`hold_wait_seconds`). */
export type WaitObserver = (outcome: HoldOutcome['kind'], seconds: number) => void;

/** One pending hold as `GET /v1/holds` shows it (snake_case, RFC 3339 times). */
export interface HoldListing {
  readonly hold_id: string;
  readonly agent: string;
  readonly role: string;
  readonly client: string;
  readonly qname: string;
  readonly qtype: string;
  readonly opened_at: string;
  readonly state: HoldState;
  readonly waiting: number;
}

export interface HoldRegistryOptions {
  /** Where `allow` puts its grant; also the source of `recent_commands`. */
  readonly grants: GrantStore;
  /** Tells the service about a new hold; rejects when it did not accept it. */
  readonly post: (request: HoldRequest, timeoutMs: number) => Promise<void>;
  /** Whether the event link is up now; while it is not, no hold is opened. */
  readonly linkUp: () => boolean;
  readonly log: Logger;
  readonly now?: () => number;
  readonly maxWaitersPerHold?: number;
  /** Remembered denials overall (one per agent and name or domain). Default 10 000. */
  readonly maxDenials?: number;
}

export const DEFAULT_MAX_WAITERS_PER_HOLD = 64;

interface Hold {
  readonly id: string;
  readonly key: string;
  readonly query: HeldQuery;
  readonly openedAt: number;            // epoch ms
  readonly waiters: Set<Waiter>;
  readonly expiry: NodeJS.Timeout;
  open: boolean;
}

interface Waiter {
  readonly hold: Hold;
  readonly resolve: (outcome: HoldOutcome) => void;
  readonly arrivedAt: number;           // performance.now()
  timer: NodeJS.Timeout | undefined;
}

export class HoldRegistry implements HoldDecisions, HoldWaiter {
  readonly #grants: GrantStore;
  readonly #post: HoldRegistryOptions['post'];
  readonly #linkUp: () => boolean;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #maxWaiters: number;
  /** Remembered denials: the same structure as grants, with the hold's ref. */
  readonly #denials: GrantStore;
  /** Every open hold, in the order they were opened. */
  readonly #byId = new Map<string, Hold>();
  readonly #byKey = new Map<string, Hold>();
  /** Every open hold is in exactly one of these. */
  readonly #pending = new HoldSet<Hold>();
  readonly #late = new HoldSet<Hold>();
  readonly #ended: Record<HoldEnd, number> = { approved: 0, denied: 0, expired: 0, evicted: 0, post_failed: 0 };
  /** The limits of the latest wait(): a hold that goes late (on a timer) is bounded by them. */
  #limits: HoldLimits | null = null;
  readonly #observers: WaitObserver[] = [];
  #waiting = 0;

  constructor(opts: HoldRegistryOptions) {
    this.#grants = opts.grants;
    this.#post = opts.post;
    this.#linkUp = opts.linkUp;
    this.#log = opts.log;
    this.#now = opts.now ?? Date.now;
    this.#maxWaiters = opts.maxWaitersPerHold ?? DEFAULT_MAX_WAITERS_PER_HOLD;
    const maxDenials = opts.maxDenials ?? 10_000;
    this.#denials = new GrantStore({ maxGrants: maxDenials, maxPerAgent: Math.max(1, Math.ceil(maxDenials / 10)) });
  }

  /**
   * Holds one query: joins the pending hold for its agent and name (any type) or
   * opens one. Resolves with what happened; never rejects. Answers at once
   * when the name was denied recently, the link is down, or there is no room.
   */
  wait(q: HeldQuery, limits: HoldLimits): Promise<HoldOutcome> {
    const now = this.#now();
    // A remembered denial is our own knowledge: it holds whether or not the link is up.
    const denied = this.#denials.find(q.agent, q.qname, now);
    if (denied !== undefined) return Promise.resolve({ kind: 'denied', holdId: denied.id });
    if (!this.#linkUp()) return Promise.resolve({ kind: 'link_down' });
    this.#limits = limits;

    const key = holdKey(q.agent, q.qname);
    let hold = this.#byKey.get(key);
    if (hold === undefined) {
      if (!this.#roomFor(q, limits)) return Promise.resolve({ kind: 'capacity', full: 'holds' });
      hold = this.#open(key, q, limits, now);
    } else if (hold.waiters.size >= this.#maxWaiters) {
      return Promise.resolve({ kind: 'capacity', full: 'waiters', holdId: hold.id });
    } else if (this.#late.has(hold)) {
      // A retry of a name whose hold went late: it waits again if a pending hold fits.
      if (!this.#roomFor(hold.query, limits)) return Promise.resolve({ kind: 'capacity', full: 'holds', holdId: hold.id });
      this.#late.delete(hold);
      this.#pending.add(hold);
    }
    const target = hold;
    return new Promise<HoldOutcome>((resolve) => {
      const waiter: Waiter = { hold: target, resolve, arrivedAt: performance.now(), timer: undefined };
      // The waiter is the timer's argument: no closure per query.
      waiter.timer = setTimeout(this.#onTimeout, limits.timeoutMs, waiter);
      target.waiters.add(waiter);
      this.#waiting += 1;
    });
  }

  /**
   * Applies a reviewer's decision. `allow` creates the grant (scope name or
   * domain, for ttl_seconds or grant_ttl) and releases the waiters; `deny`
   * releases them denied and remembers it for the same span.
   *
   * Which holds it answers: the hold with that id when it is ours, and every
   * open hold of the agent whose name the decision covers. The question is
   * our own hold's when we have it (v1), else the one the event carries
   * (v1.1, another replica's hold). The event's `qtype` never narrows the
   * match: a hold is per name, with queries of several types joined, and the
   * grant or denial the decision makes is per name too, so a hold of that
   * name left waiting would only be answered by that grant a moment later.
   *
   * A `deny` is remembered even when nothing here was held, so the agent's
   * retry on this replica is answered at once. An `allow` that answers
   * nothing here makes no grant: the event has no decision time, so a
   * replayed one (a cold start replays `grant_ttl`) would open the name for
   * a whole span again on every restart. A denial stretched that way is
   * harmless. Returns 'unknown' when the decision changed nothing here.
   */
  decide(event: HoldDecision, settings: DecisionSettings): 'approved' | 'denied' | 'unknown' {
    const own = this.#byId.get(event.holdId);
    const question = own !== undefined ? own.query : event.question;
    if (question === undefined) return 'unknown';
    const { agent, qname } = question;
    const qtype = own !== undefined ? own.query.qtype : event.question?.qtype;
    const allow = event.decision === 'allow';
    const pattern = scopePattern(qname, event.scope, settings.internalSuffixes);
    const answered = this.#coveredBy(agent, pattern, own);
    if (allow && answered.length === 0) return 'unknown';
    const now = this.#now();
    const spanMs = Math.min(event.ttlSeconds !== undefined ? event.ttlSeconds * 1000 : settings.grantTtlMs, settings.maxGrantTtlMs);
    const ref: GrantRef = {
      // The decided hold's id on every replica, so each replica's grant names the same decision.
      id: event.holdId,
      command: qtype === undefined ? `held query ${qname}` : `held query ${qname} ${qtypeName(qtype)}`,
      approvedBy: event.decidedBy ?? null,
      expiresAt: now + spanMs,
    };
    if (allow) this.#grants.add(agent, [pattern], ref, now, 'hold');
    else this.#denials.add(agent, [pattern], ref, now, 'hold');
    this.#log.info(
      {
        hold_id: event.holdId, agent, qname, ...(qtype !== undefined && { qtype: qtypeName(qtype) }), decision: event.decision,
        scope: pattern.scope, name: pattern.name, decided_by: event.decidedBy, expires_at: new Date(ref.expiresAt).toISOString(),
        // Which of our holds it answered: another replica's decision answers holds with ids of our own.
        matched_by: own !== undefined ? 'hold_id' : 'question', answered: answered.map((h) => h.id),
      },
      allow ? 'hold approved' : 'hold denied',
    );
    for (const hold of answered) {
      this.#end(hold, allow ? 'approved' : 'denied');
      const outcome: HoldOutcome = allow ? { kind: 'approved', holdId: hold.id, grant: ref } : { kind: 'denied', holdId: hold.id };
      this.#settleAll(hold, outcome);
    }
    return allow ? 'approved' : 'denied';
  }

  /**
   * A grant that came some other way (an approved command) answers the
   * agent's pending holds it covers: their waiters go on as approved, with
   * that grant, and the holds end here. Returns how many holds it released.
   */
  release(agent: string, patterns: readonly GrantPattern[], grant: GrantRef): number {
    const covered = this.#ofAgent(agent).filter((h) => patterns.some((p) => covers(p, h.query.qname)));
    for (const hold of covered) {
      this.#end(hold, 'approved');
      this.#settleAll(hold, { kind: 'approved', holdId: hold.id, grant });
    }
    return covered.length;
  }

  /** Adds an observer that is told about every query that stops waiting (for hold_wait_seconds). */
  observe(observer: WaitObserver): void {
    this.#observers.push(observer);
  }

  get stats(): HoldStats {
    return { pending: this.#pending.size, late: this.#late.size, waiting: this.#waiting, ended: { ...this.#ended } };
  }

  /** Open holds, pending and late, oldest first. */
  list(_now?: number): HoldListing[] {
    return [...this.#byId.values()].map((h) => ({
      hold_id: h.id,
      agent: h.query.agent,
      role: h.query.role,
      client: h.query.client,
      qname: h.query.qname,
      qtype: qtypeName(h.query.qtype),
      opened_at: new Date(h.openedAt).toISOString(),
      state: this.#late.has(h) ? 'late' : 'pending',
      waiting: h.waiters.size,
    }));
  }

  /** Drops every hold and releases its waiters as timed out; leaves no timer behind. */
  close(): void {
    for (const hold of [...this.#byId.values()]) {
      this.#end(hold, null);
      this.#settleAll(hold, { kind: 'timeout', holdId: hold.id });
    }
  }

  #open(key: string, q: HeldQuery, limits: HoldLimits, now: number): Hold {
    let id = newHoldId();
    while (this.#byId.has(id)) id = newHoldId();
    const hold: Hold = {
      id, key, query: q, openedAt: now, waiters: new Set(), open: true,
      // Undecided holds go after grant_ttl: by then a grant would have ended anyway.
      expiry: setTimeout(this.#onExpire, limits.keepOpenMs, id).unref(),
    };
    this.#byId.set(id, hold);
    this.#byKey.set(key, hold);
    this.#pending.add(hold);
    this.#log.info({ hold_id: id, agent: q.agent, entry: q.entry, role: q.role, client: q.client, qname: q.qname, qtype: qtypeName(q.qtype) }, 'hold opened');
    void this.#send(hold, {
      holdId: id, agent: q.agent, role: q.role, client: q.client, qname: q.qname, qtype: qtypeName(q.qtype),
      at: now, recentCommands: this.#grants.recentCommandIds(q.agent, now),
    }, limits.timeoutMs);
    return hold;
  }

  /** One POST per hold. A failure ends the hold: its waiters get `error`, and the next retry opens a new one. */
  async #send(hold: Hold, request: HoldRequest, timeoutMs: number): Promise<void> {
    try {
      await this.#post(request, timeoutMs);
    } catch (err) {
      if (!hold.open) return;
      const { status, problem } = failureOf(err);
      this.#log.warn({ err, status, problem, hold_id: hold.id, agent: hold.query.agent, qname: hold.query.qname }, 'posting hold failed; its queries are answered hold_error');
      this.#end(hold, 'post_failed');
      this.#settleAll(hold, { kind: 'error', holdId: hold.id, status, problem });
    }
  }

  /** Open holds of `agent` (pending and late) that `pattern` covers, `decided` (when ours) first. */
  #coveredBy(agent: string, pattern: GrantPattern, decided: Hold | undefined): Hold[] {
    const out = decided === undefined ? [] : [decided];
    for (const h of this.#ofAgent(agent)) {
      if (h !== decided && covers(pattern, h.query.qname)) out.push(h);
    }
    return out;
  }

  #ofAgent(agent: string): Hold[] {
    return [...this.#pending.ofAgent(agent), ...this.#late.ofAgent(agent)];
  }

  /** Whether one more pending hold for `q`'s agent and client entry fits the caps. */
  #roomFor(q: HeldQuery, limits: HoldLimits): boolean {
    return this.#pending.size < limits.maxPending &&
      this.#pending.ofAgent(q.agent).size < limits.maxPendingPerAgent &&
      this.#pending.ofEntry(q.entry).size < limits.maxPendingPerAgent;
  }

  /**
   * Every query of a pending hold has been answered: it stops counting, and
   * waits late for a decision. Late holds over the bounds (the same numbers as
   * for pending ones) go oldest first: of its entry, then its agent, then overall.
   */
  #goLate(hold: Hold): void {
    if (!this.#pending.delete(hold)) return;
    this.#late.add(hold);
    const limits = this.#limits;
    if (limits === null) return;
    const { agent, entry } = hold.query;
    while (this.#late.ofEntry(entry).size > limits.maxPendingPerAgent) this.#evictLate(first(this.#late.ofEntry(entry))!, 'client entry');
    while (this.#late.ofAgent(agent).size > limits.maxPendingPerAgent) this.#evictLate(first(this.#late.ofAgent(agent))!, 'agent');
    while (this.#late.size > limits.maxPending) this.#evictLate(this.#late.oldest()!, 'overall');
  }

  #evictLate(hold: Hold, bound: 'client entry' | 'agent' | 'overall'): void {
    this.#log.info({ hold_id: hold.id, agent: hold.query.agent, entry: hold.query.entry, qname: hold.query.qname, bound }, 'late hold dropped undecided: too many late holds');
    this.#end(hold, 'evicted');
  }

  /** Removes a hold from the books; `how` null: not counted (shutdown). */
  #end(hold: Hold, how: HoldEnd | null): void {
    if (!hold.open) return;
    hold.open = false;
    clearTimeout(hold.expiry);
    this.#byId.delete(hold.id);
    if (this.#byKey.get(hold.key) === hold) this.#byKey.delete(hold.key);
    this.#pending.delete(hold);
    this.#late.delete(hold);
    if (how !== null) this.#ended[how] += 1;
  }

  #settleAll(hold: Hold, outcome: HoldOutcome): void {
    for (const w of [...hold.waiters]) this.#settle(w, outcome);
  }

  #settle(w: Waiter, outcome: HoldOutcome): void {
    if (!w.hold.waiters.delete(w)) return;
    clearTimeout(w.timer);
    this.#waiting -= 1;
    const seconds = (performance.now() - w.arrivedAt) / 1000;
    for (const observe of this.#observers) {
      try {
        observe(outcome.kind, seconds);
      } catch (err) {
        this.#log.error({ err }, 'hold wait observer failed');
      }
    }
    w.resolve(outcome);
  }

  readonly #onTimeout = (w: Waiter): void => {
    this.#settle(w, { kind: 'timeout', holdId: w.hold.id });
    if (w.hold.open && w.hold.waiters.size === 0) this.#goLate(w.hold);
  };

  readonly #onExpire = (id: string): void => {
    const hold = this.#byId.get(id);
    if (hold === undefined) return;
    this.#log.info({ hold_id: id, agent: hold.query.agent, qname: hold.query.qname }, 'hold dropped undecided');
    this.#end(hold, 'expired');
    this.#settleAll(hold, { kind: 'timeout', holdId: id });
  };
}

/**
 * The status and problem a failed POST carries (approval/hold-client's
 * ApprovalRequestError; read by shape, since approval/ imports this folder).
 * Any other error is `no_answer`.
 */
function failureOf(err: unknown): { status: number | null; problem: HoldPostProblem } {
  const { status, problem } = typeof err === 'object' && err !== null ? (err as { status?: unknown; problem?: unknown }) : {};
  return {
    status: typeof status === 'number' ? status : null,
    problem: typeof problem === 'string' && HOLD_POST_PROBLEMS.has(problem) ? (problem as HoldPostProblem) : 'no_answer',
  };
}

function holdKey(agent: string, qname: string): string {
  // NUL cannot occur in an agent name from the config or in a validated qname.
  return `${agent}\u0000${qname}`;
}

/** "h_" and 12 random hex digits: unguessable enough that nobody decides a hold they did not see. */
function newHoldId(): string {
  return `h_${randomBytes(6).toString('hex')}`;
}
