import type { HostPort } from '../config/types.js';

/**
 * What intentdns knows of each upstream's health: whether it answers, its
 * back-off while it does not, and its recent latency.
 *
 * Down means: its last attempt timed out or met a network error. Only those
 * count. An upstream that answered, even SERVFAIL or REFUSED for one name, or
 * with bytes we cannot read, is up: it is there, and fails over fast anyway.
 * A down upstream is skipped while any other is up, and probed in the
 * background (see exchange.ts); the first answer brings it back.
 *
 * The state outlives a config reload (the server owns one UpstreamHealth and
 * every pipeline's Upstreams shares it), so a reload does not make a dead
 * upstream cost the next miss a timeout again.
 *
 * Times are `performance.now()` milliseconds, passed in, so the arithmetic
 * can be checked without waiting.
 */

export interface Backoff {
  /** How long a newly failed upstream is skipped before the first probe. */
  readonly initialMs: number;
  /** The cap: each failed probe doubles the wait up to this. */
  readonly maxMs: number;
}

/** 1 s doubling to 30 s: a dead upstream costs at most one probe (one timeout, in the background) every 30 s. */
export const DEFAULT_BACKOFF: Backoff = { initialMs: 1_000, maxMs: 30_000 };

/** Weight of the newest successful attempt in the latency average (`fastest`). */
const LATENCY_WEIGHT = 0.3;

export class ServerHealth {
  #down = false;
  /**
   * When the state last changed between up and down. An attempt sent before
   * it says nothing newer than the change, so its outcome cannot undo it: a
   * slow answer to a query sent before the upstream was marked down does not
   * bring it back, and a last-resort attempt that times out after a probe
   * found the upstream again does not take it down.
   */
  #changedAt = -Infinity;
  #backoffMs = 0;
  #probeAt = 0;
  #probing = false;
  #latencyMs: number | undefined = undefined;
  #measuredAt = -Infinity;

  constructor(
    readonly upstream: string,
    private readonly backoff: Backoff,
  ) {}

  get up(): boolean {
    return !this.#down;
  }

  /** Average duration of successful attempts (EWMA), or undefined before the first one. */
  get latencyMs(): number | undefined {
    return this.#latencyMs;
  }

  /** How long it is skipped for now (0 while up). */
  get backoffMs(): number {
    return this.#down ? this.#backoffMs : 0;
  }

  get probing(): boolean {
    return this.#probing;
  }

  /**
   * An attempt sent at `sentAt` got an answer. `latencyMs` only for a usable
   * answer (NOERROR, NXDOMAIN): that is what `fastest` ranks by.
   * @returns true when this brought the upstream back up.
   */
  answered(sentAt: number, now: number, latencyMs?: number): boolean {
    if (latencyMs !== undefined) {
      this.#latencyMs = this.#latencyMs === undefined ? latencyMs : this.#latencyMs + LATENCY_WEIGHT * (latencyMs - this.#latencyMs);
      this.#measuredAt = now;
    }
    if (!this.#down || sentAt < this.#changedAt) return false;
    this.#down = false;
    this.#changedAt = now;
    this.#backoffMs = 0;
    return true;
  }

  /**
   * An attempt sent at `sentAt` timed out or met a network error.
   * @returns true when this took the upstream down.
   */
  failed(sentAt: number, now: number): boolean {
    if (this.#down || sentAt < this.#changedAt) return false;
    this.#down = true;
    this.#changedAt = now;
    this.#backoffMs = this.backoff.initialMs;
    this.#probeAt = now + this.#backoffMs;
    return true;
  }

  /**
   * Claims the probe when one is due: down, the back-off run out, none in
   * flight. At most one probe per upstream is ever out.
   */
  claimProbe(now: number): boolean {
    if (!this.#down || this.#probing || now < this.#probeAt) return false;
    this.#probing = true;
    return true;
  }

  /** The claimed probe ended. One that got no answer doubles the back-off (to the cap). */
  probeEnded(alive: boolean, now: number): void {
    this.#probing = false;
    if (alive || !this.#down) return;
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.backoff.maxMs);
    this.#probeAt = now + this.#backoffMs;
  }

  /**
   * For `fastest`: claims a fresh measurement when the latency is older than
   * `staleMs`, so an upstream that is only ever the failover gets asked first
   * once in a while and its number does not stay what it was an hour ago.
   * Claiming counts as measuring, so concurrent queries do not all take it.
   */
  claimRemeasure(now: number, staleMs: number): boolean {
    if (this.#latencyMs === undefined || now - this.#measuredAt < staleMs) return false;
    this.#measuredAt = now;
    return true;
  }
}

/** Every upstream's ServerHealth, by the server's text as the config wrote it. */
export class UpstreamHealth {
  readonly #servers = new Map<string, ServerHealth>();

  constructor(private readonly backoff: Backoff = DEFAULT_BACKOFF) {}

  of(server: HostPort): ServerHealth {
    let health = this.#servers.get(server.text);
    if (!health) {
      health = new ServerHealth(server.text, this.backoff);
      this.#servers.set(server.text, health);
    }
    return health;
  }

  /** After a reload: forget the upstreams the config no longer lists (what is kept stays bounded by the config). */
  retain(servers: readonly HostPort[]): void {
    const keep = new Set(servers.map((s) => s.text));
    for (const text of this.#servers.keys()) if (!keep.has(text)) this.#servers.delete(text);
  }

  /** Up or down for each of `servers` (the running config's), for `intentdns_upstream_up`. */
  upStates(servers: readonly HostPort[]): Record<string, boolean> {
    return Object.fromEntries(servers.map((s) => [s.text, this.#servers.get(s.text)?.up ?? true]));
  }
}
