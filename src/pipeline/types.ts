import type { Logger } from 'pino';
import type { Role } from '../decide/role.js';
import type { DecodedQuery } from '../wire/query.js';
import type { ResponseView } from '../wire/response.js';
import type { ExtendedError } from '../wire/build.js';

/**
 * The one contract between stages. A stage either returns an Answer itself or
 * returns `next(query)`; it never does half of each. Outcomes (blocked,
 * refused, held) are Answers with a Reason; exceptions are only for faults.
 */

export type Transport = 'udp' | 'tcp';
export type Action = 'forward' | 'sinkhole' | 'hold' | 'refuse';

/** Closed set, so it is safe as a metric label. */
export type Reason =
  | 'unknown_client' | 'quarantine' | 'qtype' | 'denylist' | 'grant' | 'allowlist' | 'unlisted'
  | 'hold_approved' | 'hold_denied' | 'hold_timeout' | 'hold_capacity' | 'link_down'
  | 'denylist_cname' | 'rebinding'
  /** A fault inside intentdns (a bug): answered SERVFAIL, logged at error. */
  | 'error';

export const REASONS: readonly Reason[] = [
  'unknown_client', 'quarantine', 'qtype', 'denylist', 'grant', 'allowlist', 'unlisted',
  'hold_approved', 'hold_denied', 'hold_timeout', 'hold_capacity', 'link_down',
  'denylist_cname', 'rebinding', 'error',
];

export interface Agent {
  readonly name: string;
  readonly role: Role;
}

/** The approved command that opened a name, as the decision log shows it. */
export interface GrantRef {
  readonly id: string;
  readonly command: string;
  readonly approvedBy: string | null;
  /** Epoch milliseconds at which the grant ends; answers never outlive it. */
  readonly expiresAt: number;
}

export interface Decision {
  readonly action: Action;
  readonly reason: Reason;
  readonly rule?: string;
  readonly grant?: GrantRef;
  /** Audit mode: the action is what enforce mode would have done; the query is forwarded anyway. */
  readonly wouldBlock?: boolean;
}

/**
 * What hold/ learned about a held query that then goes on down the chain:
 * approved by a reviewer (with the grant that approval created, so the TTL cap
 * applies), or forwarded because the approval service is unreachable
 * (`on_link_down: forward`). Forwarded answers report this reason, not the decision's.
 */
export interface HoldFact {
  readonly reason: 'hold_approved' | 'link_down';
  /** The hold, when one was opened. */
  readonly id?: string;
  readonly grant?: GrantRef;
}

/**
 * One query on its way through the chain. Stages add facts (agent, decision, hold)
 * exactly once and never rewrite what another stage set; the fields exist from
 * the start so every Query has the same shape.
 */
export class Query {
  agent: Agent | undefined = undefined;
  decision: Decision | undefined = undefined;
  hold: HoldFact | undefined = undefined;

  constructor(
    readonly message: DecodedQuery,
    readonly client: string,
    readonly transport: Transport,
    readonly log: Logger,
    /** performance.now() when the packet arrived. */
    readonly receivedAt: number,
  ) {}

  get qname(): string { return this.message.question.name; }
  get qtype(): number { return this.message.question.type; }
}

/** What encode/ writes: a reply we make up, or an upstream answer passed through. */
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
      /** Seconds the view spent in the cache, taken off every TTL. */
      readonly ageS: number;
      /** Highest TTL the client may see (answers.max_ttl, the grant's remaining life). */
      readonly maxTtl: number;
    };

export interface Answer {
  readonly action: Action;
  readonly reason: Reason;
  readonly reply: Reply;
  readonly rule?: string;
  readonly grant?: GrantRef;
  readonly wouldBlock?: boolean;
  readonly holdId?: string;
  /** The upstream that answered ("127.0.0.1:53"), or "cache". */
  readonly upstream?: string;
  /** Why an upstream answer could not be had, for the log (the reply is SERVFAIL). */
  readonly error?: string;
}

export type Next = (query: Query) => Promise<Answer>;

export interface Stage {
  /** Lower-case single word, used in logs: "identify", "cache". */
  readonly name: string;
  handle(query: Query, next: Next): Promise<Answer>;
}

/** Links stages once, at build time: no closure is made per query. */
export function chain(stages: readonly Stage[], last: Next): Next {
  return stages.reduceRight<Next>((next, stage) => (query) => stage.handle(query, next), last);
}
