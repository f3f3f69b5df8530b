/**
 * The bookkeeping behind skipping a silent upstream, ranking by latency and
 * caching failures, with the clock passed in (so nothing here waits):
 * exchange.test.ts and e2e/upstream-health.test.ts show the same over sockets.
 */
import { describe, expect, it } from 'vitest';
import type { HostPort } from '../../src/config/types.js';
import { FailureCache } from '../../src/upstream/failure-cache.js';
import { DEFAULT_BACKOFF, ServerHealth, UpstreamHealth } from '../../src/upstream/health.js';
import { REMEASURE_AFTER_MS, rank } from '../../src/upstream/strategy.js';

const server = (port: number): HostPort => ({ host: '127.0.0.1', port, family: 4, text: `127.0.0.1:${port}` });

describe('ServerHealth', () => {
  const fresh = (): ServerHealth => new ServerHealth('127.0.0.1:53', DEFAULT_BACKOFF);

  it('is up until an attempt gets no answer, then down for 1 s before the first probe', () => {
    const h = fresh();
    expect(h.up).toBe(true);
    expect(h.failed(0, 100)).toBe(true);
    expect(h.up).toBe(false);
    expect(h.backoffMs).toBe(1_000);
    expect(h.claimProbe(1_099)).toBe(false);
    expect(h.claimProbe(1_100)).toBe(true);
  });

  it('has one probe out at most, and doubles the back-off after each unanswered probe, up to 30 s', () => {
    const h = fresh();
    h.failed(0, 0);
    let now = 1_000;
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      expect(h.claimProbe(now)).toBe(true);
      expect(h.claimProbe(now)).toBe(false);   // one in flight
      now += 1_500;                            // the probe's timeout
      h.probeEnded(false, now);
      waits.push(h.backoffMs);
      expect(h.claimProbe(now + h.backoffMs - 1)).toBe(false);
      now += h.backoffMs;
    }
    expect(waits).toEqual([2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000, 30_000]);
  });

  it('comes back with any answer, SERVFAIL included, and starts the back-off over next time', () => {
    const h = fresh();
    h.failed(0, 0);
    h.claimProbe(1_000);
    h.probeEnded(false, 2_000);
    expect(h.answered(5_000, 5_010)).toBe(true);   // an answer without a usable latency (SERVFAIL, REFUSED, garbage)
    expect(h.up).toBe(true);
    expect(h.failed(6_000, 6_100)).toBe(true);
    expect(h.backoffMs).toBe(1_000);
  });

  it('takes no notice of attempts sent before its last change', () => {
    const h = fresh();
    h.failed(100, 500);                              // down at 500
    expect(h.answered(200, 600, 400)).toBe(false);   // a late answer to a query sent at 200
    expect(h.up).toBe(false);
    expect(h.answered(550, 700)).toBe(true);          // up at 700
    expect(h.failed(650, 800)).toBe(false);          // a last-resort attempt sent while it was down
    expect(h.up).toBe(true);
  });

  it('averages the latency of usable answers, weighting the newest by 0.3', () => {
    const h = fresh();
    expect(h.latencyMs).toBeUndefined();
    h.answered(0, 100, 100);
    h.answered(0, 200, 200);
    expect(h.latencyMs).toBeCloseTo(130);
    h.answered(0, 300);   // SERVFAIL: alive, but not a measurement
    expect(h.latencyMs).toBeCloseTo(130);
  });
});

describe('UpstreamHealth', () => {
  it('keeps one entry per upstream, reports the configured ones, and forgets the ones a reload removed', () => {
    const health = new UpstreamHealth();
    const [a, b] = [server(5301), server(5302)];
    health.of(a).failed(0, 0);
    expect(health.of(a)).toBe(health.of(a));
    expect(health.upStates([a, b])).toEqual({ [a.text]: false, [b.text]: true });
    health.retain([b]);
    expect(health.of(a).up).toBe(true);   // a new entry: nothing was kept
  });
});

describe('rank', () => {
  const entries = (latencies: ReadonlyArray<number | undefined>) => {
    const health = new UpstreamHealth();
    return latencies.map((ms, i) => {
      const s = server(5301 + i);
      if (ms !== undefined) health.of(s).answered(0, 1_000, ms);
      return { server: s, health: health.of(s) };
    });
  };
  const ports = (ranked: ReadonlyArray<{ server: HostPort }>): number[] => ranked.map((r) => r.server.port);

  it('ordered keeps config order', () => {
    expect(ports(rank(entries([50, 10, 30]), 'ordered', 2_000))).toEqual([5301, 5302, 5303]);
  });

  it('fastest puts the lowest latency first, an unmeasured one before all, config order on ties', () => {
    expect(ports(rank(entries([50, 10, 30]), 'fastest', 2_000))).toEqual([5302, 5303, 5301]);
    expect(ports(rank(entries([50, undefined, 10, 10]), 'fastest', 2_000))).toEqual([5302, 5303, 5304, 5301]);
  });

  it('fastest asks a stale upstream first once a minute, not on every query', () => {
    const ranked = entries([50, 10]);
    const later = 1_000 + REMEASURE_AFTER_MS;
    ranked[1]!.health.answered(0, later, 10);   // the fast one is measured all the time
    expect(ports(rank(ranked, 'fastest', later))).toEqual([5301, 5302]);
    expect(ports(rank(ranked, 'fastest', later + 1))).toEqual([5302, 5301]);
  });
});

describe('FailureCache', () => {
  it('holds a failure for its TTL, then forgets it', () => {
    const cache = new FailureCache(5_000, 10);
    cache.set('q', 'all upstreams failed: x', 1_000);
    expect(cache.get('q', 5_999)).toEqual({ error: 'all upstreams failed: x', ageMs: 4_999 });
    expect(cache.get('q', 6_000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('is bounded in entries, dropping the oldest', () => {
    const cache = new FailureCache(5_000, 3);
    for (let i = 0; i < 10; i++) cache.set(`q${i}`, 'e', i);
    expect(cache.size).toBe(3);
    expect(['q6', 'q7', 'q8', 'q9'].map((k) => cache.get(k, 10) !== undefined)).toEqual([false, true, true, true]);
  });

  it('a question that fails again starts its TTL over', () => {
    const cache = new FailureCache(5_000, 10);
    cache.set('q', 'first', 0);
    cache.set('p', 'other', 1_000);
    cache.set('q', 'second', 4_000);
    expect(cache.get('p', 6_500)).toBeUndefined();
    expect(cache.get('q', 6_500)).toEqual({ error: 'second', ageMs: 2_500 });
  });
});
