import type { TopSnapshot } from '../observe/top.js';
import { allowable, allowItemFor } from '../suggest/index.js';
import { json, type Route } from './routes.js';

/** How many of each the console shows (and GET /v1/top lists). */
export const TOP_SHOWN = 10;

/**
 * Where the top counts come from: one process's counter now, the merged
 * snapshots of several workers later (observe/top.ts mergeTop). http/ sees
 * only this function, never the counter.
 */
export type TopSource = () => TopSnapshot | Promise<TopSnapshot>;

/** GET /v1/top: the top blocked names (with the allow item suggest would write, where it would) and agents of the last hour. */
export function topRoutes(top: TopSource): Route[] {
  return [{ path: /^\/v1\/top$/, methods: { GET: async () => json(200, topJson(await top())) } }];
}

export function topJson(s: TopSnapshot): Record<string, unknown> {
  const names = s.names.slice(0, TOP_SHOWN);
  const agents = s.agents.slice(0, TOP_SHOWN);
  const sum = (list: readonly { count: number }[]): number => list.reduce((n, c) => n + c.count, 0);
  return {
    since: new Date(s.since).toISOString(),
    until: new Date(s.until).toISOString(),
    queries: s.queries,
    blocked: s.blocked,
    // allow only where suggest would write one: for the queries blocked because the role did not
    // cover the name (a deny rule is not lifted by an allow entry), counted as suggest counts them.
    top_blocked: names.map((c) => ({
      name: c.name, count: c.count,
      ...(c.uncovered > 0 && allowable(c.name) && { allow: allowItemFor(c.name, c.uncovered) }),
    })),
    top_agents: agents.map((c) => ({ agent: c.name, count: c.count })),
    // Counted in the totals but not in the lists: cut at a bucket's key cap, or below the first ten.
    not_listed: { names: s.other.names + sum(s.names) - sum(names), agents: s.other.agents + sum(s.agents) - sum(agents) },
  };
}
