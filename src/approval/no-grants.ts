/**
 * Approved commands that opened nothing (issue 13, item 6). An approval the
 * reviewer saw as "yes" but that grants no name looks, from the agent's side,
 * exactly like a denial; without a trace the operator cannot tell why. So each
 * one is counted by reason (intentdns_approvals_without_grant_total) and the
 * last few are kept for GET /v1/grants.
 */
import { clip } from '../telemetry/log.js';

/**
 * Why an approved command granted nothing. A closed set: it is a metric label.
 *   expired        — expires_at or approved_at + grant_ttl had already passed (a replay, a slow reviewer);
 *   no_host        — neither `domains` nor the command names a host intentdns accepts (no host at all,
 *                    an address, or an internal name outside approval.internal_suffixes);
 *   not_host_names — every name it gave was rejected as not a host name (logged by the caller).
 */
export const NO_GRANT_REASONS = ['expired', 'no_host', 'not_host_names'] as const;
export type NoGrantReason = (typeof NO_GRANT_REASONS)[number];

/** How many events GET /v1/grants shows: enough to find a recent one, bounded whatever the service sends. */
export const MAX_RECENT_NO_GRANTS = 50;

/** Commands are cut to this in the list (the service's full text is in its own records). */
const MAX_LISTED_COMMAND = 256;

export interface NoGrantEvent {
  readonly id: string;
  readonly agent: string;
  readonly command: string;
  readonly reason: NoGrantReason;
  /** When intentdns applied the approval, ISO 8601. */
  readonly at: string;
}

export class NoGrants {
  readonly #counts: Record<NoGrantReason, number> = { expired: 0, no_host: 0, not_host_names: 0 };
  /** Oldest first; at most MAX_RECENT_NO_GRANTS. */
  readonly #recent: NoGrantEvent[] = [];

  record(event: { readonly id: string; readonly agent: string; readonly command: string }, reason: NoGrantReason, now: number): void {
    this.#counts[reason]++;
    // A replayed approval (reconnect, cold start) is the same event: keep one entry, the latest.
    const same = this.#recent.findIndex((e) => e.id === event.id);
    if (same >= 0) this.#recent.splice(same, 1);
    this.#recent.push({ id: event.id, agent: event.agent, command: clip(event.command, MAX_LISTED_COMMAND), reason, at: new Date(now).toISOString() });
    if (this.#recent.length > MAX_RECENT_NO_GRANTS) this.#recent.shift();
  }

  /** Per reason, every reason present (0 until one happens), for the counter. */
  get counts(): Readonly<Record<NoGrantReason, number>> {
    return { ...this.#counts };
  }

  /** The most recent first, as GET /v1/grants lists them. */
  list(): NoGrantEvent[] {
    return [...this.#recent].reverse();
  }
}
