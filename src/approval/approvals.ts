/**
 * The approval side of intentdns: the event link, and the glue that turns
 * each link event into a change of the grant store or the holds (spec
 * approval-link.md). Both are the server's; they reach this module through
 * the interfaces the hold stage and the grant store offer.
 *
 *   command.approved → grants for the names in `domains`, or, without it, the
 *                      names the command itself needs (namesFromCommand, with
 *                      the built-in presets and approval.internal_suffixes);
 *                      until min(expires_at, approved_at + grant_ttl).
 *   command.revoked  → every grant of that command ends.
 *   hold.decided     → HoldDecisions.decide (hold/registry.ts); with the v1.1
 *                      question fields, by agent and name, so a decision made
 *                      for another replica's hold answers ours too.
 *   agent.quarantined / agent.released (v1.1)
 *                    → the quarantine, as the approval service's (quarantine/).
 *
 * The server creates one Approvals and keeps it across reloads, like the
 * grants and pending holds it feeds. `configure` takes each config's approval
 * section; when the URL, the token or grant_ttl changes the link is restarted
 * (a cold start: it asks for `since = now - grant_ttl`, and the replayed
 * approvals replace their own grants, so nothing is counted twice).
 */
import type { Logger } from 'pino';
import { clip } from '../telemetry/log.js';

import type { HoldDecisions, HoldRequest } from '../hold/registry.js';
import { patternText } from '../config/pattern.js';
import { loadPreset } from '../config/presets.js';
import type { ApprovalConfig } from '../config/types.js';
import type { BackoffOptions } from './backoff.js';
import { namesFromCommand } from './command-names.js';
import { MAX_TEXT_LENGTH, type AgentQuarantinedEvent, type AgentReleasedEvent, type ApprovalEvent, type CommandApprovedEvent } from './events.js';
import { patternsFromNames, type GrantPattern, type GrantStore } from '../grants/grants.js';
import { postHold } from './hold-client.js';
import { HoldPostQueue } from './hold-queue.js';
import { ApprovalLink, type LinkState } from './link.js';
import { NoGrants, type NoGrantReason } from './no-grants.js';

/** Names from an approved command are cut to this in log lines. */
const MAX_LOGGED_NAME = 64;

/**
 * When a command's grant ends: `expires_at` or `approved_at + grant_ttl`,
 * whichever is earlier, and never later than grant_ttl from now, so a service
 * clock that runs ahead cannot stretch a grant.
 */
export function approvedUntil(event: CommandApprovedEvent, grantTtlMs: number, now: number): number {
  return Math.min(event.expiresAt ?? Infinity, event.approvedAt + grantTtlMs, now + grantTtlMs);
}

/** The most names one approval grants (spec v1.1): the rest are logged as dropped, not added. */
export const MAX_NAMES_PER_EVENT = 1000;

/** The grant patterns of an approved command: its `domains`, or else the names the command needs. */
export function approvedPatterns(
  event: CommandApprovedEvent,
  internalSuffixes: readonly string[],
): { patterns: GrantPattern[]; rejected: string[]; from: 'domains' | 'command'; dropped: number } {
  const from = event.domains !== undefined ? 'domains' : 'command';
  const names = event.domains ?? namesFromCommand(event.command, { internalSuffixes, preset: presetNames });
  const dropped = Math.max(0, names.length - MAX_NAMES_PER_EVENT);
  return { ...patternsFromNames(dropped > 0 ? names.slice(0, MAX_NAMES_PER_EVENT) : names), from, dropped };
}

/** A preset's names as namesFromCommand wants them ("registry.npmjs.org", "*.github.com"). */
function presetNames(name: string): readonly string[] | undefined {
  try {
    return loadPreset(name)?.map(patternText);
  } catch {
    // An invalid preset file is reported by `intentdns check`; here it just opens nothing.
    return undefined;
  }
}

/**
 * How the service's quarantine events reach the quarantine
 * (quarantine/quarantine.ts `setByService`): the same effect as the admin
 * API's POST / DELETE, recorded as the service's.
 */
export interface ServiceQuarantine {
  setByService(agent: string, on: boolean, detail?: { readonly reason?: string; readonly by?: string }): {
    readonly value: string; readonly known: boolean; readonly quarantined: boolean; readonly changed: boolean;
  };
}

