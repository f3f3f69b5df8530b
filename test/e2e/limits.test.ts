/**
 * `limits`, end to end on loopback: what a flooding or greedy client gets,
 * and that everyone else does not notice. Rates and counts are kept small
 * (a burst of a few queries) so nothing here depends on the machine's speed:
 * the numbers come from the token buckets, not from load.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Zone } from '../helpers/authority.js';
import { TcpConnection, framed } from '../helpers/client.js';
import { queryBytes } from '../helpers/packets.js';
import { startProxy, type Proxy } from '../helpers/proxy.js';
import { waitFor } from '../helpers/wait-for.js';

const ZONE: Zone = {
  'github.com': [{ type: 'A', data: '140.82.121.3', ttl: 300 }],
  ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`n${i}.example.org`, [{ type: 'A', data: `198.51.100.${i + 1}` }]])),
};

let proxy: Proxy | null = null;
afterEach(async () => {
  await proxy?.close();
  proxy = null;
});

function yaml(limits = ''): string {
  return `
    version: 1
    upstreams: { servers: UPSTREAMS, timeout: 1500ms }
    clients:
      - { name: ci-1, match: ["127.0.0.1/32"], role: coding }
      - { name: ci-2, match: ["127.0.0.2/32"], role: coding }
    roles:
      coding: { allow: ["github.com", "*.example.org"] }
    ${limits}
  `;
}

/** The Prometheus text of the running proxy's registry. */
async function metricsText(p: Proxy): Promise<string> {
  return p.server.metrics.registry.metrics();
}

