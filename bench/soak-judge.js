// The verdicts of `npm run soak` (bench/soak.js): does any series grow without bound, did the
// error rate rise, did an error appear that should never appear. Pure functions over the
// samples, unit-tested with synthetic series in test/bench/soak-judge.test.ts.
//
// A series is judged on its samples after the warm-up (the first 20 % of the run: start-up, JIT,
// V8 settling on its heap size, the log buffer reaching its bound). Its trend is the Theil–Sen slope (the
// median of the slopes between every pair of samples), which one spike, a GC sawtooth or a single
// step barely moves. The series *grows without bound* when both hold:
//   1. the trend over the judged window, projected over that window, is more than the tolerance;
//   2. the trend over the second half of the window, projected over that half, is more than a
//      quarter of the tolerance: it is still growing at the end.
// The tolerance is max(abs, rel × the series' median). A sawtooth or noise around a level has a
// trend near 0 (1); a fill that levels off — the cache reaching max_entries, V8 settling on a
// heap size — has no trend left in the second half (2); steady growth, a staircase, or growth that
// starts late and is steep meet both. What passes: growth smaller than the tolerance over the
// window, and a single step (one step is not a trend; a longer run tells). The verdict also
// carries the middle and last thirds' median and maximum, for the report.

/** Fraction of the run (by time) left out before judging. */
export const WARMUP = 0.2;
/** Fewer judged samples than this cannot tell a trend from noise: the series fails. */
export const MIN_POINTS = 6;

/**
 * Per series: `abs` in the series' unit, `rel` of its median. The memory ones are what a leak
 * of a few bytes per query would cross in a 10-minute run at the soak's rates (docs/performance.md, "Soak").
 */
export const TOLERANCES = {
  rssMiB: { rel: 0.05, abs: 8 },
  heapMiB: { rel: 0.10, abs: 4 },
  handles: { rel: 0.20, abs: 8 },
  fds: { rel: 0.20, abs: 8 },
  holdsPending: { rel: 0.50, abs: 20 },
};

/** Errors: the rate's trend over the window may be at most this (a share of queries). */
export const ERROR_RATE_SLACK = 0.001;
/** Errors: over the judged window, at most this share of queries (timeouts and SERVFAIL: a broken proxy, not a hiccup). */
export const MAX_ERROR_RATE = 0.02;
/** Answers per second: the last third's median may be at most this fraction below the middle third's. */
export const ANSWERS_MAY_FALL = 0.25;

export function median(xs) {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

const max = (xs) => xs.reduce((a, b) => (b > a ? b : a), -Infinity);
const sum = (xs) => xs.reduce((a, b) => a + b, 0);

/** The Theil–Sen slope of points [{ t, v }]: the median of (vj − vi) / (tj − ti) over all pairs i < j with tj > ti. */
export function theilSen(points) {
  const slopes = [];
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) {
      const dt = points[j].t - points[i].t;
      if (dt > 0) slopes.push((points[j].v - points[i].v) / dt);
    }
  }
  return median(slopes);
}

/** The points at or after the warm-up: t ≥ first t + warmup × (last t − first t). */
export function afterWarmup(points, warmup = WARMUP) {
  if (points.length === 0) return [];
  const t0 = points[0].t;
  const cut = t0 + warmup * (points[points.length - 1].t - t0);
  return points.filter((p) => p.t >= cut);
}

/** Three consecutive parts of equal count (the last ones get the remainder). */
export function thirds(points) {
  const n = Math.floor(points.length / 3);
  return [points.slice(0, n), points.slice(n, points.length - n), points.slice(points.length - n)];
}

/**
 * Judges one series of points [{ t (s), v }] against `tolerance` ({ rel, abs }). Returns
 * { verdict: 'pass' | 'fail', reason, points, median, tolerance, growth (the trend projected
 * over the judged window), secondHalf (the same over its second half), slopePerMin,
 * middle: { median, max }, last: { median, max } (of the middle and last thirds) }.
 */
