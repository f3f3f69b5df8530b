import { describe, expect, it } from 'vitest';
import { TokenBuckets } from '../../src/limit/buckets.js';
import { RateLimit } from '../../src/limit/rate-limit.js';

describe('RateLimit', () => {
  it('leaves known clients alone while client_qps is 0, and always limits strangers', () => {
    const r = new RateLimit({ clientQps: 0, clientBurst: 0, unknownQps: 1, unknownBurst: 2 }, new TokenBuckets(10));
    expect(Array.from({ length: 100 }, () => r.admit('10.0.0.1', true, 0)).every(Boolean)).toBe(true);
    expect([r.admit('10.9.9.9', false, 0), r.admit('10.9.9.9', false, 0), r.admit('10.9.9.9', false, 0)]).toEqual([true, true, false]);
  });

  it('limits known clients by client_qps and client_burst once set', () => {
    const r = new RateLimit({ clientQps: 1, clientBurst: 1, unknownQps: 20, unknownBurst: 40 }, new TokenBuckets(10));
    expect([r.admit('10.0.0.1', true, 0), r.admit('10.0.0.1', true, 0), r.admit('10.0.0.1', true, 1000)]).toEqual([true, false, true]);
  });
});
