/**
 * The cache is bounded in bytes, not only in entries: an agent that asks for
 * many distinct names with large answers (TXT records of ~61 KB over TCP, the
 * attack that took RSS past the shipped 512Mi limit) fills it only up to
 * `cache.max_bytes`. The bound is read the way an operator reads it, from
 * the `intentdns_cache_bytes` gauge on /metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy, type Proxy } from '../helpers/proxy.js';
import { txtOfSize } from '../helpers/txt.js';

const MIB = 1024 * 1024;
const ANSWER_BYTES = 61_000;
const NAMES = 40;                     // 40 × 61 KB ≈ 2.3 MiB asked for, against a 1 MiB cache
const name = (i: number): string => `blob${i}.big.test`;

async function gauges(proxy: Proxy): Promise<{ bytes: number; entries: number }> {
  const res = await fetch(`http://127.0.0.1:${proxy.server.httpAddress()!.port}/metrics`);
  const text = await res.text();
  const read = (metric: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${metric} `));
    if (line === undefined) throw new Error(`${metric} is not on /metrics`);
    return Number(line.slice(metric.length + 1));
  };
  return { bytes: read('intentdns_cache_bytes'), entries: read('intentdns_cache_entries') };
}

describe('cache.max_bytes', () => {
  let proxy: Proxy;

  beforeAll(async () => {
    const zone = Object.fromEntries(Array.from({ length: NAMES }, (_, i) => [name(i), [txtOfSize(name(i), ANSWER_BYTES, 3600)]]));
    proxy = await startProxy({
      zone,
      http: true,
      yaml: `
        version: 1
        upstreams: { servers: UPSTREAMS, timeout: 1000ms }
        cache: { max_entries: 50000, max_bytes: 1MiB }
        clients: [{ name: agent, match: ["127.0.0.1/32"], role: coding }]
        roles: { coding: { allow: ["*.test"], qtypes: [A, TXT] } }
      `,
    });
  });
  afterAll(() => proxy.close());

  it('holds large answers only up to max_bytes, newest kept, oldest pushed out', async () => {
    expect(await gauges(proxy)).toEqual({ bytes: 0, entries: 0 });
    for (let i = 0; i < NAMES; i++) {
      const r = await proxy.query(name(i), 'TXT', { transport: 'tcp', timeoutMs: 3000 });
      expect(r.packet.rcode, name(i)).toBe('NOERROR');
      expect(r.bytes.length, name(i)).toBeGreaterThan(ANSWER_BYTES - 100);
    }
    const full = await gauges(proxy);
    expect(full.bytes).toBeLessThanOrEqual(MIB);
    expect(full.bytes).toBeGreaterThan(MIB - 2 * ANSWER_BYTES);     // filled, not emptied
    expect(full.entries).toBeLessThan(NAMES);
    expect(full.entries).toBeGreaterThanOrEqual(Math.floor((MIB - 2 * ANSWER_BYTES) / ANSWER_BYTES));

    // What was asked last is served from the cache; what was asked first had to go.
    const last = await proxy.query(name(NAMES - 1), 'TXT', { transport: 'tcp' });
    expect(last.log?.upstream).toBe('cache');
    const first = await proxy.query(name(0), 'TXT', { transport: 'tcp' });
    expect(first.log?.upstream).toBe(proxy.authority.hostPort.text);
    expect((await gauges(proxy)).bytes).toBeLessThanOrEqual(MIB);
  });

});

describe('cache.max_bytes by default', () => {
  it('counts small answers too, with what each entry costs beside its bytes', async () => {
    const proxy = await startProxy({
      zone: { 'small.test': [{ type: 'A', data: '192.0.2.1', ttl: 3600 }] },
      http: true,
      yaml: `
        version: 1
        clients: [{ name: agent, match: ["127.0.0.1/32"], role: coding }]
        roles: { coding: { allow: ["*.test"] } }
      `,
    });
    try {
      expect(proxy.config.cache).toEqual({ maxEntries: 50_000, maxBytes: 64 * MIB });
      const r = await proxy.query('small.test', 'A');
      expect(r.packet.rcode).toBe('NOERROR');
      const { bytes, entries } = await gauges(proxy);
      expect(entries).toBe(1);
      // The message is a small part of what one entry holds in memory.
      expect(bytes).toBeGreaterThan(r.bytes.length + 100);
      expect(bytes).toBeLessThan(2048);
    } finally {
      await proxy.close();
    }
  });
});
