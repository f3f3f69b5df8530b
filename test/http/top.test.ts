import { describe, expect, it } from 'vitest';
import { TOP_SHOWN, topJson, topRoutes } from '../../src/http/top.js';
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

describe('GET /v1/allow-line', () => {
  const get = async (top: TopCounter, name: string | null) => {
    const [, line] = topRoutes(() => top.snapshot(T0));
    const query = new URLSearchParams(name === null ? {} : { name });
    const reply = await line!.methods.GET!({ method: 'GET', path: '/v1/allow-line', query, params: [], client: '127.0.0.1', body: '' });
    return 'kind' in reply ? null : { status: reply.status, body: JSON.parse(reply.body) as unknown };
  };

  it('the allow item suggest writes for one name, counted as the top counts have it, else as one query', async () => {
    const top = new TopCounter();
    for (let i = 0; i < 3; i++) top.record('ci-1', 'pkg.example.com', 'uncovered', T0);
    expect(await get(top, 'PKG.example.com.')).toEqual({ status: 200, body: { name: 'pkg.example.com', allow: allowItemFor('pkg.example.com', 3) } });
    expect(await get(top, 'other.example.com')).toEqual({ status: 200, body: { name: 'other.example.com', allow: '- other.example.com  # 1 query' } });
  });

  it('no allow item for a name no list can hold; 400 without a name', async () => {
    const top = new TopCounter();
    expect(await get(top, '<b>.example')).toEqual({ status: 200, body: { name: '<b>.example', allow: null } });
    expect((await get(top, null))?.status).toBe(400);
    expect((await get(top, 'x'.repeat(300)))?.status).toBe(400);
  });
});
