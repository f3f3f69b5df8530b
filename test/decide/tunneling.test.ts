import { describe, expect, it } from 'vitest';
import { TUNNELING_DEFAULTS } from '../../src/config/sections/tunneling.js';
import { DomainBudgets, NO_BUDGETS } from '../../src/decide/domain-budgets.js';
import { NameFactsMemo, splitAtRegistrable, tunnelingRule } from '../../src/decide/tunneling.js';
import { prng } from '../helpers/prng.js';

const limits = TUNNELING_DEFAULTS;
/** A role that sets the spec's stricter per-name limits. */
const strict = { ...TUNNELING_DEFAULTS, maxLabelLength: 52, maxLabelEntropy: 4.0 };
const T0 = 1_700_000_000_000;

describe('splitAtRegistrable', () => {
  it.each([
    ['a.b.example.com', 'example.com', 3],
    ['example.com', 'example.com', 0],
    ['x.y.example.co.uk', 'example.co.uk', 3],
    // The private PSL section counts: each github.io site is its own registrable domain.
    ['data.alice.github.io', 'alice.github.io', 4],
    ['n1.s2.bench.test', 'bench.test', 5],
  ])('%s is under %s, %i characters below it', (name, domain, below) => {
    expect(splitAtRegistrable(name)).toEqual({ domain, below });
  });

  it.each(['a+b', 'x/y', 'u@h', 'a?b', 'a:80', 'a\\b'])('a label with a character no hostname has (%s) still counts under the registrable domain', (label) => {
    expect(splitAtRegistrable(`${label}.t.example.com`)).toEqual({ domain: 'example.com', below: label.length + 2 });
  });

  it.each(['com', 'co.uk', 'github.io', 'localhost', '1.2.3.4'])('%s has no registrable domain: it is its own, with nothing below', (name) => {
    expect(splitAtRegistrable(name)).toEqual({ domain: name, below: 0 });
  });
});

describe('tunnelingRule', () => {
  it('names the limit, its value, the maximum and the registrable domain', () => {
    const fullSize = `${Array.from({ length: 3 }, () => 'a'.repeat(57)).join('.')}.t.example.com`;
    expect(tunnelingRule('a', fullSize, limits, NO_BUDGETS, T0)).toBe('max_name_length (187 > 180) under example.com');
    expect(tunnelingRule('a', `${'a'.repeat(57)}.t.example.com`, strict, NO_BUDGETS, T0)).toBe('max_label_length (57 > 52) under example.com');
  });

  it('shows entropy with two decimals', () => {
    expect(tunnelingRule('a', '0123456789abcdefghij.example.com', strict, NO_BUDGETS, T0)).toBe('max_label_entropy (4.32 > 4.00) under example.com');
  });

  it('names the windowed limit that tripped', () => {
    const budgets = new DomainBudgets({ seed: 1 });
    for (let i = 0; i < 300; i++) expect(tunnelingRule('a', `n${i}.example.com`, limits, budgets, T0)).toBeUndefined();
    expect(tunnelingRule('a', 'n300.example.com', limits, budgets, T0)).toBe('max_names_per_domain (301 > 300) under example.com');
  });

  it('spends the budget for a name its own signals trip too', () => {
    const budgets = new DomainBudgets({ seed: 1 });
    expect(tunnelingRule('a', `${'b'.repeat(60)}.example.com`, strict, budgets, T0)).toMatch(/^max_label_length/);
    expect(budgets.size).toBe(1);
    expect(budgets.names).toBe(1);
  });

  it('judges a name asked again, from the memo, by the limits it is asked under: each role its own', () => {
    const name = `${'c'.repeat(57)}.t.example.com`;
    const memo = new NameFactsMemo();
    expect(tunnelingRule('a', name, strict, NO_BUDGETS, T0, memo)).toBe('max_label_length (57 > 52) under example.com');
    expect(tunnelingRule('a', name, limits, NO_BUDGETS, T0, memo)).toBeUndefined();
    expect(tunnelingRule('a', name, strict, NO_BUDGETS, T0, memo)).toBe('max_label_length (57 > 52) under example.com');
  });

  it('spends the budgets on every query of a name asked again, from the memo', () => {
    const one = { ...limits, maxNamesPerDomain: 1 };
    const budgets = new DomainBudgets({ seed: 1 });
    const memo = new NameFactsMemo();
    expect(tunnelingRule('a', 'a.example.com', one, budgets, T0, memo)).toBeUndefined();
    expect(tunnelingRule('a', 'a.example.com', one, budgets, T0, memo)).toBeUndefined();
    expect(tunnelingRule('a', 'b.example.com', one, budgets, T0, memo)).toBe('max_names_per_domain (2 > 1) under example.com');
    // Tripped: the name asked before trips too, until the window ends.
    expect(tunnelingRule('a', 'a.example.com', one, budgets, T0, memo)).toBe('max_names_per_domain (2 > 1) under example.com');
    expect(tunnelingRule('a', 'a.example.com', one, budgets, T0 + 10 * 60_000, memo)).toBeUndefined();
  });

  it('is undefined for an ordinary name', () => {
    expect(tunnelingRule('a', 'registry.npmjs.org', limits, new DomainBudgets(), T0)).toBeUndefined();
  });
});

describe('NameFactsMemo: the fast path of the tunneling check', () => {
  // Seeded: a failure names its seed and reproduces with TUNNEL_MEMO_SEED=<seed>.
  const SEED = Number(process.env.TUNNEL_MEMO_SEED ?? Math.floor(Math.random() * 1e6));

  it(`decides every query as the check without the memo does, over random names, roles and time (TUNNEL_MEMO_SEED=${SEED})`, () => {
    const r = prng(SEED);
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0234567-_';
    const label = (n: number): string => Array.from({ length: n }, () => alphabet[r.int(alphabet.length)]).join('');
    const domains = ['example.com', 'example.co.uk', 'alice.github.io', 'bench.test', 'com'];
    // A few roles' limits, each its own object as a config snapshot makes them.
    const roles = Array.from({ length: 4 }, () => ({
      ...TUNNELING_DEFAULTS,
      maxLabelLength: 20 + r.int(44), maxNameLength: 40 + r.int(140), maxLabelEntropy: 3 + r.int(20) / 10,
      maxNamesPerDomain: 5 + r.int(40), maxBytesPerDomain: 100 + r.int(2000),
    }));
    // Names asked again and again (so most come from the memo), some fresh.
    const names = Array.from({ length: 300 }, () => {
      const labels = Array.from({ length: 1 + r.int(3) }, () => label(1 + r.int(40)));
      return `${labels.join('.')}.${domains[r.int(domains.length)]}`;
    });
    const memo = new NameFactsMemo();
    const withMemo = new DomainBudgets({ seed: 7 });
    const without = new DomainBudgets({ seed: 7 });
    let now = T0;
    let tripped = 0;
    for (let q = 0; q < 20_000; q++) {
      const agent = `agent-${r.int(3)}`;
      const name = r.int(10) === 0 ? `${label(1 + r.int(60))}.${domains[r.int(domains.length)]}` : names[r.int(names.length)]!;
      const limits = roles[r.int(roles.length)]!;
      now += r.int(2000);
      const fast = tunnelingRule(agent, name, limits, withMemo, now, memo);
      const plain = tunnelingRule(agent, name, limits, without, now);
      expect(fast, `query ${q}: ${agent} ${name}`).toBe(plain);
      if (plain !== undefined) tripped++;
    }
    // The comparison meant something: both outcomes occurred often.
    expect(tripped).toBeGreaterThan(1000);
    expect(tripped).toBeLessThan(19_000);
  });
});
