import { describe, expect, it } from 'vitest';
import type { NamePattern } from '../../src/config/types.js';
import { NameSet } from '../../src/decide/names.js';

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
});