export function judgeGrowth(points, tolerance, opts = {}) {
  const w = afterWarmup(points.filter((p) => Number.isFinite(p.v) && Number.isFinite(p.t)), opts.warmup ?? WARMUP);
  const minPoints = opts.minPoints ?? MIN_POINTS;
  if (w.length < minPoints) {
    return { verdict: 'fail', reason: `${w.length} samples after the warm-up, fewer than ${minPoints}: cannot tell`, points: w.length };
  }
  const level = median(w.map((p) => p.v));
  const tol = Math.max(tolerance.abs, tolerance.rel * Math.abs(level));
  const projected = (ps) => theilSen(ps) * (ps[ps.length - 1].t - ps[0].t);
  const span = w[w.length - 1].t - w[0].t;
  const slope = theilSen(w);
  const growth = slope * span;
  const secondHalf = projected(w.slice(Math.floor(w.length / 2)));
  const [, b, c] = thirds(w);
  const middle = { median: median(b.map((p) => p.v)), max: max(b.map((p) => p.v)) };
  const last = { median: median(c.map((p) => p.v)), max: max(c.map((p) => p.v)) };
  const trend = growth > tol;
  const stillGrowing = secondHalf > tol / 4;
  const fail = trend && stillGrowing;
  const r = (x) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(1) : x.toFixed(2));
  const sign = (x) => `${x >= 0 ? '+' : ''}${r(x)}`;
  const reason = fail
    ? `grows: trend ${sign(growth)} over the judged ${Math.round(span)} s (tolerance ${r(tol)}), ${sign(secondHalf)} in its second half`
    : trend
      ? `bounded: trend ${sign(growth)} over ${Math.round(span)} s is over the tolerance ${r(tol)}, but ${sign(secondHalf)} in the second half (at most ${r(tol / 4)}): it levelled off`
      : `bounded: trend ${sign(growth)} over ${Math.round(span)} s, within the tolerance ${r(tol)}`;
  return { verdict: fail ? 'fail' : 'pass', reason, points: w.length, median: level, tolerance: tol, growth, secondHalf, slopePerMin: slope * 60, middle, last };
}

/**
 * Errors over rows [{ t, queries, errors, excluded? }] (per interval: queries that ended — answered
 * or timed out — and the errors among them). A row with `excluded` set (the load generator itself
 * was not run, or the upstream did not answer a direct probe: the measurement, not intentdns) is
 * left out and counted; with more than half left out the run cannot be judged and fails. Fails
 * when the error rate rose — the Theil–Sen trend of the per-row rates, projected over the window,
 * is above ERROR_RATE_SLACK and still above a quarter of it over the second half (so one burst
 * does not decide it, a rate that keeps rising does) — or when the window's rate is over MAX_ERROR_RATE.
 */
export function judgeErrors(rows, opts = {}) {
  const judged = afterWarmup(rows, opts.warmup ?? WARMUP);
  const w = judged.filter((x) => !x.excluded);
  const left = judged.length - w.length;
  const minPoints = opts.minPoints ?? MIN_POINTS;
  if (left > judged.length / 2) return { verdict: 'fail', reason: `${left} of ${judged.length} rows left out (${[...new Set(judged.map((x) => x.excluded).filter(Boolean))].join(', ')}): cannot tell`, points: w.length, excluded: left };
  if (w.length < minPoints) return { verdict: 'fail', reason: `${w.length} samples after the warm-up, fewer than ${minPoints}: cannot tell`, points: w.length, excluded: left };
  const rates = w.map((x) => ({ t: x.t, v: x.queries > 0 ? x.errors / x.queries : 0 }));
  const projected = (ps) => (ps.length < 2 ? 0 : theilSen(ps) * (ps[ps.length - 1].t - ps[0].t));
  const slack = opts.slack ?? ERROR_RATE_SLACK;
  const maxRate = opts.maxRate ?? MAX_ERROR_RATE;
  const queries = sum(w.map((x) => x.queries));
  const errors = sum(w.map((x) => x.errors));
  const all = queries > 0 ? errors / queries : 0;
  const trend = projected(rates);
  const secondHalf = projected(rates.slice(Math.floor(rates.length / 2)));
  const pct = (x) => `${(100 * x).toFixed(3)} %`;
  const out = left > 0 ? `; ${left} rows left out (${[...new Set(judged.map((x) => x.excluded).filter(Boolean))].join(', ')})` : '';
  let reason;
  let fail = true;
  if (queries === 0) reason = 'no queries ended after the warm-up';
  else if (trend > slack && secondHalf > slack / 4) reason = `error rate rose: trend +${pct(trend)} of queries over the window, +${pct(secondHalf)} over its second half${out}`;
  else if (all > maxRate) reason = `error rate ${pct(all)} over the judged window, more than ${pct(maxRate)}${out}`;
  else { fail = false; reason = `${errors} of ${queries} queries, ${pct(all)} (trend ${trend >= 0 ? '+' : ''}${pct(trend)})${out}`; }
  return { verdict: fail ? 'fail' : 'pass', reason, points: w.length, excluded: left, rate: all, trend, secondHalf, queries, errors };
}

