import { describe, expect, it } from 'vitest';
import { renderAnswer } from '../../src/wire/build.js';
import { DecodeError } from '../../src/wire/errors.js';
import { answersQuery, walkResponse } from '../../src/wire/response.js';
import {
  decodePacket, header, mustDecode, optOf, pointer, question, queryBytes, rawRecord, replyToFor,
  responseBytes, rr, ttlsOf, u16, u32, upstreamOpt, wireName, QR, RD,
} from '../helpers/packets.js';

const RA = 0x0080;
const qwire = (name: string, type = 1): Buffer => question(name, type);   // our lower-cased question.wire

describe('answersQuery: only the real answer ends the wait', () => {
  const ours = qwire('www.example.com');
  const answer = (o: { id?: number; flags?: number; qd?: number; q?: Buffer } = {}): Buffer =>
    Buffer.concat([header({ id: o.id ?? 0x4444, flags: o.flags ?? (QR | RD | RA), qd: o.qd ?? 1 }), o.q ?? ours]);

  it('accepts the matching answer', () => {
    expect(answersQuery(answer(), 0x4444, ours)).toBe(true);
  });

  it('accepts a question that differs only in case (upstreams may echo 0x20 case)', () => {
    expect(answersQuery(answer({ q: question('WwW.ExAmPlE.CoM') }), 0x4444, ours)).toBe(true);
  });

  it.each([
    ['a wrong id', answer({ id: 0x4445 })],
    ['QR unset (a query, not an answer)', answer({ flags: RD })],
    ['qdcount 0', answer({ qd: 0 })],
    ['qdcount 2', answer({ qd: 2 })],
    ['a different name', answer({ q: question('www.example.org') })],
    ['a name one label longer', answer({ q: question('a.www.example.com') })],
    ['a different type', answer({ q: question('www.example.com', 28) })],
    ['a different class', answer({ q: question('www.example.com', 1, 3) })],
    ['a header only', header({ id: 0x4444, flags: QR })],
    ['an empty packet', Buffer.alloc(0)],
    ['a question cut short', answer().subarray(0, 20)],
  ])('rejects %s', (_label, buf) => {
    expect(answersQuery(buf, 0x4444, ours)).toBe(false);
  });

  it('accepts the answer to an HTTPS query (type 65 is 0x0041, which must not be case-folded)', () => {
    const q = mustDecode(queryBytes({ name: 'Example.com', type: 65, id: 9 }));
    const upstream = responseBytes({ id: 9, name: 'example.com', type: 65 });
    expect(answersQuery(upstream, 9, q.question.wire)).toBe(true);
  });

  it.each([[64, 'SVCB'], [90, 'type 0x005a'], [65, 'HTTPS']])('accepts type %i (%s) answers', (type) => {
    expect(answersQuery(answer({ q: qwire('example.com', type) }), 0x4444, qwire('example.com', type))).toBe(true);
  });

  it('does not confuse type 65 (0x0041) with type 97 (0x0061)', () => {
    expect(answersQuery(answer({ q: qwire('example.com', 97) }), 0x4444, qwire('example.com', 65))).toBe(false);
    expect(answersQuery(answer({ q: qwire('example.com', 65) }), 0x4444, qwire('example.com', 97))).toBe(false);
  });
});

/**
 * A hand-compressed answer, as real resolvers send it:
 *   www.example.com  CNAME  cdn.<ptr example.com>   ttl 300
 *   <ptr cdn...>     CNAME  Edge.NET                ttl 200
 *   <ptr Edge.NET>   A      192.0.2.7               ttl 60
 *   <ptr Edge.NET>   AAAA   2001:db8::1             ttl 90
 */
function compressedAnswer(): Buffer {
  const buf = Buffer.concat([
    header({ id: 0x4444, flags: QR | RD | RA, an: 4 }),
    qwire('www.example.com'),                                               // name at 12, "example.com" at 16
    rr(pointer(12), 5, 300, Buffer.concat([Buffer.from([3]), Buffer.from('cdn'), pointer(16)])),   // rdata at 45
    rr(pointer(45), 5, 200, wireName('Edge', 'NET')),                       // rdata at 63
    rr(pointer(63), 1, 60, Buffer.from([192, 0, 2, 7])),
    rr(pointer(63), 28, 90, Buffer.from('20010db8000000000000000000000001', 'hex')),
  ]);
  return buf;
}
const WWW_LEN = qwire('www.example.com').length;

