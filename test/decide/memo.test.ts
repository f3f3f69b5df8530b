import { describe, expect, it } from 'vitest';
import { Memo } from '../../src/decide/memo.js';

describe('Memo (two generations)', () => {
  it('keeps what was asked within the last generation, forgets what was not asked for two', () => {
    const memo = new Memo<number>(3);
    for (const [i, name] of ['a', 'b', 'c'].entries()) memo.set(name, i);
    memo.set('d', 3);                        // young was full: a, b, c are now the old generation
    expect(memo.get('a')).toBe(0);           // found in the old one, moved to the young one
    memo.set('e', 4);                        // young: d, a, e (full)
    memo.set('f', 5);                        // young full again: old = d, a, e; b and c are gone
    expect(memo.get('b')).toBeUndefined();
    expect(memo.get('c')).toBeUndefined();
    expect([memo.get('a'), memo.get('d'), memo.get('e'), memo.get('f')]).toEqual([0, 3, 4, 5]);
  });

  it('remembers every name of a cycle no longer than one generation, round after round', () => {
    const memo = new Memo<string>(1000);
    let missed = 0;
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 1000; i++) {
        const name = `n${i}.example`;
        if (memo.get(name) === undefined) {
          missed++;
          memo.set(name, name);
        }
      }
    }
    expect(missed).toBe(1000);               // the first round only
  });
});
