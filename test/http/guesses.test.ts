import { describe, expect, it } from 'vitest';

import { TokenGuesses } from '../../src/http/guesses.js';

describe('TokenGuesses', () => {
  it('locks a source on its 10th wrong token within a minute, for a minute', () => {
    const g = new TokenGuesses();
    for (let i = 0; i < 9; i += 1) expect(g.wrong('10.0.0.1', 1_000 + i)).toBe(false);
    expect(g.lockedFor('10.0.0.1', 1_010)).toBe(0);
    expect(g.wrong('10.0.0.1', 1_010)).toBe(true);
    expect(g.lockedFor('10.0.0.1', 1_010)).toBe(60_000);
    expect(g.lockedFor('10.0.0.1', 61_009)).toBe(1);
    expect(g.lockedFor('10.0.0.1', 61_010)).toBe(0);
    expect(g.lockedFor('10.0.0.2', 1_010)).toBe(0);
  });

  it('a new window starts a minute after its first wrong token', () => {
    const g = new TokenGuesses();
    for (let i = 0; i < 9; i += 1) g.wrong('a', 0);
    for (let i = 0; i < 9; i += 1) expect(g.wrong('a', 60_000)).toBe(false);
    expect(g.wrong('a', 60_001)).toBe(true);
  });

  it('remembers at most maxSources addresses, forgetting the least recent', () => {
    const g = new TokenGuesses({ maxSources: 2, maxWrong: 2 });
    g.wrong('a', 0);
    g.wrong('b', 0);
    g.wrong('a', 1);            // locks a, and makes b the least recent
    g.wrong('c', 2);            // b is forgotten
    expect(g.lockedFor('a', 2)).toBeGreaterThan(0);
    expect(g.wrong('b', 3)).toBe(false); // a fresh count: its first wrong token was forgotten
    expect(g.lockedFor('a', 3)).toBe(0); // ...and a was pushed out by b and c: the map stays at two
  });
});
