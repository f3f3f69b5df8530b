import { afterEach, describe, expect, it } from 'vitest';
import { listenUdp, type UdpListener } from '../../src/receive/udp.js';
import type { DropReason, MessageHandler, Transport } from '../../src/receive/types.js';
import {
  UdpClient, capturingLog, delay, echoHandler, echoReply, gate, messageId, query, recordingHandler, silentLog, waitFor,
} from './helpers.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((x) => x.close()));
});

async function server(
  host: string,
  family: 4 | 6,
  handler: MessageHandler,
  extra: Partial<Parameters<typeof listenUdp>[4]> = {},
): Promise<UdpListener> {
  const l = await listenUdp(host, 0, family, handler, { log: silentLog, ...extra });
  open.push(l);
  return l;
}

async function client(family: 4 | 6, localAddress?: string): Promise<UdpClient> {
  const c = await UdpClient.open(family, localAddress);
  open.push(c);
  return c;
}

describe('UDP listener', () => {
  it.each([
    ['127.0.0.1', 4],
    ['::1', 6],
  ] as const)('answers a query on %s with what the handler returns', async (host, family) => {
    const { handler, calls } = recordingHandler();
    const l = await server(host, family, handler);
    expect(l.port).toBeGreaterThan(0);
    const c = await client(family);
    const reply = await c.exchange(query(0x1234), l.port, host);
    expect(messageId(reply)).toBe(0x1234);
    expect(reply[2]! & 0x80).toBe(0x80);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.peer).toMatchObject({ address: host, family, transport: 'udp' });
  });

  it('sends nothing when the handler returns null', async () => {
    const l = await server('127.0.0.1', 4, async (m, p) => (messageId(m) === 1 ? null : echoHandler(m, p)));
    const c = await client(4);
    await c.send(query(1), l.port, '127.0.0.1');
    expect(messageId(await c.exchange(query(2), l.port, '127.0.0.1'))).toBe(2);
    await delay(20);
    expect(c.received.map(messageId)).toEqual([2]);
  });

  it('drops beyond the per-source cap while another source still gets answers', async () => {
    const hold = gate();
    const drops: Array<[DropReason, Transport]> = [];
    const { handler, calls } = recordingHandler();
    const gated: MessageHandler = async (m, p) => {
      if (p.address === '127.0.0.1') await hold.wait;
      return handler(m, p);
    };
    const l = await server('127.0.0.1', 4, gated, {
      limits: { maxInFlightPerClient: 3 },
      onDrop: (r, t) => drops.push([r, t]),
    });
    const flooder = await client(4, '127.0.0.1');
    for (let id = 1; id <= 5; id++) await flooder.send(query(id), l.port, '127.0.0.1');
    await waitFor(() => drops.length === 2, 'two drops');
    expect(drops).toEqual([['client_limit', 'udp'], ['client_limit', 'udp']]);

    const other = await client(4, '127.0.0.2');
    expect(messageId(await other.exchange(query(99), l.port, '127.0.0.1'))).toBe(99);

    hold.open();
    await waitFor(() => flooder.received.length === 3, 'the three accepted queries answered');
    expect(flooder.received.map(messageId).sort()).toEqual([1, 2, 3]);
    // Slots are given back: the flooder is served again.
    expect(messageId(await flooder.exchange(query(6), l.port, '127.0.0.1'))).toBe(6);
  });

  it('drops beyond the global cap', async () => {
    const hold = gate();
    const drops: DropReason[] = [];
    const l = await server('127.0.0.1', 4, recordingHandler(hold).handler, {
      limits: { maxInFlight: 2 },
      onDrop: (r) => drops.push(r),
    });
    const a = await client(4, '127.0.0.1');
    const b = await client(4, '127.0.0.2');
    await a.send(query(1), l.port, '127.0.0.1');
    await a.send(query(2), l.port, '127.0.0.1');
    await b.send(query(3), l.port, '127.0.0.1');
    await waitFor(() => drops.length === 1, 'one drop');
    expect(drops).toEqual(['global_limit']);
    hold.open();
    await waitFor(() => a.received.length === 2, 'answers');
    expect(b.received).toHaveLength(0);
  });

  it('logs a failing handler once per failure, counts it, sends nothing and keeps serving', async () => {
    const { log, lines } = capturingLog();
    const drops: DropReason[] = [];
    const handler: MessageHandler = async (m) => {
      if (messageId(m) === 1) throw new Error('boom');
      if (messageId(m) === 2) return (() => { throw new Error('sync boom'); })();
      return echoHandler(m, { address: '', port: 0, family: 4, transport: 'udp' });
    };
    const l = await server('127.0.0.1', 4, handler, { log, onDrop: (r) => drops.push(r) });
    const c = await client(4);
    await c.send(query(1), l.port, '127.0.0.1');
    await c.send(query(2), l.port, '127.0.0.1');
    expect(messageId(await c.exchange(query(3), l.port, '127.0.0.1'))).toBe(3);
    await waitFor(() => drops.length === 2, 'two handler errors');
    expect(drops).toEqual(['handler_error', 'handler_error']);
    expect(c.received.map(messageId)).toEqual([3]);
    expect(lines.filter((l) => l.level === 50)).toHaveLength(2);
  });

  it('sends a reply the handler returns at once (no promise) and then one it returns later', async () => {
    const peerless = { address: '', port: 0, family: 4 as const, transport: 'udp' as const };
    const handler: MessageHandler = (m) => (messageId(m) === 1 ? echoHandler(m, peerless) : echoReply(m));
    const l = await server('127.0.0.1', 4, handler);
    const c = await client(4);
    expect(messageId(await c.exchange(query(2), l.port, '127.0.0.1'))).toBe(2);
    expect(messageId(await c.exchange(query(1), l.port, '127.0.0.1'))).toBe(1);
    expect(messageId(await c.exchange(query(3), l.port, '127.0.0.1'))).toBe(3);
  });

  it('survives a handler that throws synchronously', async () => {
    const l = await server('127.0.0.1', 4, (() => { throw new Error('not even async'); }) as MessageHandler);
    const c = await client(4);
    await c.send(query(1), l.port, '127.0.0.1');
    await delay(20);
    // Still bound and receiving: a second datagram does not crash either.
    await c.send(query(2), l.port, '127.0.0.1');
    await delay(20);
    expect(c.received).toHaveLength(0);
  });

  it('on close, lets a reply in flight go out within the grace period, then stops', async () => {
    const hold = gate();
    const l = await listenUdp('127.0.0.1', 0, 4, recordingHandler(hold).handler, { log: silentLog });
    const c = await client(4);
    await c.send(query(7), l.port, '127.0.0.1');
    await delay(20);
    const closed = l.close(1000);
    await delay(10);
    hold.open();
    await closed;
    await waitFor(() => c.received.length === 1, 'reply sent during grace');
    // The port is free again.
    const again = await listenUdp('127.0.0.1', l.port, 4, echoHandler, { log: silentLog });
    await again.close();
  });

  it('on close, gives up on a reply that outlives the grace period', async () => {
    const never = gate();
    const l = await listenUdp('127.0.0.1', 0, 4, recordingHandler(never).handler, { log: silentLog });
    const c = await client(4);
    await c.send(query(7), l.port, '127.0.0.1');
    await delay(20);
    const started = Date.now();
    await l.close(50);
    expect(Date.now() - started).toBeLessThan(1000);
    never.open(); // the late reply must not throw on the closed socket
    await delay(20);
    expect(c.received).toHaveLength(0);
  });
});
