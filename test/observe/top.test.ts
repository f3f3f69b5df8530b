import { describe, expect, it } from 'vitest';
import { mergeTop, TopCounter, type TopSnapshot } from '../../src/observe/top.js';

const MIN = 60_000;
const T0 = 1_800_000_000_000 - (1_800_000_000_000 % MIN);   // a minute boundary

describe('TopCounter', () => {
  it('ranks blocked names and agents by count, ties by name, counts every query, and how many blocks were of names the role did not cover', () => {
    const top = new TopCounter();
    for (let i = 0; i < 3; i++) top.record('ci-1', 'evil.example', 'uncovered', T0);
    top.record('ci-2', 'bad.example', 'blocked', T0 + 1);        // a deny rule, say: no allow entry would lift it
    top.record('ci-2', 'api.github.com', 'answered', T0 + 2);
    top.record(undefined, 'x.example', 'uncovered', T0 + 3);      // an unknown source: no agent
    const s = top.snapshot(T0 + 10);
    expect(s.queries).toBe(6);
    expect(s.blocked).toBe(5);
    expect(s.names).toEqual([
      { name: 'evil.example', count: 3, uncovered: 3 }, { name: 'bad.example', count: 1, uncovered: 0 }, { name: 'x.example', count: 1, uncovered: 1 },
    ]);
    expect(s.agents).toEqual([{ name: 'ci-1', count: 3 }, { name: 'ci-2', count: 2 }]);
    expect(s.other).toEqual({ names: 0, agents: 0 });
  });

  it('forgets what is older than the hour, one minute bucket at a time', () => {
    const top = new TopCounter();
    top.record('old', 'old.example', 'uncovered', T0);
    top.record('new', 'new.example', 'uncovered', T0 + 30 * MIN);
    expect(top.snapshot(T0 + 59 * MIN).names.map((c) => c.name)).toEqual(['new.example', 'old.example']);
    const later = top.snapshot(T0 + 60 * MIN);
    expect(later.names.map((c) => c.name)).toEqual(['new.example']);
    expect(later.queries).toBe(1);
    expect(later.since).toBe(T0 + MIN);
    // The ring slot is reused: recording an hour later replaces the old minute's counts.
    top.record('newer', 'newer.example', 'uncovered', T0 + 60 * MIN);
    expect(top.snapshot(T0 + 60 * MIN).agents.map((c) => c.name)).toEqual(['new', 'newer']);
  });

  it('keeps at most maxKeys names per bucket and counts the rest as other, never losing them from the totals', () => {
    const top = new TopCounter({ maxKeys: 3, listed: 2 });
    for (let i = 0; i < 10; i++) top.record(`agent-${i}`, `n${i}.tunnel.example`, 'uncovered', T0);
    const s = top.snapshot(T0);
    expect(s.blocked).toBe(10);
    expect(s.names).toHaveLength(2);
    // 7 cut at the cap, 1 kept but not listed.
    expect(s.other).toEqual({ names: 8, agents: 8 });
    expect(s.names.reduce((n, c) => n + c.count, 0) + s.other.names).toBe(s.blocked);
  });
});

describe('mergeTop', () => {
  const snap = (over: Partial<TopSnapshot>): TopSnapshot => ({
    since: T0, until: T0 + MIN, queries: 0, blocked: 0, names: [], agents: [], other: { names: 0, agents: 0 }, ...over,
  });

  it('adds the totals and the counts of each name, ranks again and widens the window', () => {
    const a = snap({ queries: 10, blocked: 4, names: [{ name: 'x.example', count: 3, uncovered: 3 }, { name: 'y.example', count: 1, uncovered: 0 }], agents: [{ name: 'ci-1', count: 10 }] });
    const b = snap({ since: T0 - MIN, until: T0 + 2 * MIN, queries: 5, blocked: 3, names: [{ name: 'y.example', count: 3, uncovered: 2 }], agents: [{ name: 'ci-2', count: 5 }], other: { names: 0, agents: 0 } });
    const m = mergeTop([a, b]);
    expect(m).toEqual({
      since: T0 - MIN, until: T0 + 2 * MIN, queries: 15, blocked: 7,
      names: [{ name: 'y.example', count: 4, uncovered: 2 }, { name: 'x.example', count: 3, uncovered: 3 }],
      agents: [{ name: 'ci-1', count: 10 }, { name: 'ci-2', count: 5 }],
      other: { names: 0, agents: 0 },
    });
  });

  it('gives what one counter over all the queries would, when the lists are complete', () => {
    const whole = new TopCounter();
    const parts = [new TopCounter(), new TopCounter(), new TopCounter()];
    for (let i = 0; i < 300; i++) {
      const agent = `ci-${i % 7}`;
      const name = `n${(i * 13) % 11}.example`;
      const outcome = (['answered', 'blocked', 'uncovered'] as const)[i % 3]!;
      whole.record(agent, name, outcome, T0 + i);
      parts[Math.floor(i / 7) % 3]!.record(agent, name, outcome, T0 + i);
    }
    const merged = mergeTop(parts.map((p) => p.snapshot(T0 + 1000)));
    expect(merged).toEqual(whole.snapshot(T0 + 1000));
  });

  it('keeps at most `listed` entries and moves the rest into other', () => {
    const m = mergeTop([snap({ blocked: 3, names: [{ name: 'a', count: 1, uncovered: 1 }, { name: 'b', count: 1, uncovered: 0 }], other: { names: 1, agents: 0 } })], 1);
    expect(m.names).toEqual([{ name: 'a', count: 1, uncovered: 1 }]);
    expect(m.other.names).toBe(2);
  });

  it('merges nothing into an empty snapshot', () => {
    expect(mergeTop([])).toEqual({ since: 0, until: 0, queries: 0, blocked: 0, names: [], agents: [], other: { names: 0, agents: 0 } });
  });
});
