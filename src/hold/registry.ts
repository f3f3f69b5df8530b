/**
 * The hold registry: the pending holds of every agent (spec approval-link.md,
 * "Holds"). It lives in the server's shared state, so holds survive a config
 * reload; each call brings the current config's limits.
 *
 *   - One hold per (agent, name, type). The first query opens it and POSTs it
 *     once; retransmits and parallel queries join it.
 *   - Each waiting query waits at most `hold_timeout` from its own arrival,
 *     then gets `timeout`; the hold itself stays open (at most `grant_ttl`) so
 *     a late `allow` still creates the grant and the agent's retry succeeds.
 *   - `allow` creates the grant and releases every waiter as approved, together
 *     with the agent's other pending holds the new grant covers; `deny` does the
 *     same as denied and is remembered for its span, so retries are not held again.
 *   - Bounded: `max_pending_holds` overall, a tenth of it (at least 1) per agent
 *     so one agent cannot take every hold, and 64 waiters per hold.
 *
 * The registry only keeps books and says what happened (a HoldOutcome); the
 * hold stage turns outcomes into answers.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';

import { covers, GrantStore, scopePattern, type GrantPattern } from '../grants/grants.js';
import type { GrantRef } from '../pipeline/types.js';
import { qtypeName } from '../wire/qtypes.js';

/** The facts of a query the registry needs. */
export interface HeldQuery {
  readonly agent: string;
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
}

/** How the approval link feeds the holds: decisions, and grants that came some other way. */
export interface HoldDecisions {
  decide(decision: HoldDecision, settings: DecisionSettings): 'approved' | 'denied' | 'unknown';
  release(agent: string, patterns: readonly GrantPattern[], grant: GrantRef): number;
  /** Releases every held query (shutdown). */
  close(): void;
}