describe('walkResponse: what we learn from an answer', () => {
  it('the hand-compressed fixture is valid DNS (dns-packet reads it)', () => {
    const p = decodePacket(compressedAnswer());
    expect(p.answers.map((a) => a.type === 'CNAME' && a.data)).toEqual(['cdn.example.com', 'Edge.NET', false, false]);
  });

  it('follows compressed CNAME targets, lower-cased, in order', () => {
    expect(walkResponse(compressedAnswer(), WWW_LEN).cnames).toEqual(['cdn.example.com', 'edge.net']);
  });

  it('collects A and AAAA addresses in the usual text forms', () => {
    expect(walkResponse(compressedAnswer(), WWW_LEN).addresses).toEqual(['192.0.2.7', '2001:db8::1']);
  });

  it('records where each TTL sits, and the TTL', () => {
    const buf = compressedAnswer();
    const view = walkResponse(buf, WWW_LEN);
    expect(view.ttls).toEqual([300, 200, 60, 90]);
    expect(view.ttlOffsets[0]).toBe(39);
    expect(view.ttlOffsets.map((o) => buf.readUInt32BE(o))).toEqual([300, 200, 60, 90]);
  });

  it('may be cached for the lowest answer TTL', () => {
    const view = walkResponse(compressedAnswer(), WWW_LEN);
    expect(view.cacheTtl).toBe(60);
    expect(view.answerCount).toBe(4);
    expect(view.rcode).toBe(0);
    expect(view.truncated).toBe(false);
  });

  it('reports TC and the rcode', () => {
    const view = walkResponse(responseBytes({ name: 'example.com', flags: RD | RA | 0x0200, rcode: 2 }), qwire('example.com').length);
    expect(view.truncated).toBe(true);
    expect(view.rcode).toBe(2);
  });

  it.each([
    ['2001:db8::1', '2001:db8::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::abcd:12', 'fe80::abcd:12'],
    ['2001:DB8::A', '2001:db8::a'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],      // a single zero group is not collapsed
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],          // on a tie, the first run
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],                      // the longest run
    ['0:0:1::', '0:0:1::'],
  ])('formats AAAA %s as %s (RFC 5952)', (addr, text) => {
    const buf = responseBytes({ name: 'example.com', type: 'AAAA', answers: [{ name: 'example.com', type: 'AAAA', ttl: 5, data: addr }] });
    expect(walkResponse(buf, qwire('example.com', 28).length).addresses).toEqual([text]);
  });

  it('logs only answer-section addresses, but points check/ at the addresses of every section', () => {
    const buf = responseBytes({
      name: 'example.com',
      answers: [{ name: 'example.com', type: 'A', ttl: 60, data: '192.0.2.1' }],
      authorities: [
        { name: 'example.com', type: 'NS', ttl: 60, data: 'ns1.example.com' },
        { name: 'example.com', type: 'AAAA', ttl: 60, data: 'fd00::53' },
      ],
      additionals: [{ name: 'ns1.example.com', type: 'A', ttl: 60, data: '198.51.100.1' }],
    });
    const view = walkResponse(buf, qwire('example.com').length);
    expect(view.addresses).toEqual(['192.0.2.1']);
    expect(view.ipv4At.map((at) => [...view.wire.subarray(at, at + 4)].join('.'))).toEqual(['192.0.2.1', '198.51.100.1']);
    expect(view.ipv6At.map((at) => view.wire.subarray(at, at + 16).toString('hex'))).toEqual(['fd000000000000000000000000000053']);
  });

  it('does not point at addresses after the upstream\'s OPT: they are cut with it', () => {
    const buf = responseBytes({
      name: 'example.com',
      answers: [{ name: 'example.com', type: 'A', ttl: 60, data: '192.0.2.1' }],
      additionals: [upstreamOpt(), { name: 'x.example.com', type: 'A', ttl: 60, data: '10.0.0.1' }],
    });
    const view = walkResponse(buf, qwire('example.com').length);
    expect(view.ipv4At).toHaveLength(1);
    expect(view.wire.subarray(view.ipv4At[0]!, view.ipv4At[0]! + 4)).toEqual(Buffer.from([192, 0, 2, 1]));
  });

  it.each([
    ['an A record of 5 bytes', 1, 5, 'answer'],
    ['an A record of 3 bytes in the additional section', 1, 3, 'additional'],
    ['an AAAA record of 4 bytes', 28, 4, 'answer'],
    ['an AAAA record of 17 bytes in the authority section', 28, 17, 'authority'],
  ] as const)('throws DecodeError on %s (clients would read it differently)', (_label, type, size, section) => {
    const rec = rawRecord('example.com', type, 60, Buffer.alloc(size, 10));
    const buf = responseBytes({
      name: 'example.com',
      answers: section === 'answer' ? [rec] : [],
      authorities: section === 'authority' ? [rec] : [],
      additionals: section === 'additional' ? [rec] : [],
    });
    expect(() => walkResponse(buf, qwire('example.com').length)).toThrow(DecodeError);
  });
});

