/**
 * Upstream faults as an agent sees them through the proxy: failover on
 * silence and on SERVFAIL, SERVFAIL within timeout × upstreams when all are
 * down, the cache carrying on while the upstream is away, and spoofed answers
 * ignored. Upstream timeouts are short (250 ms) to keep the file fast.
 * Each test gets a fresh proxy: a failure in one would otherwise leave that
 * upstream skipped (down) for the next (upstream-health.test.ts tests that).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Zone } from '../helpers/authority.js';
import { addresses, startProxy, type Proxy } from '../helpers/proxy.js';

const TIMEOUT_MS = 250;
/** Scheduling and loopback round trips on a busy test machine. */
const SLACK_MS = 400;

const NAMES = ['failover', 'servfail', 'malformed', 'alldown', 'refused-all', 'cached', 'spoofed', 'burst', 'other'] as const;
const ZONE: Zone = Object.fromEntries(NAMES.map((n, i) => [`${n}.test`, [{ type: 'A', data: `192.0.2.${i + 10}` }]]));
const addressOf = (name: (typeof NAMES)[number]): string => `192.0.2.${NAMES.indexOf(name) + 10}`;

describe('upstream faults', () => {
  let proxy: Proxy;

  beforeEach(async () => {
    proxy = await startProxy({
      zone: ZONE,
      authorities: 2,
      yaml: `
        version: 1
        upstreams: { servers: UPSTREAMS, timeout: ${TIMEOUT_MS}ms }
        clients: [{ name: agent, match: ["127.0.0.1/32"], role: coding }]
        roles: { coding: { allow: ["*.test"] } }
      `,
    });
  });
  afterEach(() => proxy.close());

  const [first, second] = [() => proxy.authorities[0]!, () => proxy.authorities[1]!];
  const asked = (i: 0 | 1, name: string): number => proxy.authorities[i]!.queries.filter((q) => q.name === name).length;

  it('fails over to the second upstream when the first is silent, after about one timeout', async () => {
    first().behave({ mode: 'drop' });
    const started = performance.now();
    const r = await proxy.query('failover.test', 'A');
    const elapsed = performance.now() - started;
    expect(r.packet.rcode).toBe('NOERROR');
    expect(addresses(r.packet)).toEqual([addressOf('failover')]);
    expect(r.log?.upstream).toBe(second().hostPort.text);
    expect(asked(0, 'failover.test')).toBe(1);
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 10);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });

  it('fails over at once when the first upstream answers SERVFAIL', async () => {
    first().behave({ mode: 'servfail' });
    const started = performance.now();
    const r = await proxy.query('servfail.test', 'A');
    const elapsed = performance.now() - started;
    expect(r.packet.rcode).toBe('NOERROR');
    expect(addresses(r.packet)).toEqual([addressOf('servfail')]);
    expect(r.log?.upstream).toBe(second().hostPort.text);
    expect(asked(0, 'servfail.test')).toBe(1);
    expect(elapsed).toBeLessThan(TIMEOUT_MS);
  });

  it('fails over when the first upstream sends an answer it cannot read', async () => {
    first().behave({ mode: 'malformed' });
    const r = await proxy.query('malformed.test', 'A');
    expect(r.packet.rcode).toBe('NOERROR');
    expect(addresses(r.packet)).toEqual([addressOf('malformed')]);
    expect(r.log?.upstream).toBe(second().hostPort.text);
  });

  it('answers SERVFAIL within timeout × upstreams when every upstream is silent, and logs the error', async () => {
    first().behave({ mode: 'drop' });
    second().behave({ mode: 'drop' });
    const started = performance.now();
    const r = await proxy.query('alldown.test', 'A', { timeoutMs: 2 * TIMEOUT_MS + 2000 });
    const elapsed = performance.now() - started;
    expect(r.packet.rcode).toBe('SERVFAIL');
    expect(r.packet.answers).toEqual([]);
    expect(elapsed).toBeGreaterThanOrEqual(2 * TIMEOUT_MS - 10);
    expect(elapsed).toBeLessThan(2 * TIMEOUT_MS + SLACK_MS);
    // Its own reason, in the log and in the metrics, not the reason that forwarded it; the rule stays in the log.
    expect(r.log).toMatchObject({ action: 'forward', reason: 'upstream_error', rule: '*.test', rcode: 'SERVFAIL' });
    expect(await proxy.server.metrics.registry.metrics())
      .toContain('intentdns_queries_total{role="coding",action="forward",reason="upstream_error",qtype="A",mode="enforce"} 1');
    expect(r.log?.error).toEqual(expect.stringContaining('all upstreams failed'));
    expect(r.log?.error).toEqual(expect.stringContaining(`${first().hostPort.text} udp timeout`));
    expect(r.log?.error).toEqual(expect.stringContaining(`${second().hostPort.text} udp timeout`));

    // Once an upstream is back, a name resolves at once: with every upstream down, each is still asked.
    // (The same question stays SERVFAIL for 5 s, from the failure cache: upstream-health.test.ts.)
    first().behave({ mode: 'normal' });
    const again = await proxy.query('other.test', 'A');
    expect(again.packet.rcode).toBe('NOERROR');
    expect(again.log?.upstream).toBe(first().hostPort.text);
  });

  it('answers SERVFAIL when every upstream refuses, and warns that their ACL leaves us out', async () => {
    first().behave({ mode: 'refused' });
    second().behave({ mode: 'refused' });
    const r = await proxy.query('refused-all.test', 'A');
    expect(r.packet.rcode).toBe('SERVFAIL');
    expect(r.log?.error).toEqual(expect.stringContaining('answered REFUSED'));
    await proxy.waitForLine((l) => l.level === 40 && l.upstream === first().hostPort.text, 'a warning about REFUSED');
  });

  it('serves a cached answer while the upstream is down', async () => {
    const fresh = await proxy.query('cached.test', 'A');
    expect(fresh.log?.upstream).toBe(first().hostPort.text);
    await first().stop();
    await second().stop();
    const cached = await proxy.query('cached.test', 'A');
    expect(cached.packet.rcode).toBe('NOERROR');
    expect(addresses(cached.packet)).toEqual([addressOf('cached')]);
    expect(cached.log).toMatchObject({ action: 'forward', upstream: 'cache', answers: [addressOf('cached')] });
  });

  it('sends one upstream query for a burst of the same question', async () => {
    // The authority takes 100 ms, so all twenty queries arrive while the first is still out.
    first().behave({ mode: 'delay', delayMs: 100 });
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      proxy.query('burst.test', 'A', { id: 1000 + i, transport: i % 2 === 0 ? 'udp' : 'tcp' })));
    for (const [i, r] of replies.entries()) {
      expect(r.packet.id).toBe(1000 + i);
      expect(addresses(r.packet)).toEqual([addressOf('burst')]);
    }
    expect(asked(0, 'burst.test')).toBe(1);
  });

  it('ignores an answer with the wrong id and waits for the real one', async () => {
    // The authority sends a forged answer (another id, 192.0.2.66) first, then the real one.
    first().behave({ mode: 'wrong-id' });
    const r = await proxy.query('spoofed.test', 'A');
    expect(r.packet.rcode).toBe('NOERROR');
    expect(addresses(r.packet)).toEqual([addressOf('spoofed')]);
    expect(r.log?.upstream).toBe(first().hostPort.text);
    expect(asked(1, 'spoofed.test')).toBe(0);
  });
});
