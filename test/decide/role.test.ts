import { describe, expect, it } from 'vitest';
import type { NamePattern, RoleConfig } from '../../src/config/types.js';
import { Role } from '../../src/decide/role.js';

const exact = (name: string): NamePattern => ({ kind: 'exact', name, source: name });
const subtree = (name: string): NamePattern => ({ kind: 'subtree', name, source: `*.${name}` });

function role(allow: NamePattern[], deny: NamePattern[]): Role {
  const config: RoleConfig = { name: 'coding', allow, deny, privateOk: [], qtypes: null, unlisted: 'sinkhole', tunneling: null, mode: null };
  return new Role(config);
}

describe('Role.lists', () => {
  const r = role([subtree('example.org'), exact('example.org'), exact('api.other.net')], [exact('upload.example.org'), subtree('evil.example.org')]);

  it('names the deny rule whenever one matches, and the allow rule only when none does', () => {
    expect(r.lists('upload.example.org')).toEqual({ deny: 'upload.example.org', allow: undefined });
    expect(r.lists('x.evil.example.org')).toEqual({ deny: '*.evil.example.org', allow: undefined });
    expect(r.lists('www.example.org')).toEqual({ deny: undefined, allow: '*.example.org' });
    expect(r.lists('example.org')).toEqual({ deny: undefined, allow: 'example.org' });
    expect(r.lists('evil.example.org')).toEqual({ deny: undefined, allow: '*.example.org' });
    expect(r.lists('other.net')).toEqual({ deny: undefined, allow: undefined });
  });

  it('gives the same answers while more names are asked than it remembers, round after round', () => {
    const name = (i: number): string => [`n${i}.example.org`, `n${i}.evil.example.org`, `n${i}.other.net`][i % 3]!;
    const expected = (i: number) => [
      { deny: undefined, allow: '*.example.org' }, { deny: '*.evil.example.org', allow: undefined }, { deny: undefined, allow: undefined },
    ][i % 3];
    const wrong: number[] = [];
    for (const order of [(i: number) => i, (i: number) => 39_999 - i, (i: number) => (i * 7919) % 40_000]) {
      for (let k = 0; k < 40_000; k++) {
        const i = order(k);
        const got = r.lists(name(i));
        if (got.deny !== expected(i)!.deny || got.allow !== expected(i)!.allow) wrong.push(i);
      }
    }
    expect(wrong).toEqual([]);
  });
});
