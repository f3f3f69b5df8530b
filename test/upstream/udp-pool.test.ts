/**
 * The UDP socket pool against a real DNS server on loopback: queries spread
 * over random source ports with random ids, the ports are renewed, spoofed
 * and stray packets are ignored, an ICMP error fails the socket's queries and
 * replaces it, the socket budget bounds what is open, and close() leaves
 * nothing behind.
 */
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SocketBudget } from '../../src/limit/sockets.js';
import { NoSocketError, UpstreamNetworkError, UpstreamTimeoutError } from '../../src/upstream/errors.js';
import { UdpPool, UdpPools } from '../../src/upstream/udp-pool.js';
import { buildQuery } from '../../src/wire/build.js';
import { encodeName } from '../../src/wire/names.js';
import { closedPort, startAuthority, type Authority } from '../helpers/authority.js';
import { waitFor } from '../helpers/wait-for.js';

const PLAIN = { dnssecOk: false, checkingDisabled: false };

function question(name: string): Buffer {
  return Buffer.concat([encodeName(name), Buffer.from([0, 1, 0, 1])]);
}

function udpHandles(): number {
  return process.getActiveResourcesInfo().filter((t) => t === 'UDPWrap').length;
}

async function ask(pool: UdpPool, name: string, timeoutMs = 500): Promise<Buffer | Error> {
  const q = question(name);
  return pool.exchange(buildQuery(0, q, PLAIN), q, timeoutMs);
}

let dns: Authority;
const pools: Array<UdpPool | UdpPools> = [];
const track = <T extends UdpPool | UdpPools>(p: T): T => {
  pools.push(p);
  return p;
};

beforeAll(async () => {
  dns = await startAuthority({ zone: { 'example.org': [{ type: 'A', data: '93.184.216.34' }], 'other.example.org': [{ type: 'A', data: '10.1.1.1' }] } });
});
afterAll(async () => {
  await dns.stop();
});
afterEach(() => {
  for (const p of pools.splice(0)) p.close();
  dns.behave({ mode: 'normal' });
  dns.onQuery = null;
  dns.queries.length = 0;
});