/** Answers per second must not fall: the last third's median at least (1 − ANSWERS_MAY_FALL) × the middle third's. */
export function judgeNoFall(points, opts = {}) {
  const w = afterWarmup(points, opts.warmup ?? WARMUP);
  const minPoints = opts.minPoints ?? MIN_POINTS;
  if (w.length < minPoints) return { verdict: 'fail', reason: `${w.length} samples after the warm-up, fewer than ${minPoints}: cannot tell`, points: w.length };
  const [, b, c] = thirds(w);
  const middle = median(b.map((p) => p.v));
  const last = median(c.map((p) => p.v));
  const fall = opts.mayFall ?? ANSWERS_MAY_FALL;
  const fail = !(last >= (1 - fall) * middle) || !(middle > 0);
  return {
    verdict: fail ? 'fail' : 'pass', points: w.length, middle, last,
    reason: fail ? `fell: median ${last.toFixed(0)}/s in the last third against ${middle.toFixed(0)}/s in the middle third`
      : `steady: median ${middle.toFixed(0)}/s in the middle third, ${last.toFixed(0)}/s in the last`,
  };
}

/** Some of the series must have moved in the last third (e.g. log lines read: the reader still gets lines). */
export function judgeFlowing(points, opts = {}) {
  const w = afterWarmup(points, opts.warmup ?? WARMUP);
  const [, , c] = thirds(w);
  const total = sum(c.map((p) => p.v));
  return { verdict: total > 0 ? 'pass' : 'fail', points: w.length, lastThird: total, reason: total > 0 ? `${total} in the last third` : 'nothing in the last third' };
}

/** Error classes that must never appear: fails naming every class with a count above 0. */
export function judgeUnexpected(counts) {
  const seen = Object.entries(counts).filter(([, n]) => n > 0);
  return {
    verdict: seen.length === 0 ? 'pass' : 'fail',
    reason: seen.length === 0 ? 'none' : seen.map(([k, n]) => `${k} ${n}`).join(', '),
    counts,
  };
}

/**
 * The whole soak. `samples`: rows [{ t, rssMiB, heapMiB, handles, fds, holdsPending, answersPerS,
 * queries, errors, logLines }]; `unexpected`: { class: count }. Returns { pass, verdicts: { name → verdict } }.
 */
export function judgeSoak({ samples, unexpected }, opts = {}) {
  const series = (key) => samples.map((s) => ({ t: s.t, v: s[key] }));
  const verdicts = {};
  for (const [key, tol] of Object.entries(opts.tolerances ?? TOLERANCES)) verdicts[key] = judgeGrowth(series(key), tol, opts);
  verdicts.answersPerS = judgeNoFall(series('answersPerS'), opts);
  verdicts.errors = judgeErrors(samples.map((s) => ({ t: s.t, queries: s.queries, errors: s.errors, excluded: s.excluded })), opts);
  verdicts.logLines = judgeFlowing(series('logLines'), opts);
  verdicts.unexpected = judgeUnexpected(unexpected ?? {});
  return { pass: Object.values(verdicts).every((v) => v.verdict === 'pass'), verdicts };
}
