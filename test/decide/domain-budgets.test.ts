import { describe, expect, it } from 'vitest';
import { TUNNELING_DEFAULTS } from '../../src/config/sections/tunneling.js';
import type { TunnelingConfig } from '../../src/config/types.js';
import { BYTES_WINDOW_MS, DomainBudgets, NAMES_WINDOW_MS, nameHash, type BudgetBounds } from '../../src/decide/domain-budgets.js';

const MIN = 60_000;
const T0 = 1_700_000_000_000;
const limits = TUNNELING_DEFAULTS;

/** Spends `below.example.com` (or the apex for ""), as tunneling.ts would. */
function spend(b: DomainBudgets, below: string, now: number, opts: { agent?: string; domain?: string; limits?: TunnelingConfig } = {}) {
  const domain = opts.domain ?? 'example.com';
  const name = below === '' ? domain : `${below}.${domain}`;
  return b.spend(opts.agent ?? 'agent-1', domain, name, below.length, opts.limits ?? limits, now);
}

describe('DomainBudgets: distinct names per 10 minutes', () => {
  it('lets 300 distinct names pass and trips on the 301st, naming the count', () => {
    const b = new DomainBudgets({ seed: 1 });
    for (let i = 0; i < 300; i++) expect(spend(b, `n${i}`, T0 + i)).toBeUndefined();
    expect(spend(b, 'n300', T0 + 300)).toEqual({ key: 'max_names_per_domain', value: 301, max: 300 });
  });

  it('counts a name asked again once', () => {
    const b = new DomainBudgets({ seed: 1 });
    for (let i = 0; i < 5000; i++) expect(spend(b, `n${i % 300}`, T0 + i)).toBeUndefined();
  });

  it('once tripped, trips every name under the domain, known ones too, until the 10 minutes are over', () => {
    const b = new DomainBudgets({ seed: 1 });
    for (let i = 0; i <= 300; i++) spend(b, `n${i}`, T0);
    expect(spend(b, 'n0', T0 + 1)).toEqual({ key: 'max_names_per_domain', value: 301, max: 300 });
    expect(spend(b, '', T0 + NAMES_WINDOW_MS - 1)?.key).toBe('max_names_per_domain');
    expect(spend(b, 'n0', T0 + NAMES_WINDOW_MS)).toBeUndefined();
  });

  it('starts the window at the key\'s first query, so up to twice the limit can pass across a boundary', () => {
    const b = new DomainBudgets({ seed: 1 });
    const start = T0 + 5 * MIN;
    spend(b, 'first', start);
    for (let i = 1; i < 300; i++) expect(spend(b, `a${i}`, start + NAMES_WINDOW_MS - 1000)).toBeUndefined();
    for (let i = 0; i < 300; i++) expect(spend(b, `b${i}`, start + NAMES_WINDOW_MS)).toBeUndefined();
    expect(spend(b, 'b300', start + NAMES_WINDOW_MS + 1)?.key).toBe('max_names_per_domain');
  });

  it('keeps each agent and each registrable domain apart', () => {
    const b = new DomainBudgets({ seed: 1 });
    for (let i = 0; i <= 300; i++) spend(b, `n${i}`, T0);
    expect(spend(b, 'n0', T0, { agent: 'agent-2' })).toBeUndefined();
    expect(spend(b, 'n0', T0, { domain: 'example.org' })).toBeUndefined();
    expect(b.size).toBe(3);
  });
});

