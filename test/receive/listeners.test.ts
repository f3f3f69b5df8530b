import dgram from 'node:dgram';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { HostPort } from '../../src/config/types.js';
import { ListenError } from '../../src/receive/errors.js';
import { startListeners, type Listeners } from '../../src/receive/listeners.js';
import type { DropReason, Transport } from '../../src/receive/types.js';
import {
  TcpClient, UdpClient, delay, echoHandler, framed, gate, messageId, query, recordingHandler, settledHandleCounts, silentLog, waitFor, waitForHandleCounts,
} from './helpers.js';

const v4 = (port = 0, host = '127.0.0.1'): HostPort => ({ host, port, family: 4, text: `${host}:${port}` });
const v6 = (port = 0, host = '::1'): HostPort => ({ host, port, family: 6, text: `[${host}]:${port}` });

const started: Listeners[] = [];
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
  await Promise.all(started.splice(0).map((l) => l.close()));
});

async function start(addresses: HostPort[], extra: Partial<Parameters<typeof startListeners>[2]> = {}): Promise<Listeners> {
  const l = await startListeners(addresses, echoHandler, { log: silentLog, closeGraceMs: 200, ...extra });
  started.push(l);
  return l;
}

function bindUdp(port: number, host: string): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.once('error', reject);
    s.bind(port, host, () => resolve(s));
  });
}

function listenNet(port: number, host: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(port, host, () => resolve(s));
  });
}

describe('startListeners', () => {
  it('serves UDP and TCP on the same port for every IPv4 and IPv6 address', async () => {
    const l = await start([v4(), v6()]);
    const bound = l.addresses();
    expect(bound.map((a) => a.host)).toEqual(['127.0.0.1', '::1']);
    for (const a of bound) {
      expect(a.port).toBeGreaterThan(0);
      expect(a.text).toBe(a.family === 6 ? `[::1]:${a.port}` : `127.0.0.1:${a.port}`);
      const u = await UdpClient.open(a.family);
      cleanup.push(() => u.close());
      expect(messageId(await u.exchange(query(a.family), a.port, a.host))).toBe(a.family);
      const t = await TcpClient.connect(a.port, a.host);
      cleanup.push(() => t.destroy());
      await t.write(framed(query(a.family + 10)));
      expect(messageId((await t.waitReplies(1))[0]!)).toBe(a.family + 10);
    }
  });

  it('reports a bind failure as ListenError naming the address, and closes what it had bound', async () => {
    const before = await settledHandleCounts();
    const blocker = await bindUdp(0, '127.0.0.1');
    const taken = blocker.address().port;
    cleanup.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const err = await startListeners([v6(), v4(taken)], echoHandler, { log: silentLog }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ListenError);
    expect(err).toMatchObject({
      code: 'IDNS_ERR_LISTEN',
      address: `127.0.0.1:${taken}`,
      transport: 'udp',
      systemCode: 'EADDRINUSE',
    });
    expect((err as Error).message).toContain(`127.0.0.1:${taken}`);
    // Only the blocker remains: the [::1] pair bound first was closed.
    await waitForHandleCounts({ ...before, UDPWrap: before.UDPWrap! + 1 });
  });

  it('closes its own UDP socket when the TCP bind on the same port fails', async () => {
    const blocker = await listenNet(0, '127.0.0.1');
    const taken = (blocker.address() as net.AddressInfo).port;
    cleanup.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const err = await startListeners([v4(taken)], echoHandler, { log: silentLog }).catch((e: unknown) => e);
    expect(err).toMatchObject({ address: `127.0.0.1:${taken}`, transport: 'tcp', systemCode: 'EADDRINUSE' });
    // The UDP half was released: we can bind it ourselves.
    const again = await bindUdp(taken, '127.0.0.1');
    again.close();
  });

  it('names a missing local address (EADDRNOTAVAIL) the same way', async () => {
    const err = await startListeners([v4(0, '192.0.2.1')], echoHandler, { log: silentLog }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ListenError);
    expect(err).toMatchObject({ address: '192.0.2.1:0', systemCode: 'EADDRNOTAVAIL' });
  });

  it('shares the per-client in-flight cap across addresses and reports drops through the callback', async () => {
    const hold = gate();
    const drops: Array<[DropReason, Transport]> = [];
    const l = await startListeners([v4(), v4(0, '127.0.0.3')], recordingHandler(hold).handler, {
      log: silentLog,
      inFlight: { maxInFlightPerClient: 1 },
      onDrop: (r, t) => drops.push([r, t]),
    });
    started.push(l);
    const [a, b] = l.addresses();
    const c = await UdpClient.open(4, '127.0.0.1');
    cleanup.push(() => c.close());
    await c.send(query(1), a!.port, a!.host);
    await c.send(query(2), b!.port, b!.host);
    await waitFor(() => drops.length === 1, 'a drop');
    expect(drops).toEqual([['client_limit', 'udp']]);
    hold.open();
    await waitFor(() => c.received.length === 1, 'the accepted query answered');
  });

  it('shares one in-flight budget per client between UDP and TCP: TCP waits (stops reading), then goes on', async () => {
    const hold = gate();
    const { handler, calls } = recordingHandler(hold);
    const l = await startListeners([v4()], handler, { log: silentLog, inFlight: { maxInFlightPerClient: 2 } });
    started.push(l);
    const a = l.addresses()[0]!;
    const u = await UdpClient.open(4, '127.0.0.1');
    cleanup.push(() => u.close());
    const t = await TcpClient.connect(a.port, a.host, '127.0.0.1');
    cleanup.push(() => t.destroy());
    await u.send(query(1), a.port, a.host);
    await waitFor(() => calls.length === 1, 'the UDP query in flight');
    // Two more over TCP: one fits the budget of 2, the other waits for a slot.
    await t.write(Buffer.concat([framed(query(2)), framed(query(3))]));
    await waitFor(() => calls.length === 2, 'one TCP query in flight');
    await delay(50);
    expect(calls.map((c) => c.id)).toEqual([1, 2]);
    // Another client is not held up by this one's budget.
    const other = await UdpClient.open(4, '127.0.0.2');
    cleanup.push(() => other.close());
    await other.send(query(4), a.port, a.host);
    await waitFor(() => calls.length === 3, "another client's query");
    hold.open();
    expect((await t.waitReplies(2)).map(messageId).sort()).toEqual([2, 3]);
    await waitFor(() => u.received.length === 1, 'the UDP answer');
  });

  it('tells strangers from known clients at TCP accept: one answer each, and a budget of their own', async () => {
    const drops: DropReason[] = [];
    const l = await start([v4()], {
      tcp: { maxConnections: 2, maxConnectionsPerClient: 2, maxUnknownConnections: 2, maxUnknownConnectionsPerSource: 1 },
      isKnown: (address) => address === '127.0.0.1',
      onDrop: (r) => drops.push(r),
    });
    const a = l.addresses()[0]!;
    const stranger = await TcpClient.connect(a.port, a.host, '127.0.0.9');
    cleanup.push(() => stranger.destroy());
    const second = await TcpClient.connect(a.port, a.host, '127.0.0.9');
    await second.waitClosed();
    expect(drops).toEqual(['unknown_limit']);
    const other = await TcpClient.connect(a.port, a.host, '127.0.0.8');
    cleanup.push(() => other.destroy());
    // The strangers' slots are full; the agent's two are untouched.
    const agents = await Promise.all([1, 2].map(() => TcpClient.connect(a.port, a.host, '127.0.0.1')));
    for (const c of agents) cleanup.push(() => c.destroy());
    for (const [i, c] of agents.entries()) await c.write(Buffer.concat([framed(query(10 + i)), framed(query(20 + i))]));
    for (const c of agents) expect(await c.waitReplies(2)).toHaveLength(2);
    // A stranger gets its first query answered, and then the connection ends.
    await stranger.write(Buffer.concat([framed(query(30)), framed(query(31))]));
    await stranger.waitClosed();
    expect(stranger.replies.map(messageId)).toEqual([30]);
  });

  it('applies new limits on setLimits (a reload)', async () => {
    const l = await start([v4()], { tcp: { maxConnections: 1 } });
    const a = l.addresses()[0]!;
    const first = await TcpClient.connect(a.port, a.host);
    cleanup.push(() => first.destroy());
    const refused = await TcpClient.connect(a.port, a.host);
    await refused.waitClosed();
    l.setLimits({ tcp: { maxConnections: 2 } });
    const second = await TcpClient.connect(a.port, a.host);
    cleanup.push(() => second.destroy());
    await second.write(framed(query(5)));
    expect(messageId((await second.waitReplies(1))[0]!)).toBe(5);
  });

  it('keeps running when a metrics callback throws', async () => {
    const l = await start([v4()], {
      tcp: { maxConnections: 1 },
      onDrop: () => {
        throw new Error('metrics bug');
      },
    });
    const a = l.addresses()[0]!;
    const first = await TcpClient.connect(a.port, a.host);
    cleanup.push(() => first.destroy());
    const refused = await TcpClient.connect(a.port, a.host);
    await refused.waitClosed();
    await first.write(framed(query(3)));
    expect(messageId((await first.waitReplies(1))[0]!)).toBe(3);
  });
});