/** The current config's limits, passed on every call (a reload may change them). */
export interface HoldLimits {
  /** approval.hold_timeout: the longest one query waits. */
  readonly timeoutMs: number;
  /** approval.max_pending_holds: open holds overall. */
  readonly maxPending: number;
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
  /** No room for another hold (holdId set when the hold exists but has too many waiters). */
  | { readonly kind: 'capacity'; readonly holdId?: string }
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

/** How a hold ended, for `holds_total{outcome}`. A closed set. */
export type HoldEnd = 'approved' | 'denied' | 'expired' | 'post_failed';
export const HOLD_ENDS: readonly HoldEnd[] = ['approved', 'denied', 'expired', 'post_failed'];

export interface HoldStats {
  /** Holds open now (`holds_pending`). */
  readonly pending: number;
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

/** One agent may hold at most a tenth of max_pending_holds (and always at least one). */
export function perAgentHoldCap(maxPending: number): number {
  return Math.max(1, Math.ceil(maxPending / 10));
}

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

export class HoldRegistry implements HoldDecisions {
  readonly #grants: GrantStore;
  readonly #post: HoldRegistryOptions['post'];
  readonly #linkUp: () => boolean;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #maxWaiters: number;
  /** Remembered denials: the same structure as grants, with the hold's ref. */
  readonly #denials: GrantStore;
  readonly #byId = new Map<string, Hold>();
  readonly #byKey = new Map<string, Hold>();
  readonly #byAgent = new Map<string, Set<Hold>>();
  readonly #ended: Record<HoldEnd, number> = { approved: 0, denied: 0, expired: 0, post_failed: 0 };
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
   * Holds one query: joins the pending hold for its agent, name and type or
   * opens one. Resolves with what happened; never rejects. Answers at once
   * when the name was denied recently, the link is down, or there is no room.
   */
  wait(q: HeldQuery, limits: HoldLimits): Promise<HoldOutcome> {
    const now = this.#now();
    // A remembered denial is our own knowledge: it holds whether or not the link is up.
    const denied = this.#denials.find(q.agent, q.qname, now);
    if (denied !== undefined) return Promise.resolve({ kind: 'denied', holdId: denied.id });
    if (!this.#linkUp()) return Promise.resolve({ kind: 'link_down' });

    const key = holdKey(q.agent, q.qname, q.qtype);
    let hold = this.#byKey.get(key);
    if (hold === undefined) {
      const mine = this.#byAgent.get(q.agent)?.size ?? 0;
      if (this.#byId.size >= limits.maxPending || mine >= perAgentHoldCap(limits.maxPending)) {
        return Promise.resolve({ kind: 'capacity' });
      }
      hold = this.#open(key, q, limits, now);
    } else if (hold.waiters.size >= this.#maxWaiters) {
      return Promise.resolve({ kind: 'capacity', holdId: hold.id });
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
   * releases them denied and remembers it for the same span. Returns 'unknown'
   * for a hold id that is not pending here (decided, dropped, or never ours).
   */
  decide(event: HoldDecision, settings: DecisionSettings): 'approved' | 'denied' | 'unknown' {
    const hold = this.#byId.get(event.holdId);
    if (hold === undefined) return 'unknown';
    const now = this.#now();
    const { agent, qname, qtype } = hold.query;
    const pattern = scopePattern(qname, event.scope, settings.internalSuffixes);
    const spanMs = Math.min(event.ttlSeconds !== undefined ? event.ttlSeconds * 1000 : settings.grantTtlMs, settings.maxGrantTtlMs);
    const ref: GrantRef = {
      id: hold.id,
      command: `held query ${qname} ${qtypeName(qtype)}`,
      approvedBy: event.decidedBy ?? null,
      expiresAt: now + spanMs,
    };
    const allow = event.decision === 'allow';
    if (allow) this.#grants.add(agent, [pattern], ref, now, 'hold');
    else this.#denials.add(agent, [pattern], ref, now, 'hold');
    this.#log.info(
      {
        hold_id: hold.id, agent, qname, qtype: qtypeName(qtype), decision: event.decision,
        scope: pattern.scope, name: pattern.name, decided_by: event.decidedBy, expires_at: new Date(ref.expiresAt).toISOString(),
      },
      allow ? 'hold approved' : 'hold denied',
    );
    // This hold, and the agent's other pending holds the decision covers.
    for (const other of this.#coveredBy(agent, pattern, hold)) {
      this.#end(other, allow ? 'approved' : 'denied');
      const outcome: HoldOutcome = allow ? { kind: 'approved', holdId: other.id, grant: ref } : { kind: 'denied', holdId: other.id };
      this.#settleAll(other, outcome);
    }
    return allow ? 'approved' : 'denied';
  }

  /**
   * A grant that came some other way (an approved command) answers the
   * agent's pending holds it covers: their waiters go on as approved, with
   * that grant, and the holds end here. Returns how many holds it released.
   */
  release(agent: string, patterns: readonly GrantPattern[], grant: GrantRef): number {
    const covered = [...(this.#byAgent.get(agent) ?? [])].filter((h) => patterns.some((p) => covers(p, h.query.qname)));
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
    return { pending: this.#byId.size, waiting: this.#waiting, ended: { ...this.#ended } };
  }

  /** Open holds, oldest first. */
  list(_now?: number): HoldListing[] {
    return [...this.#byId.values()].map((h) => ({
      hold_id: h.id,
      agent: h.query.agent,
      role: h.query.role,
      client: h.query.client,
      qname: h.query.qname,
      qtype: qtypeName(h.query.qtype),
      opened_at: new Date(h.openedAt).toISOString(),
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
    let mine = this.#byAgent.get(q.agent);
    if (mine === undefined) this.#byAgent.set(q.agent, (mine = new Set()));
    mine.add(hold);
    this.#log.info({ hold_id: id, agent: q.agent, role: q.role, client: q.client, qname: q.qname, qtype: qtypeName(q.qtype) }, 'hold opened');
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

  /** Pending holds of `agent` that `pattern` covers, `first` included. */
  #coveredBy(agent: string, pattern: GrantPattern, first: Hold): Hold[] {
    const out = [first];
    for (const h of this.#byAgent.get(agent) ?? []) {
      if (h !== first && covers(pattern, h.query.qname)) out.push(h);
    }
    return out;
  }

  /** Removes a hold from the books; `how` null: not counted (shutdown). */
  #end(hold: Hold, how: HoldEnd | null): void {
    if (!hold.open) return;
    hold.open = false;
    clearTimeout(hold.expiry);
    this.#byId.delete(hold.id);
    if (this.#byKey.get(hold.key) === hold) this.#byKey.delete(hold.key);
    const mine = this.#byAgent.get(hold.query.agent);
    mine?.delete(hold);
    if (mine?.size === 0) this.#byAgent.delete(hold.query.agent);
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

function holdKey(agent: string, qname: string, qtype: number): string {
  // NUL cannot occur in an agent name from the config or in a validated qname.
  return `${agent}\u0000${qname}\u0000${qtype}`;
}

/** "h_" and 12 random hex digits: unguessable enough that nobody decides a hold they did not see. */
function newHoldId(): string {
  return `h_${randomBytes(6).toString('hex')}`;
}
