import type { Logger } from 'pino';
import { ttlCap } from '../answer/caps.js';
import type { FirewallConfig } from '../config/types.js';
import type { Fetched, Flow, Next, Query, Stage } from '../pipeline/types.js';
import { handedAddresses } from './addresses.js';
import { setPair, type SetPair } from './names.js';
import { ALREADY_WRITTEN, type SetElement, type SetWrites } from './writer.js';

export type FirewallResult = 'ok' | 'error' | 'timeout';

interface WriteResult {
  readonly outcome: FirewallResult;
  readonly error?: unknown;
}

const WRITTEN: WriteResult = { outcome: 'ok' };

export interface FirewallStageOptions {
  readonly config: FirewallConfig;
  readonly writer: SetWrites;
  /** answers.max_ttl, the same cap encode applies. */
  readonly maxTtlS: number;
  readonly log: Logger;
  /** Told the outcome of every answer that had addresses to write. */
  readonly onResult?: (result: FirewallResult) => void;
  readonly now?: () => number;
}

/**
 * Puts the addresses of every answer the agent is let through into its
 * role's (or its own) nftables sets, and holds the answer until they are in,
 * at most `wait`: the connection that follows the answer must not meet a
 * firewall that has not heard of it yet. Sits above check/, so it sees the
 * verdict check leaves (a rebinding answer opens nothing). Audit mode writes
 * the addresses too: the agent gets the answer, so switching to enforce does
 * not cut off running agents.
 */
export class FirewallStage implements Stage {
  readonly name = 'firewall';
  readonly #o: FirewallStageOptions;
  readonly #now: () => number;
  /** Set names by role or agent name, made once each (bounded: `{ip}` agents can be many). */
  readonly #sets = new Map<string, SetPair>();

  constructor(options: FirewallStageOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  handle(query: Query, next: Next): Flow {
    const flow = next(query);
    return flow instanceof Promise ? flow.then((f) => this.#open(query, f)) : this.#open(query, flow);
  }

  /** Waits only when the answer brings an address the set does not hold long enough yet. */
  #open(query: Query, fetched: Fetched | null): Flow {
    const verdict = query.verdict;
    if (fetched?.kind !== 'answer' || verdict === undefined || query.agent === undefined) return fetched;
    // What the agent gets: the upstream's answer when the verdict lets it through, or in audit mode always.
    if (verdict.serve !== 'upstream' && !query.audit) return fetched;
    const now = this.#now();
    const handed = handedAddresses(fetched.view, fetched.ageS, ttlCap(verdict, this.#o.maxTtlS, now));
    if (handed.length === 0) return fetched;

    const { config } = this.#o;
    const sets = this.#setsOf(config.scope === 'role' ? query.agent.role.name : query.agent.name);
    // A grant's addresses close with the grant (plus grace), whatever the TTL says.
    const limit = verdict.grant ? verdict.grant.expiresAt + config.graceMs : Infinity;
    const elements: SetElement[] = handed.map((h) => ({
      set: h.family === 4 ? sets.v4 : sets.v6,
      family: h.family,
      address: h.address,
      expiresAt: Math.min(now + h.ttlS * 1000 + config.graceMs, limit),
      neededUntil: Math.min(now + h.ttlS * 1000, limit),
      ...(verdict.grant ? { grant: verdict.grant.id } : {}),
    }));

    const write = this.#o.writer.write(elements);
    // Most answers bring addresses the set already holds long enough: no timer, no race.
    if (write === ALREADY_WRITTEN) return this.#written(query, fetched, WRITTEN);
    return this.#waitFor(write).then((result) => this.#written(query, fetched, result));
  }

  #written(query: Query, fetched: Fetched, result: WriteResult): Fetched {
    const verdict = query.verdict!;
    const { config } = this.#o;
    this.#o.onResult?.(result.outcome);
    if (result.outcome === 'ok') return fetched;
    this.#o.log.warn(
      { agent: query.agent!.name, qname: query.qname, result: result.outcome, err: result.error, on_error: config.onError },
      'firewall set not updated in time',
    );
    if (config.onError === 'closed') {
      query.verdict = { ...verdict, action: 'refuse', reason: 'firewall_error', serve: 'servfail', rule: result.outcome === 'timeout' ? `no set update within ${config.waitMs} ms` : String(result.error) };
    }
    return fetched;
  }

  #setsOf(name: string): SetPair {
    let pair = this.#sets.get(name);
    if (pair === undefined) {
      if (this.#sets.size >= 4096) this.#sets.clear();
      pair = setPair(name);
      this.#sets.set(name, pair);
    }
    return pair;
  }

  async #waitFor(write: Promise<void>): Promise<WriteResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<{ outcome: FirewallResult }>((resolve) => {
      timer = setTimeout(() => resolve({ outcome: 'timeout' }), this.#o.config.waitMs);
    });
    try {
      return await Promise.race([
        write.then(() => ({ outcome: 'ok' as const }), (error: unknown) => ({ outcome: 'error' as const, error: errorText(error) })),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