describe('walkResponse: negative answers (RFC 2308)', () => {
  const soa = (ttl: number, minimum: number) => ({
    name: 'example.com', type: 'SOA' as const, ttl,
    data: { mname: 'ns1.example.com', rname: 'hostmaster.example.com', serial: 1, refresh: 2, retry: 3, expire: 4, minimum },
  });
  const len = qwire('nx.example.com').length;

  it('NXDOMAIN is cached for min(SOA TTL, SOA minimum): the minimum when lower', () => {
    const view = walkResponse(responseBytes({ name: 'nx.example.com', rcode: 3, authorities: [soa(300, 60)] }), len);
    expect(view.rcode).toBe(3);
    expect(view.cacheTtl).toBe(60);
  });

  it('NODATA is cached for min(SOA TTL, SOA minimum): the TTL when lower', () => {
    expect(walkResponse(responseBytes({ name: 'nx.example.com', authorities: [soa(30, 3600)] }), len).cacheTtl).toBe(30);
  });

  it('a negative answer without an SOA is not cached', () => {
    expect(walkResponse(responseBytes({ name: 'nx.example.com', rcode: 3 }), len).cacheTtl).toBe(0);
  });

  it('a CNAME into a name that does not exist is cached no longer than the SOA says', () => {
    const buf = responseBytes({
      name: 'nx.example.com', rcode: 3,
      answers: [{ name: 'nx.example.com', type: 'CNAME', ttl: 3600, data: 'gone.example.org' }],
      authorities: [soa(300, 45)],
    });
    const view = walkResponse(buf, len);
    expect(view.cnames).toEqual(['gone.example.org']);
    expect(view.cacheTtl).toBe(45);
  });

  it('throws DecodeError on an SOA whose rdata length does not match its fields', () => {
    const bad = Buffer.concat([
      header({ flags: QR | 3, ns: 1 }), qwire('nx.example.com'),
      rr(pointer(12), 6, 60, Buffer.concat([wireName('a'), wireName('b'), Buffer.alloc(16)])),   // 4 bytes short
    ]);
    expect(() => walkResponse(bad, len)).toThrow(DecodeError);
  });
});

