/**
 * Broken and hostile packets through the running proxy: the client gets the
 * rcode the decoder promises (or nothing, for responses), nothing reaches the
 * upstream, and the listeners keep serving everyone else, over UDP and TCP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TcpConnection, framed } from '../helpers/client.js';
import { decodePacket, header, opcodeFlags, question, queryBytes, wireName, QR, RD } from '../helpers/packets.js';
import { addresses, startProxy, type Proxy } from '../helpers/proxy.js';
import { CORPUS_ID, MALFORMED, type Outcome } from '../wire/malformed.corpus.js';

/** How long "no reply" is waited for: the proxy answers a rejection in well under a millisecond. */
const SILENCE_MS = 250;

const HEADER_RCODE: Record<Exclude<Outcome, 'drop'>, number> = { FORMERR: 1, NOTIMP: 4, REFUSED: 5, BADVERS: 0 };

describe('malformed packets through the proxy', () => {
  let proxy: Proxy;

  beforeAll(async () => {
    proxy = await startProxy({
      zone: { 'ok.allowed.com': [{ type: 'A', data: '192.0.2.1' }] },
      // unlisted: forward, so any packet the decoder let through would show up at the authority.
      yaml: `
        version: 1
        upstreams: { servers: UPSTREAMS, timeout: 500ms }
        clients: [{ name: agent, match: ["127.0.0.1/32"], role: coding }]
        roles: { coding: { allow: ["*.allowed.com"], unlisted: forward } }
      `,
    });
  });
  afterAll(() => proxy.close());

  /** The proxy still answers a good query, over both transports. */
  async function stillServing(): Promise<void> {
    for (const transport of ['udp', 'tcp'] as const) {
      const r = await proxy.query('ok.allowed.com', 'A', { transport });
      expect(addresses(r.packet), transport).toEqual(['192.0.2.1']);
    }
  }

  it('never answers a packet with QR set', async () => {
    const response = Buffer.concat([header({ flags: QR | RD }), question('ok.allowed.com')]);
    expect(await proxy.send(response, { timeoutMs: SILENCE_MS })).toBeNull();
    expect(await proxy.send(response, { transport: 'tcp', timeoutMs: SILENCE_MS })).toBeNull();
    await stillServing();
  });

  it('answers FORMERR to a query with two questions', async () => {
    const bytes = Buffer.concat([header({ id: 7, qd: 2 }), question('ok.allowed.com'), question('b.allowed.com')]);
    const reply = decodePacket((await proxy.send(bytes))!);
    expect(reply.id).toBe(7);
    expect(reply.rcode).toBe('FORMERR');
    expect(reply.answers).toEqual([]);
  });

  it('refuses a label containing "." and never forwards it', async () => {
    const before = proxy.authority.queries.length;
    // One label "exfil.ok" under allowed.com: read as text it would look like a name below *.allowed.com.
    const bytes = Buffer.concat([header({ id: 8 }), question(wireName('exfil.ok', 'allowed', 'com'))]);
    const reply = decodePacket((await proxy.send(bytes))!);
    expect(reply.id).toBe(8);
    expect(reply.rcode).toBe('REFUSED');
    expect(reply.answers).toEqual([]);
    expect(proxy.authority.queries.length).toBe(before);
  });

  it('answers NOTIMP to opcode NOTIFY, echoing the opcode', async () => {
    const bytes = queryBytes({ name: 'ok.allowed.com', id: 9, flags: opcodeFlags(4) });
    const reply = decodePacket((await proxy.send(bytes))!);
    expect(reply.id).toBe(9);
    expect(reply.rcode).toBe('NOTIMP');
    expect(reply.opcode).toBe('NOTIFY');
  });

  it('survives garbage and answers the next good query', async () => {
    const junk = [
      Buffer.alloc(0),
      Buffer.from([1, 2, 3]),
      Buffer.from('GET / HTTP/1.1\r\nHost: intentdns\r\n\r\n'),
      Buffer.alloc(600, 0xff),
      Buffer.alloc(12),                                   // a header of zeros: no question
      Buffer.concat([header(), Buffer.from([0xc0, 0x0c, 0xc0, 0x0c])]),
    ];
    for (const bytes of junk) {
      const reply = await proxy.send(bytes, { timeoutMs: SILENCE_MS });
      // Either nothing, or an error rcode; never an answer.
      if (reply) expect(reply.readUInt16BE(2) & 0xf, bytes.toString('hex').slice(0, 24)).not.toBe(0);
    }
    const conn = await TcpConnection.open(proxy.target());
    try {
      await conn.write(Buffer.concat(junk.filter((b) => b.length > 0).map(framed)));
      await conn.write(framed(queryBytes({ name: 'ok.allowed.com', id: 77 })));
      // The good query after the junk, on the same connection, is answered.
      await conn.waitFor(() => conn.replies.some((r) => r.readUInt16BE(0) === 77));
    } finally {
      await conn.close();
    }
    await stillServing();
  });

  it('gives every packet of the malformed corpus the promised outcome over UDP, forwarding none', async () => {
    const before = proxy.authority.queries.length;
    for (const c of MALFORMED) {
      const reply = await proxy.send(c.bytes, { timeoutMs: c.outcome === 'drop' ? SILENCE_MS : 2000 });
      if (c.outcome === 'drop') {
        expect(reply, c.description).toBeNull();
        continue;
      }
      expect(reply, c.description).not.toBeNull();
      expect(reply!.readUInt16BE(0), c.description).toBe(CORPUS_ID);
      expect(reply!.readUInt16BE(2) & 0x800f, c.description).toBe(0x8000 | HEADER_RCODE[c.outcome]);
      expect(reply!.readUInt16BE(6), c.description).toBe(0);    // no answers, ever
    }
    expect(proxy.authority.queries.length).toBe(before);
    // Rejections are not decisions: no decision line names them.
    expect(proxy.decisions().filter((l) => l.reason !== 'allowlist' && l.reason !== 'unlisted')).toEqual([]);
    await stillServing();
  });

  it('closes a TCP connection after a zero-length frame, answering what came before, and serves others', async () => {
    const bad = await TcpConnection.open(proxy.target());
    try {
      await bad.write(Buffer.concat([framed(queryBytes({ name: 'ok.allowed.com', id: 1 })), Buffer.from([0, 0])]));
      await bad.waitFor(() => bad.closed);
      expect(bad.replies.map((r) => r.readUInt16BE(0))).toEqual([1]);
    } finally {
      await bad.close();
    }
    await stillServing();
  });

  it('drops a truncated TCP frame at end of stream without a reply, and serves others meanwhile', async () => {
    const cut = await TcpConnection.open(proxy.target());
    try {
      const good = framed(queryBytes({ name: 'ok.allowed.com', id: 2 }));
      const partial = framed(queryBytes({ name: 'ok.allowed.com', id: 3 })).subarray(0, 10);
      await cut.write(Buffer.concat([good, partial]));
      // While that connection waits for the rest of its frame, another client is served.
      await stillServing();
      cut.end();
      await cut.waitFor(() => cut.closed);
      expect(cut.replies.map((r) => r.readUInt16BE(0))).toEqual([2]);
    } finally {
      await cut.close();
    }
    await stillServing();
  });
});
