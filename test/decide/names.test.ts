import { describe, expect, it } from 'vitest';
import type { NamePattern, RoleConfig } from '../../src/config/types.js';
import { NameSet } from '../../src/decide/names.js';
import { compileRoles, compileRolesAsync } from '../../src/decide/role.js';
import { TimeSlices } from '../../src/slices.js';

const exact = (name: string): NamePattern => ({ kind: 'exact', name, source: name });
const subtree = (name: string): NamePattern => ({ kind: 'subtree', name, source: `*.${name}` });

describe('NameSet', () => {
  const set = new NameSet([exact('github.com'), subtree('github.com'), subtree('corp.internal'), exact('api.example.org')]);

  it('matches an exact name and names below a subtree rule at any depth', () => {
    expect(set.match('github.com')).toBe('github.com');
    expect(set.match('api.github.com')).toBe('*.github.com');
    expect(set.match('a.b.c.github.com')).toBe('*.github.com');
    expect(set.match('api.example.org')).toBe('api.example.org');
  });

  it('never lets "*.name" match the apex or a look-alike', () => {
    const onlySubtree = new NameSet([subtree('corp.internal')]);
    expect(onlySubtree.match('corp.internal')).toBeUndefined();
    expect(onlySubtree.match('evilcorp.internal')).toBeUndefined();
    expect(onlySubtree.match('corp.internal.evil.com')).toBeUndefined();
    expect(onlySubtree.match('db.corp.internal')).toBe('*.corp.internal');
  });

  it('does not treat an exact rule as covering names below it', () => {
    expect(set.match('www.api.example.org')).toBeUndefined();
    expect(set.match('example.org')).toBeUndefined();
  });

  it('answers from a list of 100,000 rules as it does from one', () => {
    const many: NamePattern[] = [];
    for (let i = 0; i < 100_000; i++) many.push(i % 2 ? exact(`host${i}.example.net`) : subtree(`zone${i}.example.net`));
    const big = new NameSet(many);
    expect(big.size).toBe(100_000);
    expect(big.match('host99999.example.net')).toBe('host99999.example.net');
    expect(big.match('a.b.zone99998.example.net')).toBe('*.zone99998.example.net');
    expect(big.match('host99998.example.net')).toBeUndefined();
  });

  it('keeps answering right while more names are asked than its memo remembers, round after round', () => {
    // 40,000 names (the memo holds at most 16,384) asked in three rounds, in orders that make
    // names leave the memo, come back from its old half, and be worked out again.
    const zones = new NameSet([subtree('allowed.test'), exact('exact.test')]);
    const name = (i: number): string => (i % 3 === 0 ? `n${i}.allowed.test` : i % 3 === 1 ? `n${i}.other.test` : `n${i}.deep.allowed.test`);
    const expected = (i: number): string | undefined => (i % 3 === 1 ? undefined : '*.allowed.test');
    const wrong: number[] = [];
    for (const order of [(i: number) => i, (i: number) => 39_999 - i, (i: number) => (i * 7919) % 40_000]) {
      for (let k = 0; k < 40_000; k++) {
        const i = order(k);
        if (zones.match(name(i)) !== expected(i)) wrong.push(i);
      }
    }
    expect(wrong).toEqual([]);
    expect(zones.match('exact.test')).toBe('exact.test');
    expect(zones.match('allowed.test')).toBeUndefined();
  });
});

describe('NameSet.build (reloads: filled in time slices)', () => {
  const names = (set: NameSet, probes: readonly string[]): Array<string | undefined> => probes.map((n) => set.match(n));

  it('answers as the constructor does, the first of duplicate rules winning', async () => {
    const patterns = [
      exact('github.com'), subtree('github.com'), { ...exact('github.com'), source: '@gh:github.com' },
      { ...subtree('npmjs.org'), source: '@npm:*.npmjs.org' }, subtree('npmjs.org'), exact('api.example.org'),
    ];
    const probes = ['github.com', 'api.github.com', 'x.npmjs.org', 'npmjs.org', 'api.example.org', 'example.org'];
    const built = await NameSet.build(patterns, new TimeSlices());
    expect(names(built, probes)).toEqual(names(new NameSet(patterns), probes));
    expect(names(built, probes)).toEqual(['github.com', '*.github.com', '@npm:*.npmjs.org', undefined, 'api.example.org', undefined]);
    expect(built.size).toBe(4);
  });

  it('lets the event loop turn while it fills a long list, and nobody sees the set before it is whole', async () => {
    const many: NamePattern[] = [];
    for (let i = 0; i < 100_000; i++) many.push(i % 2 ? exact(`host${i}.example.net`) : subtree(`zone${i}.example.net`));
    let turns = 0;
    const ticking = setInterval(() => turns++, 0);
    try {
      // A budget of 0: every clock check pauses, so turns happen however fast this machine is.
      const set = await NameSet.build(many, new TimeSlices(0));
      expect(turns).toBeGreaterThan(10);
      expect(set.size).toBe(100_000);
      expect(set.match('host99999.example.net')).toBe('host99999.example.net');
      expect(set.match('a.zone99998.example.net')).toBe('*.zone99998.example.net');
    } finally {
      clearInterval(ticking);
    }
  });
});

describe('compileRolesAsync', () => {
  it('compiles the roles compileRoles does', async () => {
    const role = (name: string, allow: NamePattern[]): RoleConfig => ({ name, allow, deny: [exact('evil.example')], qtypes: [1, 28], privateOk: [subtree('corp.internal')], unlisted: 'hold', tunneling: null, mode: null });
    const roles = new Map([['a', role('a', [exact('github.com')])], ['b', role('b', [subtree('npmjs.org')])]]);
    const sync = compileRoles(roles);
    const sliced = await compileRolesAsync(roles, new TimeSlices(0));
    expect([...sliced.keys()]).toEqual(['a', 'b']);
    for (const [name, r] of sliced) {
      const s = sync.get(name)!;
      for (const probe of ['github.com', 'registry.npmjs.org', 'evil.example', 'db.corp.internal']) {
        expect([r.allow.match(probe), r.deny.match(probe), r.privateOk.match(probe)]).toEqual([s.allow.match(probe), s.deny.match(probe), s.privateOk.match(probe)]);
      }
      expect([r.unlisted, r.allowsType(1), r.allowsType(16)]).toEqual([s.unlisted, s.allowsType(1), s.allowsType(16)]);
    }
  });
});
