/**
 * The soak's judge (bench/soak-judge.js) on synthetic series: what a bounded process looks like
 * (flat, a GC sawtooth, a one-time fill, noise) passes; what a leak looks like (steady growth,
 * under noise too, rising sawtooth troughs) fails; errors fail when their rate rises or a class
 * that must never appear shows up.
 */
import { describe, expect, it } from 'vitest';

import {
  judgeErrors, judgeFlowing, judgeGrowth, judgeNoFall, judgeSoak, judgeUnexpected, median, theilSen, TOLERANCES,
  type Point, type SoakSample,
} from '../../bench/soak-judge.js';
import { prng } from '../helpers/prng.js';

/** n samples, `every` seconds apart, starting at `every` (as the soak takes them), of f(t). */
const series = (f: (t: number, i: number) => number, n = 60, every = 10): Point[] =>
  Array.from({ length: n }, (_, i) => ({ t: (i + 1) * every, v: f((i + 1) * every, i) }));

/** Uniform noise in [-amp, amp], from a seeded PRNG. */
const noise = (seed: number, amp: number): (() => number) => {
  const r = prng(seed);
  return () => ((r.int(1_000_000) / 1_000_000) * 2 - 1) * amp;
};

const rss = TOLERANCES.rssMiB;
const heap = TOLERANCES.heapMiB;

describe('helpers', () => {
  it('median and the Theil–Sen slope', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
    expect(theilSen(series((t) => 5 + 0.5 * t))).toBeCloseTo(0.5, 10);
    // One wild sample does not move it (it would move a least-squares fit).
    const spike = series((t, i) => (i === 30 ? 1e6 : 5 + 0.5 * t));
    expect(theilSen(spike)).toBeCloseTo(0.5, 10);
  });
});

describe('judgeGrowth: bounded series pass', () => {
  it('flat', () => {
    const v = judgeGrowth(series(() => 100), rss);
    expect(v.verdict).toBe('pass');
    expect(v.growth).toBe(0);
  });

  it('a GC sawtooth (heap climbing 20 → 40 MiB and collected every 45 s), sampled every 10 s and every 1 s', () => {
    const saw = (t: number): number => 20 + 20 * ((t % 45) / 45);
    expect(judgeGrowth(series(saw), heap).verdict).toBe('pass');
    expect(judgeGrowth(series(saw, 600, 1), heap).verdict).toBe('pass');
  });

  it('a step then flat: a one-time fill after the warm-up, early or right in the middle of the judged window', () => {
    // Warm-up is the first 120 s of 600; the judged window 120–600 s, its middle at 360 s.
    for (const at of [150, 250, 360, 400]) {
      const v = judgeGrowth(series((t) => (t < at ? 100 : 130)), rss);
      expect(v.verdict, `step at ${at} s: ${v.reason}`).toBe('pass');
    }
  });

  it('a fill that levels off (exponential approach to a ceiling) within the first half', () => {
    const v = judgeGrowth(series((t) => 150 - 50 * Math.exp(-t / 60)), rss);
    expect(v.verdict, v.reason).toBe('pass');
  });

  it('a ramp that levels off in the first half of the judged window, though its trend is over the tolerance', () => {
    // +20 MiB from 120 s to 360 s, then flat: the trend over the window is over 8 MiB, the second half's is 0.
    const v = judgeGrowth(series((t) => 100 + (20 * Math.min(Math.max(t - 120, 0), 240)) / 240), rss);
    expect(v.verdict, v.reason).toBe('pass');
    expect(v.growth).toBeGreaterThan(v.tolerance!);
    expect(v.reason).toMatch(/levelled off/);
  });

  it('noisy flat: ±5 % uniform noise never fails, over 300 seeds, for 60 samples and for a 15-sample short run', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const n = noise(seed, 5);
      const long = judgeGrowth(series(() => 100 + n()), rss);
      expect(long.verdict, `seed ${seed}: ${long.reason}`).toBe('pass');
      const m = noise(seed + 1000, 5);
      const short = judgeGrowth(series(() => 100 + m(), 15, 3), rss);
      expect(short.verdict, `seed ${seed} short: ${short.reason}`).toBe('pass');
    }
  });

  it('growth smaller than the tolerance over the window passes (0.5 MiB/min: 4 MiB over 8 min, under 8 MiB)', () => {
    expect(judgeGrowth(series((t) => 100 + (0.5 * t) / 60), rss).verdict).toBe('pass');
  });
});

