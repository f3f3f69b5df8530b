/**
 * The parts of listen.workers one at a time, without processes: the IPC
 * message checks, a worker's share of the limits, the bounded requests, the
 * fan-out's acknowledgements, the replicas, the summed metrics and the log
 * output's line-aligned writes.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';

import { parseConfig } from '../../src/config/load.js';
import { GrantStore } from '../../src/grants/grants.js';
import { linePieces } from '../../src/telemetry/log-output.js';
import { FanOut, FannedGrantStore, FannedQuarantine, type FanOutTarget } from '../../src/workers/fanout.js';
import { IPC_VERSION, isFromWorker, isToWorker, type ToWorker, type Unversioned } from '../../src/workers/messages.js';
import { combineMetrics } from '../../src/workers/metrics.js';
import { PendingRequests } from '../../src/workers/pending.js';
import { restartDelayMs } from '../../src/workers/primary.js';
import { RemoteDecisionSink, RemoteHolds, RemoteSetWriter } from '../../src/workers/remote.js';
import { applyGrantOp, grantSnapshot, ReplicaQuarantine } from '../../src/workers/replicas.js';
import { workerShare } from '../../src/workers/share.js';
import type { Agent } from '../../src/pipeline/types.js';

const silent = pino({ level: 'silent' });

describe('IPC messages', () => {
  it('accepts what the senders write, refuses another version, an unknown type or a field of the wrong type', () => {
    expect(isToWorker({ v: IPC_VERSION, t: 'grant', seq: 1, op: { kind: 'revoke', id: 'cmd_1' } })).toBe(true);
    expect(isToWorker({ v: IPC_VERSION, t: 'quarantine', seq: 2, state: { agents: ['ci-1'], clients: [], cidrs: [] } })).toBe(true);
    expect(isFromWorker({ v: IPC_VERSION, t: 'ack', seq: 3 })).toBe(true);
    expect(isFromWorker({ v: IPC_VERSION, t: 'hold.wait', id: 1, query: { agent: 'a', entry: 'a', role: 'r', client: '127.0.0.1', qname: 'x.example', qtype: 1 }, limits: { timeoutMs: 4000, maxPending: 1, maxPendingPerAgent: 1, keepOpenMs: 1 } })).toBe(true);

    expect(isToWorker({ v: 2, t: 'grant', seq: 1, op: { kind: 'revoke', id: 'cmd_1' } })).toBe(false);
    expect(isToWorker({ v: IPC_VERSION, t: 'format-disk' })).toBe(false);
    expect(isToWorker({ v: IPC_VERSION, t: 'grant', seq: '1', op: { kind: 'revoke', id: 'cmd_1' } })).toBe(false);
    expect(isToWorker({ v: IPC_VERSION, t: 'grant', seq: 1, op: { kind: 'add', agent: 'a', patterns: [{ scope: 'name' }], ref: { id: 'x', expiresAt: 1 }, now: 1, source: 'command' } })).toBe(false);
    expect(isFromWorker({ v: IPC_VERSION, t: 'toString' })).toBe(false);
    expect(isFromWorker(null)).toBe(false);
    expect(isFromWorker('ack')).toBe(false);
  });
});

describe('workerShare', () => {
  const config = parseConfig([
    'version: 1',
    'upstreams: { servers: ["127.0.0.1:53"] }',
    'cache: { max_entries: 1001, max_bytes: 64MiB }',
    'limits: { client_qps: 0, unknown_qps: 3, tcp_connections: 1000, tcp_connections_per_client: 1 }',
    'clients: [{ name: a, match: ["10.0.0.1"], role: r }]',
    'roles: { r: { tunneling: { max_names_per_domain: 301 } } }',
  ].join('\n'), 'share.yaml');

  it('gives each worker ceil(limit / N), at least 1, keeping 0 (off) as 0', () => {
    const share = workerShare(config, 2);
    expect(share.cache).toEqual({ maxEntries: 501, maxBytes: 32 * 1024 * 1024 });
    expect(share.limits).toMatchObject({ clientQps: 0, unknownQps: 2, tcpConnections: 500, tcpConnectionsPerClient: 1 });
    expect(share.roles.get('r')!.tunneling).toMatchObject({ maxNamesPerDomain: 151 });
    // What is not a count stays.
    expect(share.limits.inFlightPerClient).toBe(config.limits.inFlightPerClient);
    expect(workerShare(config, 1)).toBe(config);
  });
});

describe('PendingRequests', () => {
  it('answers each request once, by its answer or its timeout, and refuses beyond its bound', async () => {
    vi.useFakeTimers();
    try {
      const pending = new PendingRequests<string>(2);
      const a = pending.open(100, () => 'timeout')!;
      const b = pending.open(100, () => 'timeout')!;
      expect(pending.open(100, () => 'timeout')).toBeNull();
      expect(pending.settle(a.id, 'answer')).toBe(true);
      expect(pending.settle(a.id, 'again')).toBe(false);
      vi.advanceTimersByTime(100);
      expect(await a.answer).toBe('answer');
      expect(await b.answer).toBe('timeout');
      expect(pending.size).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

/** Workers as the fan-out sees them, recording what they were sent. */
function fakeTargets(n: number) {
  const sent: Array<Array<Unversioned<ToWorker>>> = Array.from({ length: n }, () => []);
  const killed: number[] = [];
  const targets: FanOutTarget[] = sent.map((box, index) => ({ index, pid: 1000 + index, send: (m) => void box.push(m), kill: () => void killed.push(index) }));
  return { sent, killed, targets };
}

