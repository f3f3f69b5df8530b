import { describe, expect, it } from 'vitest';
import { LineSampler } from '../../src/limit/sampler.js';

describe('LineSampler', () => {
  it('writes the first line of a source at once, then one per 10 s carrying the count since the last', () => {
    const s = new LineSampler();
    expect(s.take('a', 0)).toBe(1);
    for (let t = 1; t < 10; t++) expect(s.take('a', t * 1000)).toBe(0);
    expect(s.due('a', 9_999)).toBe(false);
    expect(s.due('a', 10_000)).toBe(true);
    expect(s.take('a', 10_000)).toBe(10);    // nine held back and this one
    expect(s.take('a', 10_001)).toBe(0);
  });

  it('samples each source on its own', () => {
    const s = new LineSampler();
    expect(s.take('a', 0)).toBe(1);
    expect(s.take('b', 0)).toBe(1);
    expect(s.take('a', 1)).toBe(0);
  });

  it('writes at most maxLinesPerS lines a second over all sources; a held-back line comes with the next query', () => {
    const s = new LineSampler({ maxLinesPerS: 3 });
    const first = Array.from({ length: 10 }, (_, i) => s.take(`10.0.0.${i}`, 0));
    expect(first.filter((n) => n > 0)).toHaveLength(3);
    expect(s.due('10.0.0.9', 0)).toBe(false);
    // One second later the budget is back: source 9's next query writes its line, counting both.
    expect(s.take('10.0.0.9', 1000)).toBe(2);
  });

  it('remembers at most maxSources sources', () => {
    const s = new LineSampler({ maxSources: 2 });
    s.take('a', 0);
    s.take('b', 0);
    s.take('c', 0);          // forgets a
    expect(s.take('a', 1)).toBe(1);   // a new source again: a line at once
  });
});