describe('judgeGrowth: unbounded series fail', () => {
  it('slow linear growth: RSS +1.5 MiB/min (12 MiB over the judged 8 minutes)', () => {
    const v = judgeGrowth(series((t) => 100 + (1.5 * t) / 60), rss);
    expect(v.verdict, v.reason).toBe('fail');
    expect(v.slopePerMin).toBeCloseTo(1.5, 5);
    expect(v.reason).toMatch(/^grows/);
  });

  it('linear growth under ±5 MiB noise fails for every seed (2 MiB/min)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const n = noise(seed, 5);
      const v = judgeGrowth(series((t) => 100 + (2 * t) / 60 + n()), rss);
      expect(v.verdict, `seed ${seed}: ${v.reason}`).toBe('fail');
    }
  });

  it('a sawtooth whose troughs rise (a leak under GC): heap minima +1 MiB/min', () => {
    const v = judgeGrowth(series((t) => 20 + t / 60 + 20 * ((t % 45) / 45), 600, 1), heap);
    expect(v.verdict, v.reason).toBe('fail');
  });

  it('steps that keep coming (a buffer doubling, a staircase)', () => {
    const v = judgeGrowth(series((t) => 100 + 6 * Math.floor(t / 60)), rss);
    expect(v.verdict, v.reason).toBe('fail');
  });

  it('growth that starts late and is steep: flat until 360 s, then +4 MiB/min', () => {
    const v = judgeGrowth(series((t) => 100 + (t > 360 ? (4 * (t - 360)) / 60 : 0)), rss);
    expect(v.verdict, v.reason).toBe('fail');
  });

  it('too few samples after the warm-up cannot be judged: fail', () => {
    const v = judgeGrowth(series(() => 100, 5), rss);
    expect(v.verdict).toBe('fail');
    expect(v.reason).toMatch(/fewer than/);
  });
});

describe('judgeErrors', () => {
  const rows = (rate: (t: number) => number, n = 60) =>
    series(() => 0, n).map(({ t }) => ({ t, queries: 15_000, errors: Math.round(15_000 * rate(t)) }));

  it('passes no errors and a low steady rate', () => {
    expect(judgeErrors(rows(() => 0)).verdict).toBe('pass');
    expect(judgeErrors(rows(() => 0.0005)).verdict).toBe('pass');
  });

  it('fails a rate that keeps rising (0.05 % to 0.5 %)', () => {
    const v = judgeErrors(rows((t) => 0.0005 + (0.0045 * t) / 600));
    expect(v.verdict, v.reason).toBe('fail');
    expect(v.reason).toMatch(/rose/);
  });

  it('leaves out rows marked excluded, and cannot judge a run with most of them left out', () => {
    const marked = rows(() => 0).map((r, i) => ({ ...r, errors: i % 7 === 3 ? 3000 : 0, excluded: i % 7 === 3 ? 'soak stalled' : null }));
    const v = judgeErrors(marked);
    expect(v.verdict, v.reason).toBe('pass');
    expect(v.excluded).toBeGreaterThan(0);
    const most = rows(() => 0).map((r, i) => ({ ...r, excluded: i % 3 ? 'upstream stalled' : null }));
    expect(judgeErrors(most).verdict).toBe('fail');
  });

  it('passes one burst in the last third (a starved upstream for a second): the medians do not move', () => {
    const v = judgeErrors(series(() => 0).map(({ t }) => ({ t, queries: 15_000, errors: t === 550 ? 750 : 0 })));
    expect(v.verdict, v.reason).toBe('pass');
  });

  it('fails a steady rate over 2 %', () => {
    const v = judgeErrors(rows(() => 0.03));
    expect(v.verdict).toBe('fail');
    expect(v.reason).toMatch(/more than/);
  });

  it('fails when no query ended', () => {
    expect(judgeErrors(series(() => 0).map(({ t }) => ({ t, queries: 0, errors: 0 }))).verdict).toBe('fail');
  });
});

describe('answers, log lines, unexpected classes', () => {
  it('answers/s: steady passes, a fall of more than 25 % fails', () => {
    expect(judgeNoFall(series(() => 1500)).verdict).toBe('pass');
    expect(judgeNoFall(series((t) => (t > 420 ? 900 : 1500))).verdict).toBe('fail');
  });

  it('log lines: must still flow in the last third', () => {
    expect(judgeFlowing(series((_, i) => (i % 2 ? 0 : 8000))).verdict).toBe('pass');
    expect(judgeFlowing(series((t) => (t > 400 ? 0 : 8000))).verdict).toBe('fail');
  });

  it('unexpected classes: any count fails, naming them', () => {
    expect(judgeUnexpected({ wrong_answer: 0, hold_error: 0 }).verdict).toBe('pass');
    const v = judgeUnexpected({ wrong_answer: 3, hold_error: 0, reload_not_applied: 1 });
    expect(v.verdict).toBe('fail');
    expect(v.reason).toBe('wrong_answer 3, reload_not_applied 1');
  });
});

describe('judgeSoak', () => {
  const samples = (leak: number): SoakSample[] => {
    const n = noise(7, 2);
    return series(() => 0).map(({ t }, i) => ({
      t, rssMiB: 110 + n() + (leak * t) / 60, heapMiB: 30 + (i % 4), handles: 20 + (i % 3), fds: 40 + (i % 2),
      holdsPending: i % 5, answersPerS: 1500 + n(), queries: 15_000, errors: i % 10 === 0 ? 1 : 0, logLines: 9000,
    }));
  };

  it('passes a bounded run and names every verdict', () => {
    const r = judgeSoak({ samples: samples(0), unexpected: { wrong_answer: 0 } });
    expect(r.pass).toBe(true);
    expect(Object.keys(r.verdicts).sort()).toEqual(['answersPerS', 'errors', 'fds', 'handles', 'heapMiB', 'holdsPending', 'logLines', 'rssMiB', 'unexpected']);
  });

  it('fails a run whose RSS grows, and only that verdict', () => {
    const r = judgeSoak({ samples: samples(3), unexpected: {} });
    expect(r.pass).toBe(false);
    expect(Object.entries(r.verdicts).filter(([, v]) => v.verdict === 'fail').map(([k]) => k)).toEqual(['rssMiB']);
  });
});