export interface ApprovalsOptions {
  readonly log: Logger;
  readonly grants: GrantStore;
  readonly holds: HoldDecisions;
  /** Absent: `agent.quarantined` / `agent.released` are logged and ignored. */
  readonly quarantine?: ServiceQuarantine;
  readonly now?: () => number;
  /** Told the id of every revoked approval whose grants ended (firewall sync closes what they opened). */
  readonly onRevoke?: (id: string) => void;
  /**
   * With `listen.workers`: resolves once every grant change made so far has
   * reached every worker, so that "grant added" and "command revoked" are
   * logged only when they are true everywhere. Absent: logged at once.
   */
  readonly published?: () => Promise<void>;
  /** For tests: faster reconnects and silence detection than the spec's defaults. */
  readonly link?: { readonly backoff?: BackoffOptions; readonly heartbeatTimeoutMs?: number };
}

export class Approvals {
  readonly #grants: GrantStore;
  readonly #holds: HoldDecisions;
  readonly #quarantine: ServiceQuarantine | undefined;
  readonly #onRevoke: ((id: string) => void) | undefined;
  readonly #published: (() => Promise<void>) | undefined;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #linkOptions: ApprovalsOptions['link'];
  #config: ApprovalConfig | null = null;
  #token: string | null = null;
  #link: ApprovalLink | null = null;
  #started = false;
  /** Bounds the hold POSTs in flight; one for the process, so a reload does not reset the count. */
  readonly #posts = new HoldPostQueue();
  /** Approved commands that granted nothing; kept across reloads like the grants. */
  readonly noGrants = new NoGrants();

  constructor(opts: ApprovalsOptions) {
    this.#log = opts.log;
    this.#now = opts.now ?? Date.now;
    this.#linkOptions = opts.link;
    this.#grants = opts.grants;
    this.#holds = opts.holds;
    this.#quarantine = opts.quarantine;
    this.#onRevoke = opts.onRevoke;
    this.#published = opts.published;
  }

  /** Runs `say` once the changes made so far are in effect everywhere (at once in one process). */
  #whenPublished(say: () => void): void {
    if (this.#published === undefined) say();
    else void this.#published().then(say, say);
  }

  /** The event link's state; `stopped` when there is no approval section. */
  get linkState(): LinkState {
    return this.#link?.state ?? 'stopped';
  }

  /** The running link (for metrics: approval_link_up, approval_events_total), or null. */
  get link(): ApprovalLink | null {
    return this.#link;
  }

