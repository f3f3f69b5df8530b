/**
 * The proxy over both transports and both address families: UDP and TCP on
 * 127.0.0.1 and [::1], TCP pipelining, answers too big for the client's UDP
 * size, an upstream that truncates, and no handle left behind after close.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Zone } from '../helpers/authority.js';
import { TcpConnection, framed } from '../helpers/client.js';
import { decodePacket, queryBytes } from '../helpers/packets.js';
import { addresses, startProxy, type Proxy } from '../helpers/proxy.js';
import { waitFor } from '../helpers/wait-for.js';

const BIG = Array.from({ length: 60 }, (_, i) => `203.0.113.${i + 1}`);

const HUGE = Array.from({ length: 120 }, (_, i) => `198.51.100.${i + 1}`);

const ZONE: Zone = {
  'huge.test': HUGE.map((data) => ({ type: 'A', data })),
  'one.test': [{ type: 'A', data: '192.0.2.1' }],
  'two.test': [{ type: 'A', data: '192.0.2.2' }],
  'three.test': [{ type: 'A', data: '192.0.2.3' }],
  'four.test': [{ type: 'A', data: '192.0.2.4' }],
  'five.test': [{ type: 'A', data: '192.0.2.5' }],
  'v6.test': [{ type: 'AAAA', data: '2001:db8::6' }],
  'big.test': BIG.map((data) => ({ type: 'A', data })),
  'trunc.test': [{ type: 'A', data: '192.0.2.99' }],
};

const YAML = `
  version: 1
  upstreams: { servers: UPSTREAMS, timeout: 500ms }
  clients:
    - { name: "agent-{ip}", match: ["127.0.0.1/32", "::1/128"], role: coding }
  roles:
    coding: { allow: ["*.test"] }
`;

describe('transports', () => {
  let proxy: Proxy;

  beforeAll(async () => {
    proxy = await startProxy({ zone: ZONE, yaml: YAML, listen: ['127.0.0.1', '::1'] });
  });
  afterAll(() => proxy.close());

  it.each([
    ['udp', 4, '127.0.0.1'],
    ['tcp', 4, '127.0.0.1'],
    ['udp', 6, '::1'],
    ['tcp', 6, '::1'],
  ] as const)('answers over %s on IPv%i', async (transport, family, client) => {
    const r = await proxy.query('v6.test', 'AAAA', { transport, family, edns: true });
    expect(r.packet.rcode).toBe('NOERROR');
    expect(addresses(r.packet)).toEqual(['2001:db8::6']);
    expect(r.log).toMatchObject({ client, transport, agent: `agent-${client}`, action: 'forward', answers: ['2001:db8::6'] });
  });

  it('answers queries pipelined on one TCP connection, each matched by id', async () => {
    const names = ['one.test', 'two.test', 'three.test', 'four.test', 'five.test'];
    const conn = await TcpConnection.open(proxy.target(4));
    try {
      // All five frames in one write: the proxy must split them and may answer in any order.
      await conn.write(Buffer.concat(names.map((name, i) => framed(queryBytes({ name, id: 100 + i })))));
      const replies = (await conn.waitReplies(names.length)).map(decodePacket);
      const byId = new Map(replies.map((p) => [p.id, p]));
      names.forEach((name, i) => {
        const p = byId.get(100 + i);
        expect(p?.questions[0]?.name, `id ${100 + i}`).toBe(name);
        expect(addresses(p!)).toEqual([`192.0.2.${i + 1}`]);
      });
      expect(conn.closed).toBe(false);   // the connection stays open for more
    } finally {
      await conn.close();
    }
  });

  it('sets TC and sends no records when a big answer does not fit 512 bytes of UDP', async () => {
    const r = await proxy.query('big.test', 'A', { transport: 'udp' });
    expect(r.packet.flag_tc).toBe(true);
    expect(r.packet.answers).toEqual([]);
    expect(r.packet.questions[0]?.name).toBe('big.test');
    expect(r.bytes.length).toBeLessThanOrEqual(512);
  });

  it('sends the whole big answer over TCP', async () => {
    const r = await proxy.query('big.test', 'A', { transport: 'tcp' });
    expect(r.packet.flag_tc).toBe(false);
    expect(addresses(r.packet)).toEqual(BIG);
  });

  it('sends the whole big answer over UDP when EDNS offers 4096 bytes', async () => {
    const r = await proxy.query('big.test', 'A', { transport: 'udp', edns: { udpSize: 4096 } });
    expect(r.packet.flag_tc).toBe(false);
    expect(addresses(r.packet)).toEqual(BIG);
    expect(r.bytes.length).toBeGreaterThan(512);
  });

  it('gets an answer bigger than its own UDP size from upstream over TCP, and gives it whole to a 4096-byte EDNS client', async () => {
    // About 2 kB: more than the 1232 bytes the proxy offers upstream, less than the client's 4096.
    const r = await proxy.query('huge.test', 'A', { transport: 'udp', edns: { udpSize: 4096 } });
    expect(r.packet.flag_tc).toBe(false);
    expect(addresses(r.packet)).toEqual(HUGE);
    expect(proxy.authority.queries.filter((q) => q.name === 'huge.test').map((q) => q.transport)).toEqual(['udp', 'tcp']);
    // A 1232-byte client gets TC (from the cache) and comes back over TCP.
    const small = await proxy.query('huge.test', 'A', { transport: 'udp', edns: true });
    expect(small.packet.flag_tc).toBe(true);
    expect(small.packet.answers).toEqual([]);
    const tcp = await proxy.query('huge.test', 'A', { transport: 'tcp', edns: true });
    expect(addresses(tcp.packet)).toEqual(HUGE);
    expect(tcp.log?.upstream).toBe('cache');
  });

  it('retries over TCP when the upstream truncates over UDP; the client gets the full answer', async () => {
    proxy.authority.behave({ mode: 'truncate-udp' });
    try {
      const r = await proxy.query('trunc.test', 'A');
      expect(r.packet.rcode).toBe('NOERROR');
      expect(r.packet.flag_tc).toBe(false);
      expect(addresses(r.packet)).toEqual(['192.0.2.99']);
      const asked = proxy.authority.queries.filter((q) => q.name === 'trunc.test').map((q) => q.transport);
      expect(asked).toEqual(['udp', 'tcp']);
    } finally {
      proxy.authority.behave({ mode: 'normal' });
    }
  });
});

describe('an IPv6 upstream', () => {
  it('is asked over [::1], UDP and TCP', async () => {
    const proxy = await startProxy({ zone: ZONE, yaml: YAML, authorities: [{ host: '::1' }] });
    try {
      expect(proxy.config.upstreams.servers.map((s) => s.text)).toEqual([proxy.authority.hostPort.text]);
      const r = await proxy.query('one.test', 'A');
      expect(addresses(r.packet)).toEqual(['192.0.2.1']);
      expect(r.log?.upstream).toMatch(/^\[::1\]:\d+$/);
      const big = await proxy.query('huge.test', 'A', { transport: 'tcp' });
      expect(addresses(big.packet)).toEqual(HUGE);
      expect(proxy.authority.queries.filter((q) => q.name === 'huge.test').map((q) => q.transport)).toEqual(['udp', 'tcp']);
    } finally {
      await proxy.close();
    }
  });
});

/** Sockets and servers open in this process, by kind. */
function handles(): Record<string, number> {
  const counts: Record<string, number> = { UDPWrap: 0, TCPSocketWrap: 0, TCPServerWrap: 0 };
  for (const kind of process.getActiveResourcesInfo()) if (kind in counts) counts[kind]! += 1;
  return counts;
}

describe('startProxy / close', () => {
  it('leaves no socket open behind it', async () => {
    // Each test file runs in a process of its own, and the proxy above is closed by now: none is the baseline.
    const none = JSON.stringify({ UDPWrap: 0, TCPSocketWrap: 0, TCPServerWrap: 0 });
    const proxy = await startProxy({ zone: ZONE, yaml: YAML, listen: ['127.0.0.1', '::1'] });
    expect(handles().UDPWrap).toBeGreaterThan(0);
    await proxy.query('one.test', 'A', { transport: 'udp' });
    await proxy.query('two.test', 'A', { transport: 'tcp', family: 6 });
    const conn = await TcpConnection.open(proxy.target(4));   // left open by the client: close() must not wait for it
    await proxy.close();
    await waitFor(() => conn.closed, { what: 'the server to close an idle client connection' });
    // libuv lists a handle for a moment after its close callback ran.
    await waitFor(() => JSON.stringify(handles()) === none, { what: `no sockets, have ${JSON.stringify(handles())}` });
  });
});
