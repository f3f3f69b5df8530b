import type { TopSnapshot } from '../observe/top.js';
import { allowable, allowItemFor } from '../suggest/index.js';
import { json, jsonError, type Route } from './routes.js';

/** How many of each the console shows (and GET /v1/top lists). */
export const TOP_SHOWN = 10;

/**
 * Where the top counts come from: one process's counter now, the merged
 * snapshots of several workers later (observe/top.ts mergeTop). http/ sees
 * only this function, never the counter.
 */
export type TopSource = () => TopSnapshot | Promise<TopSnapshot>;

/**
 * GET /v1/top: the top blocked names (with the allow item suggest would write, where it would) and agents of the last hour.
 * GET /v1/allow-line?name=N: the allow item suggest would write for one name (the console's button on a blocked row),
 * counted as the last hour's top counts have it when they list the name, else as one query; null for a name no list can hold.
 */
export function topRoutes(top: TopSource): Route[] {
  return [
    { path: /^\/v1\/top$/, methods: { GET: async () => json(200, topJson(await top())) } },
    {
      path: /^\/v1\/allow-line$/,
      methods: {
        GET: async (req) => {
          const name = req.query.get('name')?.trim().toLowerCase().replace(/\.$/, '') ?? '';
          if (name === '' || name.length > 253) return jsonError(400, 'name: a DNS name of at most 253 characters is required');
          if (!allowable(name)) return json(200, { name, allow: null });
          const seen = (await top()).names.find((c) => c.name === name);
          return json(200, { name, allow: allowItemFor(name, Math.max(1, seen?.uncovered ?? 0)) });
        },
      },
    },
  ];
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
