import { describe, expect, it } from 'vitest';
import { TOP_SHOWN, topJson } from '../../src/http/top.js';
import { TopCounter } from '../../src/observe/top.js';
import { allowItemFor } from '../../src/suggest/index.js';

const T0 = Date.UTC(2026, 11, 2, 8, 0);

describe('GET /v1/top body', () => {
  it('gives the allow item only where suggest would write one, counted as suggest counts', () => {
    const top = new TopCounter();
    top.record('ci-1', 'denied.example', 'blocked', T0);
    top.record('ci-1', 'denied.example', 'blocked', T0);
    top.record('ci-1', 'mixed.example', 'blocked', T0);
    top.record('ci-1', 'mixed.example', 'uncovered', T0);
    top.record('ci-1', '<b>.example', 'uncovered', T0);     // no role's list can hold this name
    const body = topJson(top.snapshot(T0)) as { top_blocked: Array<Record<string, unknown>> };
    expect(body.top_blocked).toEqual([
      { name: 'denied.example', count: 2 },
      { name: 'mixed.example', count: 2, allow: '- mixed.example  # 1 query' },
      { name: '<b>.example', count: 1 },
    ]);
  });

  it('lists the first ten of each, each blocked name with suggest\'s allow item, and what is not listed', () => {
    const top = new TopCounter();
    for (let i = 0; i < 12; i++) for (let n = 0; n <= i; n++) top.record(`agent-${i}`, `n${i}.example`, 'uncovered', T0);
    const body = topJson(top.snapshot(T0 + 1000)) as {
      top_blocked: Array<{ name: string; count: number; allow: string }>;
      top_agents: Array<{ agent: string; count: number }>;
      not_listed: { names: number; agents: number };
      queries: number; since: string;
    };
    expect(body.top_blocked).toHaveLength(TOP_SHOWN);
    expect(body.top_blocked[0]).toEqual({ name: 'n11.example', count: 12, allow: allowItemFor('n11.example', 12) });
    expect(body.top_blocked[0]!.allow).toBe('- n11.example  # 12 queries');
    expect(body.top_agents[0]).toEqual({ agent: 'agent-11', count: 12 });
    // n0 (1) and n1 (2) fall below the first ten.
    expect(body.not_listed).toEqual({ names: 3, agents: 3 });
    expect(body.queries).toBe(78);
    expect(body.since).toBe(new Date(T0 - 59 * 60_000).toISOString());
  });
});