describe('DomainBudgets: unique bytes per hour', () => {
  it('sums the characters below the domain of distinct names and trips past max_bytes_per_domain', () => {
    const b = new DomainBudgets({ seed: 1 });
    const label = (i: number) => i.toString(16).padStart(32, '0');   // 32 characters each
    for (let i = 0; i < 256; i++) expect(spend(b, label(i), T0 + i * 1000)).toBeUndefined();   // 8192
    expect(spend(b, label(0), T0 + 256_000)).toBeUndefined();                                  // a name seen: no bytes
    expect(spend(b, 'x', T0 + 257_000)).toEqual({ key: 'max_bytes_per_domain', value: 8193, max: 8192 });
  });

  it('stays tripped past the 10-minute window, until the hour is over', () => {
    const b = new DomainBudgets({ seed: 1 });
    spend(b, 'a'.repeat(50), T0);
    const small = { ...limits, maxBytesPerDomain: 60 };
    expect(spend(b, 'b'.repeat(20), T0 + 1, { limits: small })?.key).toBe('max_bytes_per_domain');
    expect(spend(b, 'c', T0 + 30 * MIN, { limits: small })).toEqual({ key: 'max_bytes_per_domain', value: 70, max: 60 });
    expect(spend(b, 'c', T0 + BYTES_WINDOW_MS, { limits: small })).toBeUndefined();
  });

  it('keeps the hour\'s bytes when the names limit trips: tripping it on purpose buys no fresh bytes budget', () => {
    const b = new DomainBudgets({ seed: 1 });
    const tight = { ...limits, maxNamesPerDomain: 10, maxBytesPerDomain: 100 };
    for (let i = 0; i < 10; i++) spend(b, `${i}`.padStart(9, 'x'), T0, { limits: tight });   // 90 bytes
    expect(spend(b, 'y', T0, { limits: tight })?.key).toBe('max_names_per_domain');
    // Next window: the names count starts over, the bytes do not.
    expect(spend(b, 'z'.repeat(9), T0 + NAMES_WINDOW_MS, { limits: tight })).toBeUndefined();   // 99
    expect(spend(b, 'zz', T0 + NAMES_WINDOW_MS, { limits: tight })).toEqual({ key: 'max_bytes_per_domain', value: 101, max: 100 });
  });
});

describe('DomainBudgets: reloads', () => {
  it('applies raised limits from the next query, counting on from where the trip stopped', () => {
    const b = new DomainBudgets({ seed: 1 });
    for (let i = 0; i <= 300; i++) spend(b, `n${i}`, T0);
    const raised = { ...limits, maxNamesPerDomain: 400 };
    expect(spend(b, 'n300', T0 + 1, { limits: raised })).toBeUndefined();
    for (let i = 301; i < 400; i++) expect(spend(b, `n${i}`, T0 + 2, { limits: raised })).toBeUndefined();
    expect(spend(b, 'n400', T0 + 3, { limits: raised })).toEqual({ key: 'max_names_per_domain', value: 401, max: 400 });
  });

  it('applies lowered limits at the next query, a known name included', () => {
    const b = new DomainBudgets({ seed: 1 });
    for (let i = 0; i < 200; i++) spend(b, `n${i}`, T0);
    expect(spend(b, 'n0', T0 + 1, { limits: { ...limits, maxNamesPerDomain: 100 } })).toEqual({ key: 'max_names_per_domain', value: 200, max: 100 });
  });
});

