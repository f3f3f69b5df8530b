import type { HostPort, UpstreamStrategy } from '../config/types.js';
import type { ServerHealth } from './health.js';

/**
 * `fastest`: an upstream whose latency is older than this is asked first once,
 * so a failover that got faster (or a first choice that got slower) is noticed.
 * At most once per upstream per minute, and only under traffic.
 */
export const REMEASURE_AFTER_MS = 60_000;

export interface Ranked {
  readonly server: HostPort;
  readonly health: ServerHealth;
}

/**
 * The order in which to ask the upstreams, before skipping the ones that are
 * down (exchange.ts does that):
 *  - ordered: config order (v1);
 *  - fastest: lowest average latency first; one never measured comes before
 *    every measured one (so each gets measured), config order breaks ties;
 *    one whose measurement went stale (REMEASURE_AFTER_MS) is moved to the
 *    front for this one query.
 */
export function rank(servers: readonly Ranked[], strategy: UpstreamStrategy, now: number): readonly Ranked[] {
  if (strategy === 'ordered' || servers.length < 2) return servers;
  const sorted = servers
    .map((s, i) => ({ s, i, latency: s.health.latencyMs ?? -1 }))
    .sort((a, b) => a.latency - b.latency || a.i - b.i)
    .map((x) => x.s);
  const stale = sorted.findIndex((s, i) => i > 0 && s.health.up && s.health.claimRemeasure(now, REMEASURE_AFTER_MS));
  if (stale > 0) sorted.unshift(...sorted.splice(stale, 1));
  return sorted;
}