describe('Listeners.close', () => {
  it('leaves no sockets or timers behind, and ends open connections', async () => {
    const before = await settledHandleCounts();
    const l = await startListeners([v4(), v6()], echoHandler, { log: silentLog });
    const [a, b] = l.addresses();
    const idle = await TcpClient.connect(a!.port, a!.host);
    const used = await TcpClient.connect(b!.port, b!.host);
    await used.write(framed(query(1)));
    await used.waitReplies(1);
    const u = await UdpClient.open(4);
    await u.exchange(query(2), a!.port, a!.host);
    await u.close();

    await l.close();
    await idle.waitClosed();
    await used.waitClosed();
    expect(l.addresses()).toEqual([]);
    await waitForHandleCounts(before);
    await expect(l.close()).resolves.toBeUndefined(); // idempotent
  });

  it('lets an answer in flight be written within the grace period', async () => {
    const hold = gate();
    const l = await startListeners([v4()], recordingHandler(hold).handler, { log: silentLog, closeGraceMs: 2000 });
    const a = l.addresses()[0]!;
    const t = await TcpClient.connect(a.port, a.host);
    cleanup.push(() => t.destroy());
    const u = await UdpClient.open(4);
    cleanup.push(() => u.close());
    await t.write(framed(query(5)));
    await u.send(query(6), a.port, a.host);
    await delay(20);
    const closing = l.close();
    await delay(20);
    hold.open();
    await closing;
    await t.waitClosed();
    expect(t.replies.map(messageId)).toEqual([5]);
    await waitFor(() => u.received.length === 1, 'UDP answer');
  });
});
