/**
 * Upstream health as an agent sees it through the proxy (issue 8, item 8):
 *  - a silent first upstream is skipped after it fails, instead of costing
 *    every cache miss a full timeout, and used first again once it answers;
 *  - a single upstream is never given up on;
 *  - `upstreams.strategy: fastest` asks the faster upstream first;
 *  - a question every upstream failed is answered from the failure cache for
 *    5 s (RFC 9520) without asking anyone, and asked again after that.
 * Upstream timeouts are short (250 ms) to keep the file fast.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Zone } from '../helpers/authority.js';
import { addresses, poll, startProxy, type Proxy } from '../helpers/proxy.js';
import { delay } from '../helpers/wait-for.js';

const TIMEOUT_MS = 250;
const NAMES = Array.from({ length: 40 }, (_, i) => `n${i}.test`);
const ZONE: Zone = {
  ...Object.fromEntries(NAMES.map((n, i) => [n, [{ type: 'A', data: `192.0.2.${i + 10}` }]])),
  'fail.test': [{ type: 'A', data: '192.0.2.200' }],
  'other.test': [{ type: 'A', data: '192.0.2.201' }],
};

function yaml(upstreams: string): string {
  return `
    version: 1
    upstreams: ${upstreams}
    clients: [{ name: agent, match: ["127.0.0.1/32"], role: coding }]
    roles: { coding: { allow: ["*.test"] } }
  `;
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await run();
  return { value, ms: performance.now() - started };
}

describe('upstream health', () => {
  let proxy: Proxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  it('skips a silent first upstream after one failure, probes it, and uses it first again once it answers', async () => {
    proxy = await startProxy({ zone: ZONE, authorities: 2, yaml: yaml(`{ servers: UPSTREAMS, timeout: ${TIMEOUT_MS}ms }`) });
    const [first, second] = proxy.authorities as [typeof proxy.authority, typeof proxy.authority];
    first.behave({ mode: 'drop' });

    // The first miss pays one timeout to learn that the first upstream is silent.
    const learn = await timed(() => proxy!.query('n0.test', 'A'));
    expect(learn.value.log?.upstream).toBe(second.hostPort.text);
    expect(learn.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 10);

    // Every later miss goes straight to the second one.
    const durations: number[] = [];
    for (const name of NAMES.slice(1, 21)) {
      const { value, ms } = await timed(() => proxy!.query(name, 'A'));
      durations.push(Math.round(ms));
      expect(value.packet.rcode).toBe('NOERROR');
      expect(value.log?.upstream).toBe(second.hostPort.text);
    }
    expect(Math.max(...durations), `20 misses took (ms): ${durations.join(', ')}`).toBeLessThan(TIMEOUT_MS / 2);
    // The first upstream saw none of those names: at most the background probes (one at a time, per back-off).
    const misses = new Set(NAMES.slice(1, 21));
    expect(first.queries.filter((q) => misses.has(q.name))).toEqual([]);
    expect(first.queries.length - 1).toBeLessThanOrEqual(3);

    const scrape = await proxy.server.metrics.registry.metrics();
    expect(scrape).toContain(`intentdns_upstream_up{upstream="${first.hostPort.text}"} 0`);
    expect(scrape).toContain(`intentdns_upstream_up{upstream="${second.hostPort.text}"} 1`);
    expect(scrape).toContain(`intentdns_upstream_skipped_total{upstream="${first.hostPort.text}"} 20`);
    await proxy.waitForLine((l) => l.level === 40 && l.upstream === first.hostPort.text && /skipping it/.test(String(l.msg)), 'a warning that the first upstream is skipped');

    // Back: a probe finds it within the back-off (1 s, doubling), and it is asked first again.
    first.behave({ mode: 'normal' });
    const backAt = performance.now();
    // Names it has no records for: an NXDOMAIN is an answer all the same.
    let next = 0;
    await poll(async () => {
      const r = await proxy!.query(`back-${next++}.test`, 'A');
      return r.log?.upstream === first.hostPort.text;
    }, { timeoutMs: 5000, intervalMs: 50, what: 'the first upstream to be used again' });
    expect(performance.now() - backAt).toBeLessThan(5000);
    const after = await proxy.query(`back-${next}.test`, 'A');
    expect(after.log?.upstream).toBe(first.hostPort.text);
    expect(await proxy.server.metrics.registry.metrics()).toContain(`intentdns_upstream_up{upstream="${first.hostPort.text}"} 1`);
  }, 15_000);

  it('keeps trying a single upstream while it is down, so it answers as soon as it is back', async () => {
    proxy = await startProxy({ zone: ZONE, yaml: yaml(`{ servers: UPSTREAMS, timeout: ${TIMEOUT_MS}ms }`) });
    proxy.authority.behave({ mode: 'drop' });
    expect((await proxy.query('n0.test', 'A')).packet.rcode).toBe('SERVFAIL');
    proxy.authority.behave({ mode: 'normal' });
    const r = await proxy.query('n1.test', 'A');
    expect(r.packet.rcode).toBe('NOERROR');
    expect(r.log?.upstream).toBe(proxy.authority.hostPort.text);
  });

  it('an upstream that answers SERVFAIL for one name is alive: the next name still goes to it first', async () => {
    proxy = await startProxy({ zone: ZONE, authorities: 2, yaml: yaml(`{ servers: UPSTREAMS, timeout: ${TIMEOUT_MS}ms }`) });
    const [first, second] = proxy.authorities as [typeof proxy.authority, typeof proxy.authority];
    first.behave({ mode: 'servfail' });
    expect((await proxy.query('n0.test', 'A')).log?.upstream).toBe(second.hostPort.text);
    first.behave({ mode: 'normal' });
    expect((await proxy.query('n1.test', 'A')).log?.upstream).toBe(first.hostPort.text);
    expect(await proxy.server.metrics.registry.metrics()).toContain(`intentdns_upstream_up{upstream="${first.hostPort.text}"} 1`);
  });

  it('remembers a silent upstream across a reload, and stops reporting one the config no longer lists', async () => {
    proxy = await startProxy({ zone: ZONE, authorities: 2, yaml: yaml(`{ servers: UPSTREAMS, timeout: ${TIMEOUT_MS}ms }`) });
    const [first, second] = proxy.authorities as [typeof proxy.authority, typeof proxy.authority];
    first.behave({ mode: 'drop' });
    await proxy.query('n0.test', 'A');
    await proxy.reload(yaml(`{ servers: UPSTREAMS, timeout: ${TIMEOUT_MS + 50}ms, strategy: ordered }`));
    const after = await timed(() => proxy!.query('n1.test', 'A'));
    expect(after.value.log?.upstream).toBe(second.hostPort.text);
    expect(after.ms).toBeLessThan(TIMEOUT_MS / 2);

    await proxy.reload(yaml(`{ servers: ["${second.hostPort.text}"], timeout: ${TIMEOUT_MS}ms }`));
    const scrape = await proxy.server.metrics.registry.metrics();
    expect(scrape).not.toContain(`intentdns_upstream_up{upstream="${first.hostPort.text}"}`);
    expect(scrape).toContain(`intentdns_upstream_up{upstream="${second.hostPort.text}"} 1`);
  });

  it('strategy fastest asks the faster upstream first; ordered keeps config order', async () => {
    const SLOW_MS = 120;
    for (const strategy of ['fastest', 'ordered'] as const) {
      proxy = await startProxy({ zone: ZONE, authorities: 2, yaml: yaml(`{ servers: UPSTREAMS, timeout: 1s, strategy: ${strategy} }`) });
      const [slow, fast] = proxy.authorities as [typeof proxy.authority, typeof proxy.authority];
      slow.behave({ mode: 'delay', delayMs: SLOW_MS });
      const used: string[] = [];
      for (const name of NAMES.slice(0, 8)) {
        const r = await proxy.query(name, 'A');
        expect(r.packet.rcode).toBe('NOERROR');
        used.push(r.log?.upstream === fast.hostPort.text ? 'fast' : 'slow');
      }
      if (strategy === 'ordered') {
        expect(used).toEqual(Array(8).fill('slow'));
      } else {
        // Each gets measured once (neither had a measurement); from then on the faster one is asked first.
        expect(used.slice(2)).toEqual(Array(6).fill('fast'));
        expect(slow.queries.filter((q) => NAMES.slice(2, 8).includes(q.name))).toEqual([]);
      }
      await proxy.close();
      proxy = undefined;
    }
  });

  it('answers a question every upstream failed from the failure cache for 5 s, then asks again', async () => {
    proxy = await startProxy({ zone: ZONE, authorities: 2, yaml: yaml(`{ servers: UPSTREAMS, timeout: ${TIMEOUT_MS}ms }`) });
    const authorities = proxy.authorities;
    const asked = (name: string): number => authorities.reduce((n, a) => n + a.queries.filter((q) => q.name === name).length, 0);
    for (const a of authorities) a.behave({ mode: 'drop' });

    const failed = await proxy.query('fail.test', 'A');
    const failedAt = performance.now();
    expect(failed.packet.rcode).toBe('SERVFAIL');
    expect(failed.log).toMatchObject({ reason: 'upstream_error', rcode: 'SERVFAIL' });
    expect(asked('fail.test')).toBe(2);

    // The upstreams are back, but the failure stands for this question: nobody is asked.
    for (const a of authorities) a.behave({ mode: 'normal' });
    const cached = await timed(() => proxy!.query('fail.test', 'A'));
    expect(cached.value.packet.rcode).toBe('SERVFAIL');
    expect(cached.value.log).toMatchObject({ action: 'forward', reason: 'upstream_error', rcode: 'SERVFAIL' });
    expect(cached.value.log?.error).toEqual(expect.stringContaining('failure cache'));
    expect(cached.value.log?.error).toEqual(expect.stringContaining('all upstreams failed'));
    expect(cached.ms).toBeLessThan(TIMEOUT_MS / 2);
    expect(asked('fail.test')).toBe(2);
    expect(await proxy.server.metrics.registry.metrics())
      .toContain('intentdns_queries_total{role="coding",action="forward",reason="upstream_error",qtype="A",mode="enforce"} 2');

    // Another question is not affected by it.
    const other = await proxy.query('other.test', 'A');
    expect(other.packet.rcode).toBe('NOERROR');

    // After 5 s the question is asked again.
    await delay(Math.max(0, failedAt + 5000 + 200 - performance.now()));
    const again = await proxy.query('fail.test', 'A');
    expect(again.packet.rcode).toBe('NOERROR');
    expect(addresses(again.packet)).toEqual(['192.0.2.200']);
    expect(asked('fail.test')).toBe(3);
  }, 15_000);
});
