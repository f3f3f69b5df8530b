import type { Mode, TunnelingConfig, UnlistedAction } from '../config/types.js';
import type { ExtendedError } from '../wire/build.js';
import type { DecodedQuery } from '../wire/query.js';
import type { ResponseView } from '../wire/response.js';

/**
 * The one contract between the stages of the chain, at the bottom of the
 * import graph: it imports no stage.
 *
 * A query carries one Verdict. identify, decide and hold set it, check may
 * replace it when the answer that came back breaks the policy; nobody copies
 * its facts anywhere else. The stages below the verdict (cache, upstream)
 * return only what came back: a Fetched. answer/ then makes the one Answer
 * from verdict + fetched (applying audit mode there and nowhere else),
 * observe/ logs and counts it, and answer/encode writes the bytes.
 */

export type Transport = 'udp' | 'tcp';
/** `drop`: no answer at all (a query over its rate limit). */
export type Action = 'forward' | 'sinkhole' | 'hold' | 'refuse' | 'drop';
export const ACTIONS: readonly Action[] = ['forward', 'sinkhole', 'hold', 'refuse', 'drop'];

/** Closed set, so it is safe as a metric label. */
export type Reason =
  | 'unknown_client' | 'quarantine' | 'qtype' | 'denylist' | 'grant' | 'allowlist' | 'unlisted'
  | 'hold_approved' | 'hold_denied' | 'hold_timeout' | 'hold_capacity' | 'link_down'
  /** The link is up but the service did not accept the hold (non-2xx, timeout, network error): sinkhole. */
  | 'hold_error'
  | 'denylist_cname' | 'rebinding'
  /** A name or an agent's stream of names under one registrable domain looks like a DNS tunnel (roles.*.tunneling). */
  | 'tunneling'
  /** Every upstream failed: answered SERVFAIL, whatever forwarded the query. */
  | 'upstream_error'
  /** Over its source's token bucket (limits.*): dropped, or REFUSED with over_limit refuse. */
  | 'rate_limit'
  /** firewall on_error closed: the answer's addresses did not reach the nftables set within firewall.wait; SERVFAIL. */
  | 'firewall_error'
  /** A fault inside intentdns (a bug): answered SERVFAIL, logged at error. */
  | 'error';

export const REASONS: readonly Reason[] = [
  'unknown_client', 'quarantine', 'qtype', 'denylist', 'grant', 'allowlist', 'unlisted',
  'hold_approved', 'hold_denied', 'hold_timeout', 'hold_capacity', 'link_down', 'hold_error',
  'denylist_cname', 'rebinding', 'tunneling', 'upstream_error', 'rate_limit', 'firewall_error', 'error',
];

/** A role as the stages read it; decide/role.ts builds it from the config once per snapshot. */
export interface RolePolicy {
  readonly name: string;
  readonly allow: NameRules;
  readonly deny: NameRules;
  readonly privateOk: NameRules;
  readonly unlisted: UnlistedAction;
  /** The tunneling signals' limits, or null when the role has them off. */
  readonly tunneling: TunnelingConfig | null;
  /** `roles.<name>.mode`, or null when the role leaves it to the global mode. */
  readonly mode: Mode | null;
  allowsType(qtype: number): boolean;
  /** What the deny and allow lists say of `name`, in one lookup: decide/ asks it of every query. */
  lists(name: string): ListsMatch;
}

/** The rule of each list that matches a name (its source text), or undefined. */
export interface ListsMatch {
  readonly deny: string | undefined;
  readonly allow: string | undefined;
}

/** A list of name rules: the source text of the rule that matches `name`, or undefined. */
export interface NameRules {
  match(name: string): string | undefined;
}

export interface Agent {
  /** As identify names it: the entry's name, `{ip}` replaced by the source address. */
  readonly name: string;
  /**
   * The `clients:` entry that matched, by its name as written there ("ci-runner-1",
   * "analytics-{ip}"): every agent an `{ip}` template expands to shares it.
   */
  readonly entry: string;
  /** The source address it was identified by, an IPv4-mapped IPv6 form unwrapped ("10.20.1.7"). */
  readonly address: string;
  readonly role: RolePolicy;
  /**
   * The mode that applies to this agent: its client entry's `mode`, else its
   * role's, else the global one. Resolved once per entry (identify/clients.ts),
   * so identify sets `query.audit` from it without looking anything up.
   */
  readonly mode: Mode;
  /** Which of the three set `mode`: explain says so ("client ci-runner-1", "role coding", "global"). */
  readonly modeFrom: ModeSource;
}

export type ModeSource = 'client' | 'role' | 'global';

/** The approved command that opened a name, as the decision log shows it. */
export interface GrantRef {
  readonly id: string;
  readonly command: string;
  readonly approvedBy: string | null;
  /** Epoch milliseconds at which the grant ends; answers never outlive it. */
  readonly expiresAt: number;
}

