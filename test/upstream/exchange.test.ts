import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { pino } from 'pino';
import { Upstreams, UpstreamConfigError, type AttemptHook } from '../../src/upstream/exchange.js';
import { UpstreamHealth } from '../../src/upstream/health.js';
import { UpstreamNetworkError, UpstreamRcodeError, UpstreamTimeoutError, type AttemptOutcome } from '../../src/upstream/errors.js';
import type { HostPort } from '../../src/config/types.js';
import { encodeName } from '../../src/wire/names.js';
import { QTYPE } from '../../src/wire/qtypes.js';
import { RCODE } from '../../src/wire/constants.js';
import { closedPort, startAuthority, type Authority, type Zone } from '../helpers/authority.js';
import { delay, waitFor } from '../helpers/wait-for.js';

/** Counts of the handle types an exchange opens. */
function netHandles(): { udp: number; tcp: number; timers: number } {
  const info = process.getActiveResourcesInfo();
  return {
    udp: info.filter((t) => t === 'UDPWrap').length,
    tcp: info.filter((t) => t === 'TCPSocketWrap').length,
    timers: info.filter((t) => t === 'Timeout').length,
  };
}

const log = pino({ level: 'silent' });
const PLAIN = { dnssecOk: false, checkingDisabled: false };
const TIMEOUT_MS = 150;

const ZONE: Zone = {
  'example.org': [{ type: 'A', data: '93.184.216.34', ttl: 300 }],
  'www.example.org': [{ type: 'CNAME', data: 'cdn.example.org', ttl: 600 }],
  'cdn.example.org': [{ type: 'A', data: '10.1.2.3', ttl: 120 }],
  'ext.example.org': [{ type: 'CNAME', data: 'edge.cdn.net', ttl: 60 }],
  'dangling.example.org': [{ type: 'CNAME', data: 'gone.example.org', ttl: 600 }],
  'big.example.org': Array.from({ length: 120 }, (_, i) => ({ type: 'A', data: `10.9.${i >> 8}.${i & 0xff}`, ttl: 30 })),
};

/** The canonical question section for `name`, as decodeQuery (wire/query.ts) hands it on. */
function question(name: string, type: number = QTYPE.A): Buffer {
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(1, 2);
  return Buffer.concat([encodeName(name), tail]);
}

function recorder(): { hook: AttemptHook; seen: Array<[string, AttemptOutcome]> } {
  const seen: Array<[string, AttemptOutcome]> = [];
  return { seen, hook: (upstream, outcome, seconds) => { expect(seconds).toBeGreaterThanOrEqual(0); seen.push([upstream, outcome]); } };
}

function upstreams(servers: readonly HostPort[], hook?: AttemptHook, timeoutMs = TIMEOUT_MS): Upstreams {
  return new Upstreams({ servers, timeoutMs, log, ...(hook ? { onAttempt: hook } : {}) });
}

/** A back-off short enough to watch a probe happen: 40 ms doubling to 160 ms. */
const SHORT_BACKOFF = { initialMs: 40, maxMs: 160 };

/**
 * An upstream that answers every UDP query truncated (so the exchange retries
 * over TCP) and then, over TCP, never sends an answer: it writes `pattern` over
 * and over for as long as the connection stays open.
 */
