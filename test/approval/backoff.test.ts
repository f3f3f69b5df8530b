import { describe, expect, it } from 'vitest';

import { backoffDelay, backoffStep, DEFAULT_BACKOFF } from '../../src/approval/backoff.js';

describe('backoffStep', () => {
  it('starts at initialMs and doubles each attempt', () => {
    expect([0, 1, 2, 3, 4].map((a) => backoffStep(a))).toEqual([250, 500, 1000, 2000, 4000]);
  });

  it('is capped at maxMs', () => {
    expect(backoffStep(7)).toBe(30_000); // 250 · 128 = 32 000 → cap
    expect(backoffStep(1000)).toBe(30_000); // 2 ** 1000 is Infinity; still the cap
  });

  it('treats negative and fractional attempts sanely', () => {
    expect(backoffStep(-3)).toBe(250);
    expect(backoffStep(1.7)).toBe(500);
    expect(backoffStep(Number.NaN)).toBe(250); // nonsense attempts count as the first
  });

  it('honours custom options', () => {
    expect([0, 1, 2, 3].map((a) => backoffStep(a, { initialMs: 10, maxMs: 50 }))).toEqual([10, 20, 40, 50]);
  });
});

describe('backoffDelay (equal jitter)', () => {
  it('stays within [step/2, step]', () => {
    for (let a = 0; a < 12; a++) {
      const step = backoffStep(a);
      expect(backoffDelay(a, DEFAULT_BACKOFF, () => 0)).toBe(step / 2);
      expect(backoffDelay(a, DEFAULT_BACKOFF, () => 0.999999)).toBeLessThanOrEqual(step);
      expect(backoffDelay(a, DEFAULT_BACKOFF, () => 0.999999)).toBeGreaterThan(step * 0.99);
    }
  });

  it('grows with every attempt even at the worst draws, until the cap', () => {
    // the floor of attempt n+1 equals the ceiling of attempt n: growth is guaranteed
    for (let a = 0; a < 6; a++) {
      expect(backoffDelay(a + 1, DEFAULT_BACKOFF, () => 0)).toBeGreaterThanOrEqual(
        backoffDelay(a, DEFAULT_BACKOFF, () => 0.999999),
      );
    }
  });

  it('never exceeds the cap nor falls below half of it once capped', () => {
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(20 + i);
      expect(d).toBeGreaterThanOrEqual(15_000);
      expect(d).toBeLessThanOrEqual(30_000);
    }
  });
});