  /**
   * Takes a config's approval section (null: grants and holds off, link
   * stopped). Read the token (config/token.ts) first, so a bad token
   * file fails before anything changes.
   */
  configure(config: ApprovalConfig | null, token: string | null): void {
    const previous = this.#config;
    const sameLink = previous !== null && config !== null && this.#link !== null &&
      previous.url === config.url && previous.grantTtlMs === config.grantTtlMs && this.#token === token;
    this.#config = config;
    this.#token = token;
    if (sameLink) return;
    const old = this.#link;
    this.#link = null;
    // stop() never rejects; the new link need not wait for the old socket to close.
    if (old !== null) void old.stop();
    if (config === null) return;
    this.#link = new ApprovalLink({
      url: config.url,
      token,
      grantTtlMs: config.grantTtlMs,
      log: this.#log,
      onEvent: (event) => this.apply(event),
      now: this.#now,
      ...(this.#linkOptions?.backoff !== undefined && { backoff: this.#linkOptions.backoff }),
      ...(this.#linkOptions?.heartbeatTimeoutMs !== undefined && { heartbeatTimeoutMs: this.#linkOptions.heartbeatTimeoutMs }),
    });
    if (this.#started) this.#link.start();
    if (old !== null) this.#log.info({ url: config.url }, 'approval settings changed; event link restarted');
  }

  /** Starts the event link (when configured) and keeps starting new ones after reloads. */
  start(): void {
    this.#started = true;
    this.#link?.start();
  }

  /** Stops the link and releases every held query; leaves no timer or socket behind. */
  async stop(): Promise<void> {
    this.#started = false;
    const link = this.#link;
    this.#holds.close();
    this.#posts.cancelWaiting();
    await link?.stop();
  }

  /** Applies one event from the link. Never throws for bad content: the event is logged and skipped. */
  apply(event: ApprovalEvent): void {
    const config = this.#config;
    if (config === null) return;
    switch (event.type) {
      case 'command.approved':
        this.#approved(event, config);
        return;
      case 'command.revoked': {
        const ended = this.#grants.revoke(event.id);
        this.#whenPublished(() => this.#log.info({ command_id: event.id, grants: ended }, 'command revoked'));
        if (ended > 0) this.#onRevoke?.(event.id);
        return;
      }
      case 'hold.decided': {
        const result = this.#holds.decide(event, {
          grantTtlMs: config.grantTtlMs, maxGrantTtlMs: config.maxGrantTtlMs, internalSuffixes: config.internalSuffixes,
        });
        if (result === 'unknown') {
          this.#log.info(
            { hold_id: event.holdId, decision: event.decision, ...(event.question !== undefined && { agent: event.question.agent, qname: event.question.qname }) },
            'decision for a hold not pending here; ignored',
          );
        }
        return;
      }
      case 'agent.quarantined':
      case 'agent.released':
        this.#serviceQuarantine(event);
        return;
    }
  }

  #serviceQuarantine(event: AgentQuarantinedEvent | AgentReleasedEvent): void {
    const on = event.type === 'agent.quarantined';
    const said = { ...(event.by !== undefined && { reviewer: event.by }), ...(on && event.reason !== undefined && { reason: event.reason }) };
    if (this.#quarantine === undefined) {
      this.#log.warn({ agent: event.agent, ...said }, `${event.type} from the approval service, but no quarantine here; ignored`);
      return;
    }
    let result: ReturnType<ServiceQuarantine['setByService']>;
    try {
      result = this.#quarantine.setByService(event.agent, on, {
        ...(on && event.reason !== undefined && { reason: event.reason }), ...(event.by !== undefined && { by: event.by }),
      });
    } catch (err) {
      // The quarantine list is full (QuarantineFullError): the admin API answers 409; here a log line is all we can do.
      this.#log.error({ err, agent: event.agent, ...said }, 'quarantine from the approval service could not be applied');
      return;
    }
    const fields = { audit: 'quarantine', agent: result.value, known: result.known, quarantined: result.quarantined, by: 'approval service', ...said };
    // A replayed event (cold start, reconnect) changes nothing: no second audit line.
    if (result.changed) this.#log.warn(fields, on ? 'agent quarantined by the approval service' : 'approval service lifted its quarantine');
    else if (!on && result.quarantined) this.#log.info(fields, 'approval service released an agent it had not quarantined; it stays quarantined');
  }

  #approved(event: CommandApprovedEvent, config: ApprovalConfig): void {
    const now = this.#now();
    const expiresAt = approvedUntil(event, config.grantTtlMs, now);
    const where = { command_id: event.id, agent: event.agent };
    const { patterns, rejected, from, dropped } = approvedPatterns(event, config.internalSuffixes);
    if (dropped > 0) {
      this.#log.warn({ ...where, names: MAX_NAMES_PER_EVENT + dropped, kept: MAX_NAMES_PER_EVENT }, 'approved command names too many hosts; the rest are dropped');
    }
    if (rejected.length > 0) this.#log.warn({ ...where, rejected: rejected.slice(0, 10).map((name) => clip(name, MAX_LOGGED_NAME)) }, 'approved command names that are not host names; left out');
    const ref = { id: event.id, command: clip(event.command, MAX_TEXT_LENGTH), approvedBy: event.approvedBy ?? null, expiresAt };
    // Also when nothing is added: a replayed approval that has expired since replaces (ends) its old grants.
    const added = this.#grants.add(event.agent, patterns, ref, now);
    if (expiresAt <= now) {
      this.#noGrant(event, 'expired', now, where, 'approved command has already expired; no grant');
    } else if (added === 0) {
      // Rejected names were logged above; no_host is the silent case (an internal name outside the suffixes, no host at all).
      const reason: NoGrantReason = rejected.length > 0 ? 'not_host_names' : 'no_host';
      this.#noGrant(event, reason, now, { ...where, from }, 'approved command names no host; no grant');
    } else {
      // The agent may already be waiting on a hold for one of these names (the query raced the approval).
      const released = this.#holds.release(event.agent, patterns, ref);
      this.#whenPublished(() => this.#log.info(
        {
          ...where, from, names: patterns.map((p) => (p.scope === 'subtree' ? `*.${p.name}` : p.name)),
          approved_by: ref.approvedBy, expires_at: new Date(expiresAt).toISOString(), ...(released > 0 && { released_holds: released }),
        },
        'grant added',
      ));
    }
  }

  /** A warning, not info: the reviewer said yes and the agent will still be refused. */
  #noGrant(event: CommandApprovedEvent, reason: NoGrantReason, now: number, fields: Record<string, unknown>, msg: string): void {
    this.noGrants.record(event, reason, now);
    this.#log.warn({ ...fields, reason }, msg);
  }

  /**
   * Tells the service about a new hold; rejects when it did not accept it (the
   * hold registry's `post`). Waits for one of the 16 POST slots (hold-queue.ts),
   * all within `timeoutMs`; the URL and token are the config's when it is sent.
   */
  postHold(request: HoldRequest, timeoutMs: number): Promise<void> {
    return this.#posts.run(timeoutMs, (remainingMs) => {
      const config = this.#config;
      if (config === null) return Promise.reject(new Error('no approval service configured'));
      return postHold(config.url, this.#token, request, remainingMs);
    });
  }
}