describe('walkResponse: TTLs', () => {
  it('reads a TTL with the top bit set as 0 (RFC 2181 §8), and renders it as 0', () => {
    const buf = Buffer.concat([
      header({ flags: QR | RD | RA, an: 2 }), qwire('example.com'),
      rr(pointer(12), 1, 0x80000001, Buffer.from([192, 0, 2, 1])),
      rr(pointer(12), 1, 600, Buffer.from([192, 0, 2, 2])),
    ]);
    const view = walkResponse(buf, qwire('example.com').length);
    expect(view.ttls).toEqual([0, 600]);
    expect(view.cacheTtl).toBe(0);
    const q = mustDecode(queryBytes({ name: 'example.com' }));
    expect(ttlsOf(decodePacket(renderAnswer(view, replyToFor(q), 0, 86400)).answers)).toEqual([0, 600]);
  });

  it('renders the TTLs of all sections aged and capped', () => {
    const buf = responseBytes({
      name: 'example.com',
      answers: [{ name: 'example.com', type: 'A', ttl: 100, data: '192.0.2.1' }],
      authorities: [{ name: 'example.com', type: 'NS', ttl: 1000, data: 'ns1.example.com' }],
      additionals: [{ name: 'ns1.example.com', type: 'A', ttl: 2000, data: '192.0.2.53' }],
    });
    const view = walkResponse(buf, qwire('example.com').length);
    const p = decodePacket(renderAnswer(view, replyToFor(mustDecode(queryBytes({ name: 'example.com' }))), 10, 1500));
    expect([...ttlsOf(p.answers), ...ttlsOf(p.authorities), ...ttlsOf(p.additionals)]).toEqual([90, 990, 1500]);
  });
});

describe('walkResponse: the upstream\'s OPT record', () => {
  const len = qwire('example.com').length;

  it('strips it (with its options: cookies, NSID), so the client only ever sees ours', () => {
    const buf = responseBytes({
      name: 'example.com',
      answers: [{ name: 'example.com', type: 'A', ttl: 60, data: '192.0.2.1' }],
      additionals: [upstreamOpt(4096, [{ code: 10, data: Buffer.alloc(16, 9) }, { code: 3, data: Buffer.from('upstream-7') }])],
    });
    const view = walkResponse(buf, len);
    expect(view.wire.readUInt16BE(10)).toBe(0);
    const p = decodePacket(view.wire);
    expect(p.additionals).toEqual([]);
    expect(p.answers).toHaveLength(1);
    const q = mustDecode(queryBytes({ name: 'example.com', edns: true }));
    const rendered = decodePacket(renderAnswer(view, replyToFor(q), 0, 60));
    expect(rendered.additionals).toHaveLength(1);
    expect(optOf(rendered)).toMatchObject({ udpPayloadSize: 1232, options: [] });
  });

  it('drops records after the OPT and fixes arcount; records before it stay', () => {
    const buf = responseBytes({
      name: 'example.com',
      answers: [{ name: 'example.com', type: 'A', ttl: 60, data: '192.0.2.1' }],
      additionals: [
        { name: 'ns1.example.com', type: 'A', ttl: 500, data: '192.0.2.53' },
        upstreamOpt(),
        { name: 'ns2.example.com', type: 'A', ttl: 700, data: '192.0.2.54' },
      ],
    });
    const view = walkResponse(buf, len);
    expect(view.wire.readUInt16BE(10)).toBe(1);
    expect(view.ttls).toEqual([60, 500]);
    for (const o of view.ttlOffsets) expect(o + 4).toBeLessThanOrEqual(view.wire.length);
    const p = decodePacket(view.wire);
    expect(p.additionals.map((a) => 'data' in a && a.data)).toEqual(['192.0.2.53']);
  });

  it.each([
    ['an OPT in the answer section', responseBytes({ name: 'example.com', answers: [upstreamOpt()] })],
    ['an OPT in the authority section', responseBytes({ name: 'example.com', authorities: [upstreamOpt()] })],
    ['two OPT records', responseBytes({ name: 'example.com', additionals: [upstreamOpt(), upstreamOpt()] })],
  ])('throws DecodeError on %s', (_label, buf) => {
    expect(() => walkResponse(buf, len)).toThrow(DecodeError);
  });
});