async function startStreamingUpstream(pattern: Buffer): Promise<{
  hostPort: HostPort;
  /** Resolves once the exchange's TCP connection has closed. */
  closed: () => Promise<void>;
  stop: () => Promise<void>;
}> {
  let connection: Promise<void> | null = null;
  const tcp = net.createServer((conn) => {
    conn.on('error', () => {});      // EPIPE / ECONNRESET once the client cuts us off
    connection = new Promise((resolve) => conn.once('close', () => resolve()));
    const chunk = Buffer.concat(Array.from({ length: Math.ceil(16_384 / pattern.length) }, () => pattern));
    const pump = (): void => {
      while (!conn.destroyed && conn.write(chunk));
    };
    conn.on('drain', pump);
    pump();
  });
  const udp = dgram.createSocket('udp4');
  udp.on('message', (msg, rinfo) => {
    const query = dnsPacket.decode(msg);
    const reply = dnsPacket.encode({ type: 'response', id: query.id, flags: dnsPacket.TRUNCATED_RESPONSE, questions: query.questions });
    udp.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => tcp.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => resolve()));
  const { port } = tcp.address() as net.AddressInfo;
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(port, '127.0.0.1', () => resolve());
  });
  return {
    hostPort: { host: '127.0.0.1', port, family: 4, text: `127.0.0.1:${port}` },
    closed: async () => {
      await waitFor(() => connection !== null, { what: 'the TCP connection' });
      await connection;
    },
    stop: async () => {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}

describe('Upstreams', () => {
  let a: Authority;
  let b: Authority;

  beforeAll(async () => {
    a = await startAuthority({ zone: ZONE, soa: { ttl: 3600, minimum: 45 } });
    b = await startAuthority({ zone: ZONE, soa: { ttl: 3600, minimum: 45 } });
  });
  afterAll(async () => {
    await a.stop();
    await b.stop();
  });
  afterEach(async () => {
    for (const dns of [a, b]) {
      dns.behave({ mode: 'normal' });
      dns.queries.length = 0;
      if (!dns.running) await dns.start();
    }
  });

  it('returns the walked answer and the upstream that gave it', async () => {
    const { hook, seen } = recorder();
    const result = await upstreams([a.hostPort, b.hostPort], hook).exchange(question('example.org'), { dnssecOk: true, checkingDisabled: true });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.upstream).toBe(a.hostPort.text);
    expect(result.view.rcode).toBe(RCODE.NOERROR);
    expect(result.view.addresses).toEqual(['93.184.216.34']);
    expect(result.view.cacheTtl).toBe(300);
    expect(a.queries).toMatchObject([{ name: 'example.org', type: 'A', transport: 'udp', dnssecOk: true, checkingDisabled: true }]);
    expect(b.queries).toHaveLength(0);
    expect(seen).toEqual([[a.hostPort.text, 'ok']]);
  });

  it('passes a CNAME chain through, with its targets noted', async () => {
    const result = await upstreams([a.hostPort]).exchange(question('www.example.org'), PLAIN);
    expect(result.ok && result.view.cnames).toEqual(['cdn.example.org']);
    expect(result.ok && result.view.addresses).toEqual(['10.1.2.3']);
    expect(result.ok && result.view.cacheTtl).toBe(120);
    const ext = await upstreams([a.hostPort]).exchange(question('ext.example.org'), PLAIN);
    expect(ext.ok && ext.view.cnames).toEqual(['edge.cdn.net']);
    expect(ext.ok && ext.view.addresses).toEqual([]);
  });

  it('passes an upstream NXDOMAIN through as an answer, with the SOA-derived negative TTL', async () => {
    const { hook, seen } = recorder();
    const result = await upstreams([a.hostPort, b.hostPort], hook).exchange(question('nope.example.org'), PLAIN);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.view.rcode).toBe(RCODE.NXDOMAIN);
    expect(result.view.cacheTtl).toBe(45);
    expect(b.queries).toHaveLength(0);
    expect(seen).toEqual([[a.hostPort.text, 'ok']]);
    const dangling = await upstreams([a.hostPort]).exchange(question('dangling.example.org'), PLAIN);
    expect(dangling.ok && dangling.view.rcode).toBe(RCODE.NXDOMAIN);
    expect(dangling.ok && dangling.view.cnames).toEqual(['gone.example.org']);
    expect(dangling.ok && dangling.view.cacheTtl).toBe(45);
  });

  describe('fails over to the next server', () => {
    it.each([
      ['drop', 'timeout'],
      ['servfail', 'servfail'],
      ['refused', 'refused'],
      ['malformed', 'error'],
    ] as const)('when the first %s (outcome %s)', async (mode, outcome) => {
      a.behave({ mode });
      const { hook, seen } = recorder();
      const result = await upstreams([a.hostPort, b.hostPort], hook).exchange(question('example.org'), PLAIN);
      expect(result.ok && result.upstream).toBe(b.hostPort.text);
      expect(result.ok && result.view.addresses).toEqual(['93.184.216.34']);
      expect(seen).toEqual([[a.hostPort.text, outcome], [b.hostPort.text, 'ok']]);
    });

    it('when the first is closed (ECONNREFUSED), without waiting for the timeout', async () => {
      const closed = await closedPort();
      const { hook, seen } = recorder();
      const started = performance.now();
      const result = await upstreams([closed, b.hostPort], hook, 2000).exchange(question('example.org'), PLAIN);
      expect(performance.now() - started).toBeLessThan(1000);
      expect(result.ok && result.upstream).toBe(b.hostPort.text);
      expect(seen).toEqual([[closed.text, 'error'], [b.hostPort.text, 'ok']]);
    });

    it('when the first was stopped, skips it, and uses it again once a probe finds it back', async () => {
      await a.stop();
      const health = new UpstreamHealth(SHORT_BACKOFF);
      const servers = new Upstreams({ servers: [a.hostPort, b.hostPort], timeoutMs: TIMEOUT_MS, log, health });
      const down = await servers.exchange(question('example.org'), PLAIN);
      expect(down.ok && down.upstream).toBe(b.hostPort.text);
      expect(health.of(a.hostPort).up).toBe(false);
      await a.start();
      // Still skipped: nothing has asked it since. Once its back-off has run out, the next exchange sends a probe.
      const skipped = await servers.exchange(question('www.example.org'), PLAIN);
      expect(skipped.ok && skipped.upstream).toBe(b.hostPort.text);
      await delay(SHORT_BACKOFF.initialMs);
      await servers.exchange(question('cdn.example.org'), PLAIN);
      await waitFor(() => health.of(a.hostPort).up, { what: 'the probe to find the first upstream back' });
      expect(a.queries).toMatchObject([{ name: '', type: 'NS' }]);
      const back = await servers.exchange(question('ext.example.org'), PLAIN);
      expect(back.ok && back.upstream).toBe(a.hostPort.text);
    });
  });

  it('gives ok:false naming every failure when all upstreams fail, within timeout × servers', async () => {
    a.behave({ mode: 'drop' });
    b.behave({ mode: 'servfail' });
    const closed = await closedPort();
    const started = performance.now();
    const result = await upstreams([a.hostPort, b.hostPort, closed]).exchange(question('example.org'), PLAIN);
    const elapsed = performance.now() - started;
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toBe(
      `all upstreams failed: ${a.hostPort.text} udp timeout after ${TIMEOUT_MS}ms; ${b.hostPort.text} answered SERVFAIL; ${closed.text} udp ECONNREFUSED`,
    );
    expect(result.failures[0]).toBeInstanceOf(UpstreamTimeoutError);
    expect(result.failures[1]).toBeInstanceOf(UpstreamRcodeError);
    expect(result.failures.map((f) => f.code)).toEqual(['IDNS_ERR_UPSTREAM_TIMEOUT', 'IDNS_ERR_UPSTREAM_RCODE', 'IDNS_ERR_UPSTREAM_NETWORK']);
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(elapsed).toBeLessThan(3 * TIMEOUT_MS + 300);   // behaviour bound with slack, not a benchmark
  });

  it('ends within about timeout × servers when every upstream is silent', async () => {
    a.behave({ mode: 'drop' });
    b.behave({ mode: 'drop' });
    const started = performance.now();
    const result = await upstreams([a.hostPort, b.hostPort]).exchange(question('example.org'), PLAIN);
    const elapsed = performance.now() - started;
    expect(result.ok).toBe(false);
    expect(elapsed).toBeGreaterThanOrEqual(2 * TIMEOUT_MS - 10);
    expect(elapsed).toBeLessThan(2 * TIMEOUT_MS + 300);
    expect(a.queries).toHaveLength(1);
    expect(b.queries).toHaveLength(1);
  });

  describe('truncation', () => {
    it('retries the same server over TCP when the UDP answer has TC set', async () => {
      a.behave({ mode: 'truncate-udp' });
      const { hook, seen } = recorder();
      const result = await upstreams([a.hostPort, b.hostPort], hook).exchange(question('www.example.org'), PLAIN);
      expect(result.ok && result.upstream).toBe(a.hostPort.text);
      expect(result.ok && result.view.truncated).toBe(false);
      expect(result.ok && result.view.addresses).toEqual(['10.1.2.3']);
      expect(a.queries.map((q) => q.transport)).toEqual(['udp', 'tcp']);
      expect(a.queries[0]!.id).not.toBe(a.queries[1]!.id);
      expect(seen).toEqual([[a.hostPort.text, 'truncated'], [a.hostPort.text, 'ok']]);
    });

    it('gets a big answer whole over TCP, the frame arriving in pieces', async () => {
      a.behave({ mode: 'normal', tcpSplit: true });
      const result = await upstreams([a.hostPort]).exchange(question('big.example.org'), PLAIN);
      expect(result.ok && result.view.addresses).toHaveLength(120);
      expect(a.queries.map((q) => q.transport)).toEqual(['udp', 'tcp']);
    });

    it.each([
      ['close', 'error'],
      ['drop', 'timeout'],
    ] as const)('fails over when the TCP retry meets a %s (outcome %s)', async (tcp, outcome) => {
      a.behave({ mode: 'truncate-udp', tcp });
      const { hook, seen } = recorder();
      const result = await upstreams([a.hostPort, b.hostPort], hook).exchange(question('example.org'), PLAIN);
      expect(result.ok && result.upstream).toBe(b.hostPort.text);
      expect(seen).toEqual([[a.hostPort.text, 'truncated'], [a.hostPort.text, outcome], [b.hostPort.text, 'ok']]);
    });

    it.each([
      ['a frame header claiming 65535 bytes, then endless garbage', Buffer.from([0xff])],
      ['an endless run of empty frames', Buffer.from([0x00])],
    ])('fails that upstream, before the timeout and with bounded reads, when the TCP retry streams %s', async (_, pattern) => {
      const streaming = await startStreamingUpstream(pattern);
      try {
        const { hook, seen } = recorder();
        const timeoutMs = 2000;
        const started = performance.now();
        const result = await upstreams([streaming.hostPort], hook, timeoutMs).exchange(question('example.org'), PLAIN);
        const elapsed = performance.now() - started;
        expect(result.ok).toBe(false);
        if (result.ok) return;
        expect(result.failures).toHaveLength(1);
        expect(result.failures[0]).toBeInstanceOf(UpstreamNetworkError);
        expect(result.failures[0]!.transport).toBe('tcp');
        expect(result.error).toMatch(/ tcp sent more than \d+ bytes without an answer$/);
        expect(seen).toEqual([[streaming.hostPort.text, 'truncated'], [streaming.hostPort.text, 'error']]);
        // Cut off by the read cap, not by the timeout: nothing was held waiting for it.
        expect(elapsed).toBeLessThan(timeoutMs / 2);
        await streaming.closed();
      } finally {
        await streaming.stop();
      }
    });
  });

  it('ignores an answer with the wrong id and takes the real one after it', async () => {
    a.behave({ mode: 'wrong-id' });
    const result = await upstreams([a.hostPort, b.hostPort]).exchange(question('example.org'), PLAIN);
    expect(result.ok && result.upstream).toBe(a.hostPort.text);
    expect(result.ok && result.view.addresses).toEqual(['93.184.216.34']);
    expect(b.queries).toHaveLength(0);
  });

  it('ignores a forged answer with the right id from another port (the socket is connected)', async () => {
    const forger = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => forger.bind(0, '127.0.0.1', () => resolve()));
    a.behave({ mode: 'delay', delayMs: 30 });
    a.onQuery = (q) => {
      const forged = dnsPacket.encode({
        type: 'response', id: q.id, flags: dnsPacket.RECURSION_AVAILABLE,
        questions: [{ name: q.name, type: 'A', class: 'IN' }],
        answers: [{ name: q.name, type: 'A', class: 'IN', ttl: 86400, data: '192.0.2.66' }],
      });
      forger.send(forged, q.port, '127.0.0.1');
    };
    try {
      const result = await upstreams([a.hostPort]).exchange(question('example.org'), PLAIN);
      expect(result.ok && result.view.addresses).toEqual(['93.184.216.34']);
    } finally {
      a.onQuery = null;
      await new Promise<void>((resolve) => forger.close(() => resolve()));
    }
  });

  it('ignores a wrong-id frame over TCP too', async () => {
    a.behave({ mode: 'wrong-id' });
    const result = await upstreams([a.hostPort]).exchange(question('big.example.org'), PLAIN);
    expect(result.ok && result.view.addresses).toHaveLength(120);
    expect(result.ok && result.view.addresses).not.toContain('192.0.2.66');
  });

  it('sends attempts from many source ports with random ids (the pool, udp-pool.test.ts)', async () => {
    const servers = upstreams([a.hostPort]);
    try {
      for (let i = 0; i < 40; i++) await servers.exchange(question(`n${i}.example.org`), PLAIN);
    } finally {
      servers.close();
    }
    expect(new Set(a.queries.map((q) => q.id)).size).toBeGreaterThan(35);
    expect(new Set(a.queries.map((q) => q.port)).size).toBeGreaterThan(10);
  });

  it('works with an IPv6 upstream', async () => {
    const v6 = await startAuthority({ host: '::1', zone: ZONE });
    try {
      v6.behave({ mode: 'truncate-udp' });
      const result = await upstreams([v6.hostPort]).exchange(question('example.org'), PLAIN);
      expect(v6.hostPort.text).toMatch(/^\[::1\]:\d+$/);
      expect(result.ok && result.upstream).toBe(v6.hostPort.text);
      expect(result.ok && result.view.addresses).toEqual(['93.184.216.34']);
      expect(v6.queries.map((q) => q.transport)).toEqual(['udp', 'tcp']);
    } finally {
      await v6.stop();
    }
  });

  describe('coalescing', () => {
    it('sends one upstream query for a burst of the same question', async () => {
      a.behave({ mode: 'delay', delayMs: 20 });
      const servers = upstreams([a.hostPort]);
      const results = await Promise.all(Array.from({ length: 5 }, () => servers.exchange(question('example.org'), PLAIN)));
      expect(a.queries).toHaveLength(1);
      expect(new Set(results).size).toBe(1);
      expect(servers.inflight).toBe(0);
    });

    it('keeps questions with different DO / CD bits apart', async () => {
      const servers = upstreams([a.hostPort]);
      await Promise.all([
        servers.exchange(question('example.org'), PLAIN),
        servers.exchange(question('example.org'), { dnssecOk: true, checkingDisabled: false }),
        servers.exchange(question('example.org'), { dnssecOk: false, checkingDisabled: true }),
        servers.exchange(question('example.org', QTYPE.AAAA), PLAIN),
      ]);
      expect(a.queries).toHaveLength(4);
    });
  });

  describe('health: a silent upstream is skipped, probed, and asked again once it answers', () => {
    const withHealth = (servers: readonly HostPort[], extra: Partial<ConstructorParameters<typeof Upstreams>[0]> = {}) => {
      const health = new UpstreamHealth(SHORT_BACKOFF);
      const skips: string[] = [];
      const ups = new Upstreams({ servers, timeoutMs: TIMEOUT_MS, log, health, onSkip: (u) => skips.push(u), ...extra });
      return { ups, health, skips };
    };

    it('after one timeout the next exchanges go straight to the next upstream, each skip counted', async () => {
      a.behave({ mode: 'drop' });
      const { ups, health, skips } = withHealth([a.hostPort, b.hostPort]);
      await ups.exchange(question('example.org'), PLAIN);
      expect(health.of(a.hostPort).up).toBe(false);
      for (const name of ['www.example.org', 'cdn.example.org', 'ext.example.org']) {
        const r = await ups.exchange(question(name), PLAIN);
        expect(r.ok && r.upstream).toBe(b.hostPort.text);
      }
      expect(a.queries.map((q) => q.name)).toEqual(['example.org']);
      expect(skips).toEqual([a.hostPort.text, a.hostPort.text, a.hostPort.text]);
    });

    it('asks a down upstream last when every upstream that is up fails too', async () => {
      a.behave({ mode: 'drop' });
      const { ups, health } = withHealth([a.hostPort, b.hostPort]);
      await ups.exchange(question('example.org'), PLAIN);
      a.behave({ mode: 'normal' });
      b.behave({ mode: 'servfail' });
      const r = await ups.exchange(question('www.example.org'), PLAIN);
      expect(r.ok && r.upstream).toBe(a.hostPort.text);
      expect(b.queries.map((q) => q.name)).toEqual(['example.org', 'www.example.org']);
      // That answer brought it back: it is first again.
      expect(health.of(a.hostPort).up).toBe(true);
      b.behave({ mode: 'normal' });
      const next = await ups.exchange(question('cdn.example.org'), PLAIN);
      expect(next.ok && next.upstream).toBe(a.hostPort.text);
    });

    it('keeps asking a single upstream while it is down', async () => {
      a.behave({ mode: 'drop' });
      const { ups } = withHealth([a.hostPort]);
      expect((await ups.exchange(question('example.org'), PLAIN)).ok).toBe(false);
      a.behave({ mode: 'normal' });
      const r = await ups.exchange(question('www.example.org'), PLAIN);
      expect(r.ok && r.upstream).toBe(a.hostPort.text);
    });

    it.each(['servfail', 'refused', 'malformed'] as const)('an upstream that answers (%s) stays up', async (mode) => {
      a.behave({ mode });
      const { ups, health, skips } = withHealth([a.hostPort, b.hostPort]);
      await ups.exchange(question('example.org'), PLAIN);
      expect(health.of(a.hostPort).up).toBe(true);
      await ups.exchange(question('www.example.org'), PLAIN);
      expect(a.queries.map((q) => q.name)).toEqual(['example.org', 'www.example.org']);
      expect(skips).toEqual([]);
    });

    it('a closed port (ECONNREFUSED) takes an upstream down too', async () => {
      const closed = await closedPort();
      const { ups, health } = withHealth([closed, b.hostPort]);
      await ups.exchange(question('example.org'), PLAIN);
      expect(health.of(closed).up).toBe(false);
    });

    it('sends one probe at a time (the root NS), waiting longer after each that gets no answer', async () => {
      a.behave({ mode: 'drop' });
      const probes: number[] = [];
      a.onQuery = (q) => { if (q.name === '' && q.type === 'NS') probes.push(performance.now()); };
      try {
        const { ups, health } = withHealth([a.hostPort, b.hostPort]);
        await ups.exchange(question('example.org'), PLAIN);
        // Misses for 1.2 s, one every 10 ms (bounded in count too): each may claim the probe, only one is ever out.
        const until = performance.now() + 1200;
        for (let i = 0; i < 200 && performance.now() < until; i++) {
          const r = await ups.exchange(question('example.org'), PLAIN);   // Upstreams keeps no answers: each is a miss
          expect(r.ok && r.upstream).toBe(b.hostPort.text);
          await delay(10);
        }
        expect(health.of(a.hostPort).up).toBe(false);
        // A probe takes the whole timeout; the next waits for the back-off after it: 40, 80, 160, 160 … ms.
        expect(probes.length).toBeGreaterThanOrEqual(2);
        const gaps = probes.slice(1).map((t, i) => t - probes[i]!);
        for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(TIMEOUT_MS + SHORT_BACKOFF.initialMs * 2 - 15);
        expect(probes.length).toBeLessThanOrEqual(Math.ceil(1200 / (TIMEOUT_MS + SHORT_BACKOFF.initialMs)) + 1);
        expect(a.queries.filter((q) => q.name !== '')).toHaveLength(1);
      } finally {
        a.onQuery = null;
      }
    });
  });

  describe('strategy', () => {
    it('fastest: after measuring each once, asks the faster upstream first', async () => {
      a.behave({ mode: 'delay', delayMs: 60 });
      const ups = new Upstreams({ servers: [a.hostPort, b.hostPort], timeoutMs: 1000, log, strategy: 'fastest' });
      const used: string[] = [];
      for (const name of ['example.org', 'www.example.org', 'cdn.example.org', 'ext.example.org', 'nope.example.org']) {
        const r = await ups.exchange(question(name), PLAIN);
        used.push(r.ok ? r.upstream : 'failed');
      }
      expect(used).toEqual([a.hostPort.text, b.hostPort.text, b.hostPort.text, b.hostPort.text, b.hostPort.text]);
    });

    it('ordered (the default) keeps config order however slow the first is', async () => {
      a.behave({ mode: 'delay', delayMs: 60 });
      const ups = upstreams([a.hostPort, b.hostPort], undefined, 1000);
      for (const name of ['example.org', 'www.example.org', 'cdn.example.org']) {
        const r = await ups.exchange(question(name), PLAIN);
        expect(r.ok && r.upstream).toBe(a.hostPort.text);
      }
    });
  });

  describe('failure cache', () => {
    it('gives a question every upstream failed the same failure again, without asking anyone', async () => {
      a.behave({ mode: 'servfail' });
      b.behave({ mode: 'drop' });
      const ups = upstreams([a.hostPort, b.hostPort]);
      const first = await ups.exchange(question('example.org'), PLAIN);
      expect(first).toMatchObject({ ok: false, cached: false });
      a.behave({ mode: 'normal' });
      b.behave({ mode: 'normal' });
      const again = await ups.exchange(question('example.org'), PLAIN);
      expect(again).toMatchObject({ ok: false, cached: true, failures: [] });
      expect(!again.ok && again.error).toMatch(/^answered from the failure cache \(every upstream failed \d+\.\ds ago\): all upstreams failed: /);
      expect(a.queries).toHaveLength(1);
      expect(b.queries).toHaveLength(1);
      expect(ups.cachedFailures).toBe(1);
      // Another question, or the same with another DO bit, is asked.
      expect((await ups.exchange(question('example.org'), { dnssecOk: true, checkingDisabled: false })).ok).toBe(true);
      expect((await ups.exchange(question('www.example.org'), PLAIN)).ok).toBe(true);
    });

    it('never holds an answer', async () => {
      const ups = upstreams([a.hostPort]);
      await ups.exchange(question('example.org'), PLAIN);
      await ups.exchange(question('nope.example.org'), PLAIN);
      expect(ups.cachedFailures).toBe(0);
    });
  });

  it('leaves no socket or timer open once exchange (and the probe it sent) resolves and it is closed', async () => {
    // One instance per path: a failure leaves that upstream skipped in the instance it happened in.
    const made: Upstreams[] = [];
    const servers = (): Upstreams => {
      const u = upstreams([a.hostPort, b.hostPort]);
      made.push(u);
      return u;
    };
    const closed = await closedPort();
    const withClosed = upstreams([closed, b.hostPort]);
    const probing = new Upstreams({ servers: [a.hostPort, b.hostPort], timeoutMs: TIMEOUT_MS, log, health: new UpstreamHealth(SHORT_BACKOFF) });
    // dgram emits 'close' once the fd is closed; libuv frees the handle a loop turn later, so compare settled counts.
    await waitFor(() => a.openConnections === 0 && b.openConnections === 0, { what: 'authority connections to close' });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const before = netHandles();
    a.behave({ mode: 'drop' });
    await servers().exchange(question('example.org'), PLAIN);               // timeout, then b
    await probing.exchange(question('example.org'), PLAIN);                 // timeout, then b: a is down
    await delay(SHORT_BACKOFF.initialMs);
    await probing.exchange(question('www.example.org'), PLAIN);             // b, and a probe to a, which times out later
    a.behave({ mode: 'wrong-id' });
    await servers().exchange(question('www.example.org'), PLAIN);
    a.behave({ mode: 'truncate-udp' });
    await servers().exchange(question('cdn.example.org'), PLAIN);           // UDP, then TCP
    await withClosed.exchange(question('nope.example.org'), PLAIN);         // ECONNREFUSED
    // The pooled UDP sockets stay open for the next exchanges, until close().
    await delay(3 * TIMEOUT_MS);                                            // the probe's own timeout
    for (const u of made) u.close();
    probing.close();
    withClosed.close();
    // Other timers (vitest's own) may come and go: what we owe is no more handles than before.
    const settled = (): boolean => {
      const now = netHandles();
      return now.udp <= before.udp && now.tcp <= before.tcp && now.timers <= before.timers;
    };
    await waitFor(() => settled() && a.openConnections === 0, { timeoutMs: 1000, what: 'handles back to where they were' });
  });

  it('rejects an empty server list or a bad timeout at construction', () => {
    expect(() => upstreams([])).toThrow(UpstreamConfigError);
    expect(() => upstreams([a.hostPort], undefined, 0)).toThrow(UpstreamConfigError);
  });

  it('survives an onAttempt hook that throws', async () => {
    const result = await upstreams([a.hostPort], () => { throw new Error('metrics broke'); }).exchange(question('example.org'), PLAIN);
    expect(result.ok).toBe(true);
  });
});
