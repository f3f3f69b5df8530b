import { describe, expect, it } from 'vitest';
import { TokenBuckets } from '../../src/limit/buckets.js';

describe('TokenBuckets', () => {
  it('lets a new source use its burst at once, then its rate', () => {
    const b = new TokenBuckets(10);
    const taken = Array.from({ length: 5 }, () => b.take('10.0.0.1', 2, 3, 0));
    expect(taken).toEqual([true, true, true, false, false]);
    // 2 tokens a second: after 500 ms one more query may go.
    expect(b.take('10.0.0.1', 2, 3, 500)).toBe(true);
    expect(b.take('10.0.0.1', 2, 3, 500)).toBe(false);
    // Never more than the burst saved up, however long the source was quiet.
    expect(Array.from({ length: 4 }, () => b.take('10.0.0.1', 2, 3, 60_000))).toEqual([true, true, true, false]);
  });

  it('keeps one bucket per source', () => {
    const b = new TokenBuckets(10);
    expect(b.take('a', 1, 1, 0)).toBe(true);
    expect(b.take('a', 1, 1, 0)).toBe(false);
    expect(b.take('b', 1, 1, 0)).toBe(true);
  });

  it('applies the rate given with each call (a reload changes it without resetting the bucket)', () => {
    const b = new TokenBuckets(10);
    expect(b.take('a', 1, 1, 0)).toBe(true);
    expect(b.take('a', 1000, 1, 1)).toBe(true);
  });

  it('holds at most maxSources sources, forgetting the one seen least recently (it starts full again)', () => {
    const b = new TokenBuckets(2);
    b.take('a', 1, 1, 0);
    b.take('b', 1, 1, 0);
    b.take('a', 1, 1, 0);        // a was used after b
    b.take('c', 1, 1, 0);        // evicts b, the least recent
    expect(b.size).toBe(2);
    expect(b.take('a', 1, 1, 0)).toBe(false);   // still remembered: empty
    expect(b.take('b', 1, 1, 0)).toBe(true);    // forgotten: a full bucket
  });
});
