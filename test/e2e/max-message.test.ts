/**
 * The longest answers DNS can carry, through the running proxy: an upstream
 * answer just under the 65,535-byte limit of a TCP frame, from an upstream
 * that sends no OPT record (a server without EDNS does that, RFC 6891 §7), to
 * a client that asked with EDNS. Adding our OPT record would take the reply
 * past what a frame can carry; the client must still get an answer, first
 * from upstream and then from the cache.
 */
import type * as dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tcpExchange } from '../helpers/client.js';
import { decodePacket, optOf, queryBytes } from '../helpers/packets.js';
import { startProxy, type Proxy } from '../helpers/proxy.js';
import { txtOfSize } from '../helpers/txt.js';

const MAX_MESSAGE = 65_535;
const SIZES = [65_524, 65_525, 65_530, 65_535] as const;

describe('an upstream answer of up to 65,535 bytes, asked over TCP with EDNS', () => {
  let proxy: Proxy;

  beforeAll(async () => {
    const zone = Object.fromEntries(SIZES.map((size) => [`big${size}.test`, [txtOfSize(`big${size}.test`, size)]]));
    proxy = await startProxy({
      zone,
      yaml: `
        version: 1
        upstreams: { servers: UPSTREAMS, timeout: 1000ms }
        clients: [{ name: agent, match: ["127.0.0.1/32"], role: coding }]
        roles: { coding: { allow: ["*.test"], qtypes: [TXT] } }
      `,
    });
    proxy.authority.behave({ mode: 'normal', omitOpt: true });
  });
  afterAll(() => proxy.close());

  it('the test authority really sends messages of those sizes, without an OPT record', async () => {
    for (const size of SIZES) {
      const reply = await tcpExchange({ host: proxy.authority.address, port: proxy.authority.port }, queryBytes({ name: `big${size}.test`, type: 'TXT', edns: true }));
      expect(reply?.length, `big${size}.test`).toBe(size);
      expect(optOf(decodePacket(reply!)), `big${size}.test`).toBeUndefined();
    }
  });

  it.each(SIZES)('answers the %i-byte answer in full, from upstream and again from the cache', async (size) => {
    const name = `big${size}.test`;
    const expected = txtOfSize(name, size).data;
    for (const source of ['upstream', 'cache']) {
      const r = await proxy.query(name, 'TXT', { transport: 'tcp', edns: true, timeoutMs: 3000 });
      expect(r.bytes.length, source).toBeLessThanOrEqual(MAX_MESSAGE);
      expect(r.packet.rcode, source).toBe('NOERROR');
      expect(r.packet.flag_tc, source).toBe(false);
      expect(r.packet.answers, source).toHaveLength(1);
      expect((r.packet.answers[0] as dnsPacket.TxtAnswer).data, source).toEqual(expected);
      expect(r.log, source).toMatchObject({ action: 'forward', reason: 'allowlist', rcode: 'NOERROR' });
      if (source === 'cache') expect(r.log?.upstream).toBe('cache');
    }
  });

  it('keeps our OPT record when the answer fits with it', async () => {
    const r = await proxy.query('big65524.test', 'TXT', { transport: 'tcp', edns: true });
    expect(r.bytes.length).toBe(65_535);
    expect(optOf(r.packet)).toBeDefined();
  });

  it('answers the same name over TCP without EDNS, and with TC over UDP', async () => {
    const plain = await proxy.query('big65530.test', 'TXT', { transport: 'tcp' });
    expect(plain.bytes.length).toBe(65_530);
    const udp = await proxy.query('big65530.test', 'TXT', { transport: 'udp', edns: { udpSize: 4096 } });
    expect(udp.packet.flag_tc).toBe(true);
    expect(udp.packet.answers).toEqual([]);
  });
});