describe('FanOut', () => {
  it('is done once every worker acknowledged; a worker that does not in time is killed', async () => {
    vi.useFakeTimers();
    try {
      const { sent, killed, targets } = fakeTargets(2);
      const fan = new FanOut(() => targets, silent, 1000);
      let done = false;
      void fan.send((seq) => ({ t: 'grant', seq, op: { kind: 'revoke', id: 'x' } })).then(() => (done = true));
      expect(sent.map((s) => s.length)).toEqual([1, 1]);
      fan.ack(0, 1);
      await Promise.resolve();
      expect(done).toBe(false);
      fan.ack(1, 1);
      await vi.advanceTimersByTimeAsync(0);
      expect(done).toBe(true);
      expect(killed).toEqual([]);

      let second = false;
      void fan.send((seq) => ({ t: 'grant', seq, op: { kind: 'revoke', id: 'y' } })).then(() => (second = true));
      fan.ack(0, 2);
      await vi.advanceTimersByTimeAsync(999);
      expect(second).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(second).toBe(true);
      expect(killed).toEqual([1]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('does not wait for a worker that exited', async () => {
    const { targets } = fakeTargets(2);
    const fan = new FanOut(() => targets, silent, 60_000);
    const done = fan.send((seq) => ({ t: 'grant', seq, op: { kind: 'revoke', id: 'x' } }));
    fan.ack(0, 1);
    fan.forget(1);
    await done;
  });
});

describe('FannedGrantStore and the replicas', () => {
  it('sends every change; lists a grant only once acknowledged; a snapshot rebuilds the same store', async () => {
    const { sent, targets } = fakeTargets(1);
    const fan = new FanOut(() => targets, silent, 60_000);
    const store = new FannedGrantStore(fan);
    const now = Date.now();
    const ref = { id: 'cmd_1', command: 'curl x', approvedBy: 'alice', expiresAt: now + 60_000 };
    store.add('ci-1', [{ scope: 'name', name: 'api.example.com' }, { scope: 'domain', name: 'example.org' }], ref, now);
    expect(store.list(now)).toEqual([]);
    expect(store.find('ci-1', 'api.example.com', now)).toEqual(ref);
    fan.ack(0, 1);
    await fan.settled();
    await Promise.resolve();
    expect(store.list(now).map((g) => g.name)).toEqual(['api.example.com', 'example.org']);

    // A replica fed the same changes answers the same.
    const replica = new GrantStore();
    for (const m of sent[0]!) if (m.t === 'grant') applyGrantOp(replica, m.op);
    expect(replica.find('ci-1', 'www.example.org', now)).toEqual(ref);
    // And one started from a snapshot.
    const fresh = new GrantStore();
    for (const op of grantSnapshot(store.everything(now), now)) applyGrantOp(fresh, op);
    expect(fresh.list(now)).toEqual(store.list(now));

    store.revoke('cmd_1');
    for (const m of sent[0]!.slice(1)) if (m.t === 'grant') applyGrantOp(replica, m.op);
    expect(replica.find('ci-1', 'api.example.com', now)).toBeUndefined();
  });

  it('sends the quarantine whole on a change, and shows the old list until it is acknowledged', async () => {
    const { sent, targets } = fakeTargets(1);
    const fan = new FanOut(() => targets, silent, 60_000);
    const q = new FannedQuarantine(fan);
    q.set('agent', 'ci-1', true);
    expect(q.list().agents).toEqual([]);
    expect(q.set('agent', 'ci-1', true).changed).toBe(false);
    expect(sent[0]).toHaveLength(1);
    fan.ack(0, 1);
    await q.published();
    await Promise.resolve();
    expect(q.list().agents).toEqual(['ci-1']);

    const replica = new ReplicaQuarantine();
    const m = sent[0]![0]!;
    if (m.t !== 'quarantine') throw new Error('expected a quarantine message');
    replica.replace(m.state);
    const agent = { name: 'ci-1', entry: 'ci-1', address: '10.0.0.1' } as unknown as Agent;
    expect(replica.match(agent)).toBe('agent ci-1');
    replica.replace({ agents: [], clients: [], cidrs: ['10.0.0.0/8'] });
    expect(replica.match(agent)).toBe('cidr 10.0.0.0/8');
  });
});

describe('remote stages', () => {
  it('a hold waits for the primary\'s outcome; past hold_timeout and slack it is answered as timed out', async () => {
    vi.useFakeTimers();
    try {
      const sent: unknown[] = [];
      const holds = new RemoteHolds((m) => (sent.push(m), true));
      const limits = { timeoutMs: 1000, maxPending: 1, maxPendingPerAgent: 1, keepOpenMs: 1 };
      const q = { agent: 'a', entry: 'a', role: 'r', client: '127.0.0.1', qname: 'x.example', qtype: 1 };
      const answered = holds.wait(q, limits);
      const lost = holds.wait(q, limits);
      const [first] = sent as Array<{ id: number }>;
      holds.answered(first!.id, { kind: 'denied', holdId: 'h1' });
      expect(await answered).toEqual({ kind: 'denied', holdId: 'h1' });
      await vi.advanceTimersByTimeAsync(3000);
      expect(await lost).toEqual({ kind: 'timeout', holdId: '' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('a firewall write resolves when the primary wrote it, and rejects with its error', async () => {
    const sent: Array<{ id: number }> = [];
    const writer = new RemoteSetWriter((m) => (sent.push(m as { id: number }), true));
    const element = { set: 'coding_v4', family: 4 as const, address: '192.0.2.1', expiresAt: Date.now() + 1000 };
    const ok = writer.write([element]);
    const bad = writer.write([element]);
    writer.written(sent[0]!.id, null);
    writer.written(sent[1]!.id, 'nft failed');
    await expect(ok).resolves.toBeUndefined();
    await expect(bad).rejects.toThrow('nft failed');
  });

  it('decision lines go only while wanted, in batches, and a full queue drops and counts', async () => {
    vi.useFakeTimers();
    try {
      const batches: number[] = [];
      let open = true;
      const sink = new RemoteDecisionSink((m) => {
        if (m.t === 'decisions') batches.push(m.events.length);
        return open;
      });
      expect(sink.listening).toBe(false);
      sink.want(true);
      const event = { line: '{}\n', agent: 'a', role: 'r', action: 'forward' as const, reason: 'allowlist' as const };
      for (let i = 0; i < 300; i++) sink.publish(event);
      await vi.advanceTimersByTimeAsync(10);
      expect(batches).toEqual([256, 44]);
      open = false;
      for (let i = 0; i < 2100; i++) sink.publish(event);
      expect(sink.dropped).toBe(100);
      sink.close();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('combineMetrics', () => {
  function side(build: (r: Registry) => void): Promise<unknown> {
    const r = new Registry();
    build(r);
    return r.getMetricsAsJSON();
  }

  it('sums the query path over workers, takes control state from the primary only, labels process metrics by worker', async () => {
    const registry = (queries: number, holds: number, upstreamUp: number) => (r: Registry) => {
      new Counter({ name: 'intentdns_queries_total', help: 'q', registers: [r] }).inc(queries);
      new Gauge({ name: 'intentdns_holds_pending', help: 'h', registers: [r] }).set(holds);
      new Gauge({ name: 'intentdns_build_info', help: 'b', labelNames: ['version'], registers: [r] }).set({ version: '1' }, 1);
      new Gauge({ name: 'intentdns_upstream_up', help: 'u', labelNames: ['upstream'], registers: [r] }).set({ upstream: 'x' }, upstreamUp);
      new Gauge({ name: 'process_resident_memory_bytes', help: 'm', registers: [r] }).set(100 + queries);
    };
    const primary = await side(registry(0, 3, 1));
    const w0 = await side(registry(5, 0, 1));
    const w1 = await side(registry(7, 0, 0));
    const text = await combineMetrics(primary as never, new Map([[0, w0 as never], [1, w1 as never]])).metrics();
    expect(text).toMatch(/^intentdns_queries_total 12$/m);
    expect(text).toMatch(/^intentdns_holds_pending 3$/m);
    expect(text).toMatch(/^intentdns_build_info\{version="1"\} 1$/m);
    expect(text).toMatch(/^intentdns_upstream_up\{upstream="x"\} 0$/m);
    expect(text).toMatch(/^process_resident_memory_bytes\{worker="primary"\} 100$/m);
    expect(text).toMatch(/^process_resident_memory_bytes\{worker="0"\} 105$/m);
    expect(text).toMatch(/^process_resident_memory_bytes\{worker="1"\} 107$/m);
  });
});

describe('restartDelayMs', () => {
  it('replaces a worker at once, then backs off 1 s doubling to 30 s while it keeps dying', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20].map(restartDelayMs)).toEqual([0, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });
});

describe('linePieces', () => {
  it('cuts between lines into pieces of at most the bound; a longer line goes alone', () => {
    const line = (n: number, c: string) => `${c.repeat(n - 1)}\n`;
    const text = line(3000, 'a') + line(1000, 'b') + line(200, 'c') + line(5000, 'd') + line(10, 'e');
    const pieces = linePieces(text, 4096);
    expect(pieces.join('')).toBe(text);
    expect(pieces.map((p) => Buffer.byteLength(p))).toEqual([4000, 200, 5000, 10]);
    for (const p of pieces) expect(p.endsWith('\n')).toBe(true);
    expect(linePieces('é'.repeat(3000) + '\n', 4096)).toHaveLength(1);
  });
});