describe('DomainBudgets: memory bounds', () => {
  const bounds = (b: Partial<BudgetBounds>): BudgetBounds => ({ maxKeys: 1000, maxKeysPerAgent: 1000, maxNames: 100_000, maxNamesPerAgent: 100_000, ...b });

  it('forgets the agent\'s least recently asked domain beyond its key bound, and its budget with it', () => {
    const b = new DomainBudgets({ seed: 1, bounds: bounds({ maxKeysPerAgent: 2 }) });
    const tight = { ...limits, maxNamesPerDomain: 1 };
    spend(b, 'a', T0, { domain: 'one.test', limits: tight });
    expect(spend(b, 'b', T0, { domain: 'one.test', limits: tight })?.key).toBe('max_names_per_domain');
    spend(b, 'a', T0 + 1, { domain: 'two.test', limits: tight });
    spend(b, 'a', T0 + 2, { domain: 'three.test', limits: tight });   // one.test goes
    expect(b.size).toBe(2);
    expect(spend(b, 'b', T0 + 3, { domain: 'one.test', limits: tight })).toBeUndefined();
    // Other agents keep theirs.
    const other = { agent: 'agent-2', limits: tight };
    spend(b, 'a', T0, { domain: 'one.test', ...other });
    expect(b.size).toBe(3);
  });

  it('touching a key keeps it: the least recently asked goes, not the oldest', () => {
    const b = new DomainBudgets({ seed: 1, bounds: bounds({ maxKeysPerAgent: 2 }) });
    const tight = { ...limits, maxNamesPerDomain: 1 };
    spend(b, 'a', T0, { domain: 'tunnel.test', limits: tight });
    spend(b, 'b', T0, { domain: 'tunnel.test', limits: tight });       // tripped
    spend(b, 'a', T0 + 1, { domain: 'x.test', limits: tight });
    spend(b, 'c', T0 + 2, { domain: 'tunnel.test', limits: tight });   // asked again
    spend(b, 'a', T0 + 3, { domain: 'y.test', limits: tight });        // x.test goes
    expect(spend(b, 'd', T0 + 4, { domain: 'tunnel.test', limits: tight })?.key).toBe('max_names_per_domain');
  });

  it('holds at most maxKeys keys in all', () => {
    const b = new DomainBudgets({ seed: 1, bounds: bounds({ maxKeys: 50 }) });
    for (let i = 0; i < 500; i++) spend(b, 'a', T0 + i, { agent: `agent-${i}`, domain: `d${i % 7}.test` });
    expect(b.size).toBe(50);
  });

  it('holds at most maxNamesPerAgent names per agent, taking them from its other keys', () => {
    const b = new DomainBudgets({ seed: 1, bounds: bounds({ maxNamesPerAgent: 100 }) });
    for (let i = 0; i < 60; i++) spend(b, `n${i}`, T0, { domain: 'old.test' });
    for (let i = 0; i < 60; i++) spend(b, `n${i}`, T0 + 1, { domain: 'new.test' });
    expect(b.names).toBeLessThanOrEqual(100);
    expect(b.size).toBe(1);   // old.test made room
  });

  it('a key alone at the names bound counts new names without remembering them: a repeat counts again', () => {
    const b = new DomainBudgets({ seed: 1, bounds: bounds({ maxNamesPerAgent: 10 }) });
    const tight = { ...limits, maxNamesPerDomain: 12 };
    for (let i = 0; i < 12; i++) expect(spend(b, `n${i}`, T0, { limits: tight })).toBeUndefined();
    expect(b.names).toBe(10);
    expect(spend(b, 'n11', T0, { limits: tight })?.key).toBe('max_names_per_domain');
  });

  it('holds at most maxNames names in all', () => {
    const b = new DomainBudgets({ seed: 1, bounds: bounds({ maxNames: 500 }) });
    for (let a = 0; a < 20; a++) for (let i = 0; i < 100; i++) spend(b, `n${i}`, T0 + a, { agent: `agent-${a}` });
    expect(b.names).toBeLessThanOrEqual(500);
  });

  it('drops keys whose hour is over as other queries come', () => {
    const b = new DomainBudgets({ seed: 1 });
    for (let i = 0; i < 10; i++) spend(b, 'a', T0, { domain: `d${i}.test` });
    for (let i = 0; i < 5; i++) spend(b, 'a', T0 + BYTES_WINDOW_MS + i, { domain: 'live.test' });
    expect(b.size).toBe(1);
    expect(b.names).toBe(1);
  });
});

describe('nameHash', () => {
  it('depends on the seed, so colliding names cannot be searched for offline', () => {
    const names = Array.from({ length: 20 }, (_, i) => `n${i}`);
    expect(names.map((n) => nameHash(n, n.length, 1))).not.toEqual(names.map((n) => nameHash(n, n.length, 2)));
  });

  it('gives 30-bit values, and hashes only the first `length` characters', () => {
    for (let i = 0; i < 1000; i++) {
      const h = nameHash(`name-${i}.example.com`, 8, 7);
      expect(h).toBeGreaterThanOrEqual(0);
      expect(h).toBeLessThan(2 ** 30);
    }
    expect(nameHash('abc.example.com', 3, 9)).toBe(nameHash('abc.example.org', 3, 9));
  });
});