describe('walkResponse: record types we do not know pass through untouched', () => {
  const svcb = Buffer.from('000100000100090268330568332d3239', 'hex');       // priority 1, ".", alpn=h3,h3-29
  const buf = responseBytes({
    id: 0x4444, name: 'example.com', type: 65,
    answers: [rawRecord('example.com', 65, 300, svcb), rawRecord('example.com', 65280, 120, Buffer.from([1, 2, 3, 0xff]))],
  });
  const len = qwire('example.com', 65).length;

  it('renders byte-identical when id, RD and TTLs are unchanged', () => {
    const view = walkResponse(buf, len);
    const q = mustDecode(queryBytes({ name: 'example.com', type: 65, id: 0x4444 }));
    expect(renderAnswer(view, replyToFor(q), 0, 86400)).toEqual(buf);
  });

  it('differs only in the id and TTL bytes otherwise', () => {
    const view = walkResponse(buf, len);
    const q = mustDecode(queryBytes({ name: 'example.com', type: 65, id: 0x9999 }));
    const out = renderAnswer(view, replyToFor(q), 0, 100);
    const allowed = new Set([0, 1, ...view.ttlOffsets.flatMap((o) => [o, o + 1, o + 2, o + 3])]);
    expect(out.length).toBe(buf.length);
    for (let i = 0; i < buf.length; i++) if (!allowed.has(i)) expect(out[i], `byte ${i}`).toBe(buf[i]);
    expect(ttlsOf(decodePacket(out).answers)).toEqual([100, 100]);
  });

  it('keeps the rdata of HTTPS and TYPE65280 as sent', () => {
    const p = decodePacket(walkResponse(buf, len).wire);
    expect(p.answers.map((a) => 'data' in a && a.data)).toEqual([svcb, Buffer.from([1, 2, 3, 0xff])]);
  });
});

describe('walkResponse: HTTPS and SVCB records (RFC 9460)', () => {
  /** priority, target, then key/value parameters. */
  const svcb = (priority: number, target: Buffer, params: Array<[number, Buffer]>): Buffer =>
    Buffer.concat([u16(priority), target, ...params.map(([k, v]) => Buffer.concat([u16(k), u16(v.length), v]))]);
  const answer = (rdata: Buffer, type = 65): Buffer =>
    responseBytes({ id: 1, name: 'example.com', type, answers: [rawRecord('example.com', type, 300, rdata)] });
  const len = (type = 65) => qwire('example.com', type).length;

  it('reports ipv4hint and ipv6hint addresses, so the rebinding check sees them', () => {
    const rdata = svcb(1, wireName(), [
      [1, Buffer.from('026832', 'hex')],                          // alpn=h2
      [4, Buffer.from([10, 0, 0, 5, 192, 0, 2, 1])],              // ipv4hint=10.0.0.5,192.0.2.1
      [6, Buffer.from('fd000000000000000000000000000001', 'hex')], // ipv6hint=fd00::1
    ]);
    const view = walkResponse(answer(rdata), len());
    expect(view.addresses).toEqual(['10.0.0.5', '192.0.2.1', 'fd00::1']);
    expect(view.cnames).toEqual([]);
  });

  it('reports the target name of an alias or service record, so the deny list applies to it', () => {
    expect(walkResponse(answer(svcb(0, wireName('Pool', 'svc', 'example', 'net'), [])), len()).cnames).toEqual(['pool.svc.example.net']);
    expect(walkResponse(answer(svcb(1, wireName('svc', 'example', 'org'), []), 64), len(64)).cnames).toEqual(['svc.example.org']);
  });

  it('points at the hints of HTTPS records in the additional section too', () => {
    const rdata = svcb(1, wireName(), [[4, Buffer.from([127, 0, 0, 1])], [6, Buffer.from('fe800000000000000000000000000001', 'hex')]]);
    const buf = responseBytes({
      id: 1, name: 'example.com', type: 65,
      answers: [rawRecord('example.com', 65, 300, svcb(1, wireName(), []))],
      additionals: [rawRecord('svc.example.com', 65, 300, rdata)],
    });
    const view = walkResponse(buf, len());
    expect(view.addresses).toEqual([]);
    expect(view.ipv4At.map((at) => view.wire.readUInt32BE(at))).toEqual([0x7f000001]);
    expect(view.ipv6At).toHaveLength(1);
  });

  it.each([
    ['an ipv4hint of 6 bytes', 4, 6],
    ['an ipv6hint of 20 bytes', 6, 20],
  ])('throws DecodeError for %s (not whole addresses)', (_label, key, size) => {
    expect(() => walkResponse(answer(svcb(1, wireName(), [[key, Buffer.alloc(size, 1)]])), len())).toThrow(DecodeError);
  });

  it('throws DecodeError for a parameter that runs past the record', () => {
    const bad = Buffer.concat([u16(1), wireName(), u16(4), u16(8), Buffer.from([10, 0, 0, 5])]);
    expect(() => walkResponse(answer(bad), len())).toThrow(DecodeError);
  });
});