describe('UdpPool', () => {
  it('spreads queries over `size` sockets on random ports, each query with a random id', async () => {
    const pool = track(new UdpPool(dns.hostPort, { size: 16 }));
    const answers = await Promise.all(Array.from({ length: 200 }, () => ask(pool, 'example.org')));
    expect(answers.every((a) => a instanceof Buffer)).toBe(true);
    const ports = new Set(dns.queries.map((q) => q.port));
    // 200 draws from 16 sockets: every one is used (the chance that one is not is ≈ 16 × (15/16)^200 < 1e-4).
    expect(ports.size).toBe(16);
    expect(pool.open).toBe(16);
    // Not a run of ports the kernel handed out one after the other.
    const sorted = [...ports].sort((a, b) => a - b);
    expect(sorted.at(-1)! - sorted[0]!).toBeGreaterThan(100);
    expect(new Set(dns.queries.map((q) => q.id)).size).toBeGreaterThan(190);
  });

  it('replaces a socket after maxQueries queries, and after maxAge: the ports move', async () => {
    const pool = track(new UdpPool(dns.hostPort, { size: 2, maxQueries: 5 }));
    for (let i = 0; i < 40; i++) expect(await ask(pool, 'example.org')).toBeInstanceOf(Buffer);
    // 40 queries at 5 per socket: at least 8 sockets, so 8 ports, one after another.
    expect(new Set(dns.queries.map((q) => q.port)).size).toBeGreaterThanOrEqual(8);
    expect(pool.open).toBeLessThanOrEqual(2);

    let now = 0;
    const aging = track(new UdpPool(dns.hostPort, { size: 1, maxAgeMs: 1000, now: () => now }));
    await ask(aging, 'example.org');
    const first = aging.ports();
    await ask(aging, 'example.org');
    expect(aging.ports()).toEqual(first);
    now = 1000;
    await ask(aging, 'example.org');
    expect(aging.ports()).not.toEqual(first);
  });

  it('takes only the answer to the pending question: wrong id, wrong question and another source port are ignored', async () => {
    const forger = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => forger.bind(0, '127.0.0.1', () => resolve()));
    dns.behave({ mode: 'delay', delayMs: 40 });
    dns.onQuery = (q) => {
      const forged = (id: number, name: string) => dnsPacket.encode({
        type: 'response', id, flags: dnsPacket.RECURSION_AVAILABLE,
        questions: [{ name, type: 'A', class: 'IN' }],
        answers: [{ name, type: 'A', class: 'IN', ttl: 86400, data: '192.0.2.66' }],
      });
      // From another port, with the right id: the connected socket never delivers it.
      forger.send(forged(q.id, q.name), q.port, '127.0.0.1');
    };
    try {
      const pool = track(new UdpPool(dns.hostPort, { size: 1 }));
      const [a, b] = await Promise.all([ask(pool, 'example.org'), ask(pool, 'other.example.org')]);
      expect(dnsPacket.decode(a as Buffer).answers?.[0]).toMatchObject({ data: '93.184.216.34' });
      expect(dnsPacket.decode(b as Buffer).answers?.[0]).toMatchObject({ data: '10.1.1.1' });
    } finally {
      dns.onQuery = null;
      await new Promise<void>((resolve) => forger.close(() => resolve()));
    }
    // The server's own wrong-id answer (the right source, another id) comes before the real one.
    dns.behave({ mode: 'wrong-id' });
    const pool = track(new UdpPool(dns.hostPort, { size: 1 }));
    const got = await ask(pool, 'example.org');
    expect(dnsPacket.decode(got as Buffer).answers?.[0]).toMatchObject({ data: '93.184.216.34' });
  });

  it('times a silent upstream out per query, and keeps the socket for the next', async () => {
    dns.behave({ mode: 'drop' });
    const pool = track(new UdpPool(dns.hostPort, { size: 1 }));
    expect(await ask(pool, 'example.org', 50)).toBeInstanceOf(UpstreamTimeoutError);
    dns.behave({ mode: 'normal' });
    expect(await ask(pool, 'example.org')).toBeInstanceOf(Buffer);
    expect(new Set(dns.queries.map((q) => q.port)).size).toBe(1);
  });

  it('a closed port (ICMP, ECONNREFUSED) fails the query at once, and the socket is replaced', async () => {
    const pool = track(new UdpPool(await closedPort(), { size: 1 }));
    const started = performance.now();
    const got = await ask(pool, 'example.org', 2000);
    expect(got).toBeInstanceOf(UpstreamNetworkError);
    expect((got as Error).message).toContain('ECONNREFUSED');
    expect(performance.now() - started).toBeLessThan(1000);
    await waitFor(() => pool.open === 0, { what: 'the failed socket to close' });
  });

  it('opens no more sockets than the budget allows; with none free, the query fails at once with NoSocketError', async () => {
    const budget = new SocketBudget(2);
    const pool = track(new UdpPool(dns.hostPort, { size: 8, budget }));
    const answers = await Promise.all(Array.from({ length: 50 }, () => ask(pool, 'example.org')));
    expect(answers.every((a) => a instanceof Buffer)).toBe(true);
    expect(budget.open).toBe(2);
    expect(new Set(dns.queries.map((q) => q.port)).size).toBe(2);
    // Sharing a socket it has is no refusal: intentdns_upstream_sockets_refused_total stays 0.
    expect(budget.refused).toBe(0);

    const full = new SocketBudget(1);
    full.tryOpen();
    const starved = track(new UdpPool(dns.hostPort, { size: 4, budget: full }));
    expect(await ask(starved, 'example.org')).toBeInstanceOf(NoSocketError);
    expect(full.refused).toBe(1);
  });

  it('close() fails what is pending and leaves no UDP handle; an idle pool empties itself at the sweep', async () => {
    const before = udpHandles();
    const budget = new SocketBudget(100);
    const pools = new UdpPools({ budget });
    dns.behave({ mode: 'drop' });
    const pending = ask(pools.of(dns.hostPort), 'example.org', 5000);
    await waitFor(() => dns.queries.length === 1, { what: 'the query to arrive' });
    pools.close();
    expect(await pending).toBeInstanceOf(UpstreamNetworkError);
    expect(budget.open).toBe(0);
    await waitFor(() => udpHandles() <= before, { what: 'UDP handles to close' });

    let now = 0;
    const idle = track(new UdpPool(dns.hostPort, { size: 4, maxAgeMs: 1000, now: () => now }));
    dns.behave({ mode: 'normal' });
    await Promise.all(Array.from({ length: 20 }, () => ask(idle, 'example.org')));
    expect(idle.open).toBe(4);
    now = 1000;
    idle.sweep();
    expect(idle.open).toBe(0);
  });
});