function count(text: string, match: RegExp): number {
  return text.split('\n').filter((l) => match.test(l)).reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** `n` queries sent at once from `from`; how many came back (the rest got nothing within `timeoutMs`). */
async function burst(p: Proxy, n: number, opts: { from?: string; edns?: boolean; timeoutMs?: number } = {}): Promise<Array<Buffer | null>> {
  return Promise.all(Array.from({ length: n }, (_, i) =>
    p.send(queryBytes({ name: 'github.com', type: 'A', id: i + 1, ...(opts.edns && { edns: true }) }), {
      ...(opts.from !== undefined && { from: opts.from }), timeoutMs: opts.timeoutMs ?? 400,
    })));
}

describe('limits: per-client token bucket', () => {
  it('drops what is over client_qps + client_burst, counts it as drop/rate_limit, and logs one line with limited: 1', async () => {
    proxy = await startProxy({ zone: ZONE, yaml: yaml('limits: { client_qps: 1, client_burst: 3 }') });
    const replies = await burst(proxy, 8);
    expect(replies.filter((r) => r !== null)).toHaveLength(3);
    // Another agent has its own bucket.
    expect((await proxy.query('github.com', 'A', { from: '127.0.0.2' })).packet.rcode).toBe('NOERROR');
    const limitedLines = proxy.decisions().filter((l) => l.reason === 'rate_limit');
    expect(limitedLines).toHaveLength(1);
    expect(limitedLines[0]).toMatchObject({ client: '127.0.0.1', agent: 'ci-1', role: 'coding', action: 'drop', reason: 'rate_limit', limited: 1, qname: 'github.com', qtype: 'A' });
    const text = await metricsText(proxy);
    expect(count(text, /^intentdns_queries_total\{.*action="drop".*reason="rate_limit"/)).toBe(5);
  });

  it('over_limit: refuse answers REFUSED with EDE 15 "rate limit"', async () => {
    proxy = await startProxy({ zone: ZONE, yaml: yaml('limits: { client_qps: 1, client_burst: 2, over_limit: refuse }') });
    await burst(proxy, 2);
    const reply = await proxy.query('github.com', 'A', { edns: true });
    expect(reply.packet.rcode).toBe('REFUSED');
    expect(reply.ede?.infoCode).toBe(15);
    expect(reply.ede?.text).toContain('rate limit');
    const text = await metricsText(proxy);
    expect(count(text, /^intentdns_queries_total\{.*action="refuse".*reason="rate_limit"/)).toBe(1);
  });

  it('takes a reload\'s rates at once, and applies them in audit mode too (they protect the proxy, not policy)', async () => {
    proxy = await startProxy({ zone: ZONE, yaml: yaml() });
    expect((await burst(proxy, 5)).every((r) => r !== null)).toBe(true);
    await proxy.reload(yaml('limits: { client_qps: 1, client_burst: 2 }').replace('version: 1', 'version: 1\n    mode: audit'));
    expect((await burst(proxy, 5)).filter((r) => r !== null)).toHaveLength(2);
  });

  it('is off with the v1 defaults: an agent is never rate limited', async () => {
    proxy = await startProxy({ zone: ZONE, yaml: yaml() });
    const replies = await burst(proxy, 60, { timeoutMs: 2000 });
    expect(replies.every((r) => r !== null)).toBe(true);
  });
});

describe('limits: unknown sources', () => {
  it('are limited even with client_qps 0: 20/s, burst 40, the rest dropped; one sampled log line for all of it', async () => {
    proxy = await startProxy({ zone: ZONE, yaml: yaml() });
    const replies = await burst(proxy, 60, { from: '127.0.0.9' });
    const answered = replies.filter((r) => r !== null).length;
    // 40 tokens at first, plus what 20/s refills while the burst is sent.
    expect(answered).toBeGreaterThanOrEqual(40);
    expect(answered).toBeLessThan(50);
    const lines = proxy.lines.filter((l) => l.client === '127.0.0.9');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'query', action: 'refuse', reason: 'unknown_client', limited: 1 });
    const text = await metricsText(proxy);
    expect(count(text, /^intentdns_queries_total\{.*reason="unknown_client"/)).toBe(answered);
    expect(count(text, /^intentdns_queries_total\{role="",action="drop",reason="rate_limit"/)).toBe(60 - answered);
  });

  it('limits.unknown_qps sets their budget', async () => {
    proxy = await startProxy({ zone: ZONE, yaml: yaml('limits: { unknown_qps: 2 }') });
    const replies = await burst(proxy, 10, { from: '127.0.0.9' });
    expect(replies.filter((r) => r !== null)).toHaveLength(4);
  });
});

describe('limits: TCP', () => {
  it('answers an unknown client once and closes the connection', async () => {
    proxy = await startProxy({ zone: ZONE, yaml: yaml() });
    const conn = await TcpConnection.open(proxy.target(), '127.0.0.9');
    try {
      await conn.write(Buffer.concat([framed(queryBytes({ name: 'github.com', id: 1 })), framed(queryBytes({ name: 'github.com', id: 2 }))]));
      await conn.waitFor(() => conn.closed || conn.ended, 2000);
      expect(conn.replies).toHaveLength(1);
      expect(conn.replies[0]!.readUInt16BE(2) & 0xf).toBe(5);   // REFUSED
    } finally {
      await conn.close();
    }
  });

  it('gives unknown sources 2 connections each and 16 in all, apart from the agents\' slots', async () => {
    proxy = await startProxy({ zone: ZONE, yaml: yaml('limits: { tcp_connections: 4, tcp_connections_per_client: 4 }') });
    const open: TcpConnection[] = [];
    try {
      // 10 unknown sources × 3 connections: at most 2 each and 16 in all stay open.
      for (let s = 1; s <= 10; s++) for (let i = 0; i < 3; i++) open.push(await TcpConnection.open(proxy.target(), `127.0.1.${s}`));
      await new Promise((r) => setTimeout(r, 200));
      const alive = open.filter((c) => !c.closed);
      expect(alive.length).toBe(16);
      // The agent still has all 4 of its slots.
      const agent = await Promise.all([1, 2, 3, 4].map(() => TcpConnection.open(proxy!.target(), '127.0.0.1')));
      open.push(...agent);
      for (const [i, c] of agent.entries()) await c.write(framed(queryBytes({ name: 'github.com', id: 100 + i })));
      for (const c of agent) await c.waitReplies(1);
    } finally {
      await Promise.all(open.map((c) => c.close()));
    }
  });
});

describe('limits: in flight per client', () => {
  it('bounds one client\'s queries in flight across TCP and UDP by in_flight_per_client', async () => {
    proxy = await startProxy({ zone: ZONE, yaml: yaml('limits: { in_flight_per_client: 50 }') });
    const p = proxy;
    p.authority.behave({ mode: 'drop' });
    const conns = await Promise.all(Array.from({ length: 8 }, () => TcpConnection.open(p.target(), '127.0.0.1')));
    try {
      // 8 connections × 64 pipelined misses, and 50 more over UDP: 562 distinct names the upstream never answers.
      let id = 0;
      for (const c of conns) {
        const frames = Array.from({ length: 64 }, () => framed(queryBytes({ name: `q${++id}.example.org`, id })));
        await c.write(Buffer.concat(frames));
      }
      const udp = Promise.all(Array.from({ length: 50 }, () => p.send(queryBytes({ name: `q${++id}.example.org`, id }), { timeoutMs: 300 })));
      await waitFor(() => (p.authority.queries.length >= 50 ? true : undefined), { what: '50 upstream queries', timeoutMs: 2000 });
      await new Promise((r) => setTimeout(r, 300));
      // Each query in flight holds one upstream socket: the client's budget is what reaches the upstream.
      expect(p.authority.queries.length).toBeLessThanOrEqual(50);
      // Another client is not held up by ci-1's budget.
      p.authority.behave({ mode: 'normal' });
      expect((await p.query('github.com', 'A', { from: '127.0.0.2' })).packet.rcode).toBe('NOERROR');
      await udp;
    } finally {
      await Promise.all(conns.map((c) => c.close()));
    }
  });
});