describe('walkResponse on broken answers: DecodeError, never RangeError', () => {
  it('throws DecodeError for every truncation after the question', () => {
    const buf = compressedAnswer();
    for (let n = 12 + WWW_LEN; n < buf.length; n++) {
      expect(() => walkResponse(buf.subarray(0, n), WWW_LEN), `cut at ${n}`).toThrow(DecodeError);
    }
  });

  it('throws DecodeError on bytes after the message', () => {
    expect(() => walkResponse(Buffer.concat([compressedAnswer(), Buffer.from([0])]), WWW_LEN)).toThrow(DecodeError);
  });

  it.each([
    ['an answer count beyond the records', (b: Buffer) => b.writeUInt16BE(9, 6)],
    ['an rdata length past the end', (b: Buffer) => b.writeUInt16BE(500, 43)],
    ['a CNAME target pointing forward', (b: Buffer) => b.writeUInt16BE(0xc000 | 100, 49)],
    ['a label length of 64 in an owner', (b: Buffer) => { b[33] = 64; }],
  ])('throws DecodeError on %s', (_label, mutate) => {
    const buf = compressedAnswer();
    mutate(buf);
    expect(() => walkResponse(buf, WWW_LEN)).toThrow(DecodeError);
  });

  it('random mutations after the question only ever throw DecodeError (seeded)', () => {
    const base = Buffer.concat([
      compressedAnswer().subarray(0, 12 + WWW_LEN),
      compressedAnswer().subarray(12 + WWW_LEN),
      rr(pointer(12), 6, 60, Buffer.concat([Buffer.from([2]), Buffer.from('ns'), pointer(16), wireName('h'), u32(1), u32(2), u32(3), u32(4), u32(5)])),
      Buffer.from([0]), u16(41), u16(1232), u32(0), u16(0),
    ]);
    base.writeUInt16BE(1, 8);
    base.writeUInt16BE(1, 10);
    expect(walkResponse(base, WWW_LEN).ttls).toEqual([300, 200, 60, 90, 60]);      // the base is valid
    let seed = 0xa11ce;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const counts = { ok: 0, decodeError: 0 };
    const client = replyToFor(mustDecode(queryBytes({ name: 'WWW.example.com', edns: true })));
    for (let i = 0; i < 4000; i++) {
      let buf = Buffer.from(base);
      for (let k = rand(3) + 1; k > 0; k--) {
        const at = rand(buf.length - 12 - WWW_LEN) + 12 + WWW_LEN;
        buf[at] = rand(256);
      }
      if (rand(4) === 0) buf.writeUInt16BE(rand(8), 6 + 2 * rand(3));     // lie about a section count
      if (rand(4) === 0) buf = buf.subarray(0, 12 + WWW_LEN + rand(buf.length - 12 - WWW_LEN));
      try {
        const view = walkResponse(buf, WWW_LEN);
        for (const o of view.ttlOffsets) expect(o + 4, `#${i}`).toBeLessThanOrEqual(view.wire.length);
        renderAnswer(view, client, 30, 60);
        counts.ok++;
      } catch (err) {
        if (!(err instanceof DecodeError)) throw new Error(`#${i} threw ${String(err)} on ${buf.toString('hex')}`);
        counts.decodeError++;
      }
    }
    expect(counts.ok).toBeGreaterThan(0);
    expect(counts.decodeError).toBeGreaterThan(0);
  });
});