/**
 * What the agent is sent when the verdict is enforced:
 *   upstream: the upstream's answer (from the cache or asked now);
 *   sinkhole: the configured sinkhole answer, with EDE 15;
 *   refused:  REFUSED, with EDE 18 for strangers and 15 otherwise;
 *   servfail: SERVFAIL;
 *   review:   nothing yet; a reviewer is to be asked (hold/ replaces it).
 */
export type Serve = 'upstream' | 'sinkhole' | 'refused' | 'servfail' | 'review';

export interface Verdict {
  /** Action and reason are what the log line and queries_total say. */
  readonly action: Action;
  readonly reason: Reason;
  readonly serve: Serve;
  /** The rule that matched, as the decision log shows it. */
  readonly rule?: string;
  /** The grant that let the name through; the answer's TTLs never outlive it. */
  readonly grant?: GrantRef;
  readonly holdId?: string;
  /**
   * With tunneling `action: log`: the limit the query tripped, as the rule text
   * of a tunneling block would name it; the verdict is otherwise the usual one.
   * Stages that replace the verdict carry it over.
   */
  readonly tunneling?: string;
}

/**
 * One query on its way through the chain. The fields exist from the start so
 * every Query has the same shape.
 */
export class Query {
  agent: Agent | undefined = undefined;
  /** Audit mode for this query's agent: decided and logged as enforced, answered as forwarded. */
  audit = false;
  verdict: Verdict | undefined = undefined;

  constructor(
    readonly message: DecodedQuery,
    readonly client: string,
    readonly transport: Transport,
    /** performance.now() when the packet arrived. */
    readonly receivedAt: number,
  ) {}

  get qname(): string { return this.message.question.name; }
  get qtype(): number { return this.message.question.type; }

  /**
   * Whether the query goes on down the chain: its verdict lets the upstream
   * answer through or asks a reviewer, or audit mode forwards it anyway.
   */
  get goesOn(): boolean {
    const serve = this.verdict?.serve;
    return this.audit || serve === 'upstream' || serve === 'review';
  }
}

/** What came back for a query that went on to be resolved. */
export type Fetched =
  | {
      readonly kind: 'answer';
      readonly view: ResponseView;
      /** Seconds the view spent in the cache, taken off every TTL. */
      readonly ageS: number;
      /** The upstream that answered ("127.0.0.1:53"), or "cache". */
      readonly source: string;
    }
  | {
      readonly kind: 'failed';
      /** Why no upstream answer could be had, for the log. */
      readonly error: string;
    };

/** What encode/ writes: a reply we make up, or an upstream answer passed through (its TTLs capped at encode). */
export type Reply =
  | {
      readonly kind: 'synthetic';
      readonly rcode: number;
      readonly answers?: readonly Buffer[];
      readonly authority?: readonly Buffer[];
      readonly ede?: ExtendedError;
    }
  | {
      readonly kind: 'upstream';
      readonly view: ResponseView;
      readonly ageS: number;
    };

/** The one answer to a query, made by answer/ from the verdict and what came back. */
export interface Answer {
  readonly action: Action;
  /** The verdict's reason, or upstream_error / error when the answer is our SERVFAIL. */
  readonly reason: Reason;
  readonly reply: Reply;
  /** Audit mode: enforce would have blocked this; the agent got the upstream's answer. */
  readonly wouldBlock: boolean;
  /** The verdict as the chain left it (rule, grant, hold id), or undefined after a fault. */
  readonly verdict: Verdict | undefined;
  readonly fetched: Fetched | null;
  /** A fault's message, for the log. */
  readonly error?: string;
}

/** Nothing was fetched: the verdict alone makes the answer. */
export const NOTHING = null;

/**
 * What a stage hands back: at once when nothing had to wait (a block, a cache
 * hit), a promise when something did (an upstream exchange, a hold, a
 * firewall write). Most queries wait for nothing, and a promise per stage
 * would cost each of them a microtask and an allocation per stage.
 */
export type Flow = Fetched | null | Promise<Fetched | null>;

export type Next = (query: Query) => Flow;

export interface Stage {
  /** Lower-case single word, used in logs: "identify", "cache". */
  readonly name: string;
  /**
   * Sets or replaces the verdict and returns NOTHING, or returns `next(query)` and may look at
   * what it brings: at once when it came at once, so a cache hit meets no promise —
   * `flow instanceof Promise ? flow.then((f) => this.#look(query, f)) : this.#look(query, flow)`.
   */
  handle(query: Query, next: Next): Flow;
}

/** Links stages once, at build time: no closure is made per query. */
export function chain(stages: readonly Stage[], last: Next): Next {
  return stages.reduceRight<Next>((next, stage) => (query) => stage.handle(query, next), last);
}
