import { describe, expect, it } from 'vitest';
import {
  buildQuery, buildReply, fitReply, nullAddressRecord, renderAnswer, sinkholeSoa, type ReplyTo,
} from '../../src/wire/build.js';
import { EDE, RCODE } from '../../src/wire/constants.js';
import { QTYPE } from '../../src/wire/qtypes.js';
import { walkResponse } from '../../src/wire/response.js';
import {
  CD, RD, decodePacket, edeOf, mustDecode, optOf, queryBytes, replyToFor, responseBytes, ttlsOf,
} from '../helpers/packets.js';

const to = (opts: Parameters<typeof queryBytes>[0]): ReplyTo => replyToFor(mustDecode(queryBytes(opts)));

describe('buildQuery (what we send upstream)', () => {
  const q = mustDecode(queryBytes({ name: 'Example.COM', type: 'AAAA' }));

  it.each([false, true])('is one question, RD set, and an OPT of 1232 bytes with DO=%s', (dnssecOk) => {
    const bytes = buildQuery(0x5151, q.question.wire, { dnssecOk, checkingDisabled: false });
    const p = decodePacket(bytes);
    expect(p.id).toBe(0x5151);
    expect(p.flag_qr).toBe(false);
    expect(p.opcode).toBe('QUERY');
    expect(p.flag_rd).toBe(true);
    expect(p.flag_cd).toBe(false);
    expect(p.questions).toEqual([{ name: 'example.com', type: 'AAAA', class: 'IN' }]);
    expect(p.answers).toEqual([]);
    expect(p.authorities).toEqual([]);
    expect(p.additionals).toHaveLength(1);
    const opt = optOf(p);
    expect(opt?.udpPayloadSize).toBe(1232);
    expect(opt?.ednsVersion).toBe(0);
    expect(opt?.flag_do).toBe(dnssecOk);
    expect(opt?.options).toEqual([]);
  });

  it('passes the client\'s CD bit on', () => {
    const p = decodePacket(buildQuery(1, q.question.wire, { dnssecOk: true, checkingDisabled: true }));
    expect(p.flag_cd).toBe(true);
  });

  it('sends the normalised question bytes exactly, never the client\'s case', () => {
    const bytes = buildQuery(1, q.question.wire, { dnssecOk: false, checkingDisabled: false });
    expect(bytes.subarray(12, 12 + q.question.wire.length)).toEqual(q.question.wire);
    expect(bytes.subarray(12).toString('latin1')).not.toMatch(/[A-Z]/);
  });
});

describe('buildReply: header and rcode', () => {
  it.each([
    ['NOERROR', RCODE.NOERROR], ['FORMERR', RCODE.FORMERR], ['SERVFAIL', RCODE.SERVFAIL],
    ['NXDOMAIN', RCODE.NXDOMAIN], ['NOTIMP', RCODE.NOTIMP], ['REFUSED', RCODE.REFUSED],
  ])('a %s reply really carries that rcode (dns-packet\'s encoder would drop it)', (name, rcode) => {
    const p = decodePacket(buildReply(to({ name: 'example.com', id: 77 }), { rcode }));
    expect(p.rcode).toBe(name);
    expect(p.id).toBe(77);
    expect(p.flag_qr).toBe(true);
    expect(p.flag_ra).toBe(true);
    expect(p.flag_aa).toBe(false);
    expect(p.flag_tc).toBe(false);
  });

  it.each([
    ['RD', RD, true, false], ['CD', CD, false, true], ['neither', 0, false, false],
  ])('echoes the client\'s %s bit', (_label, flags, rd, cd) => {
    const p = decodePacket(buildReply(to({ name: 'example.com', flags }), { rcode: 0 }));
    expect(p.flag_rd).toBe(rd);
    expect(p.flag_cd).toBe(cd);
  });

  it('echoes the question as the client wrote it (0x20 case mixing survives)', () => {
    const p = decodePacket(buildReply(to({ name: 'ExAmPle.CoM', type: 65 }), { rcode: RCODE.NXDOMAIN }));
    expect(p.questions).toEqual([{ name: 'ExAmPle.CoM', type: 'UNKNOWN_65', class: 'IN' }]);
  });

  it('has no question section when the query had none', () => {
    const reply = buildReply({ id: 5, recursionDesired: false, checkingDisabled: false, question: null, edns: null }, { rcode: RCODE.FORMERR });
    expect(reply).toHaveLength(12);
    expect(decodePacket(reply).questions).toEqual([]);
  });

  it('writes the opcode it is given (QUERY otherwise)', () => {
    const base = to({ name: 'example.com' });
    expect(decodePacket(buildReply({ ...base, opcode: 4 }, { rcode: RCODE.NOTIMP })).opcode).toBe('NOTIFY');
    expect(decodePacket(buildReply(base, { rcode: RCODE.NOTIMP })).opcode).toBe('QUERY');
  });
});

describe('buildReply: EDNS and Extended DNS Errors', () => {
  const ede = { code: EDE.BLOCKED, text: 'intentdns: denylist (role agent)' };

  it.each([
    ['Blocked', EDE.BLOCKED], ['Prohibited', EDE.PROHIBITED],
  ])('carries EDE %s (option 15) with its text when the query had EDNS', (_label, code) => {
    const p = decodePacket(buildReply(to({ name: 'example.com', edns: true }), { rcode: RCODE.REFUSED, ede: { code, text: ede.text } }));
    expect(edeOf(p)).toEqual({ infoCode: code, text: ede.text });
    const opt = optOf(p);
    expect(opt?.udpPayloadSize).toBe(1232);
    expect(opt?.extendedRcode).toBe(0);
  });

  it('carries no OPT and so no EDE when the query had no EDNS (RFC 8914)', () => {
    const reply = buildReply(to({ name: 'example.com' }), { rcode: RCODE.REFUSED, ede });
    expect(reply.readUInt16BE(10)).toBe(0);
    expect(decodePacket(reply).additionals).toEqual([]);
  });

  it('an EDNS reply without an EDE has an empty OPT', () => {
    const p = decodePacket(buildReply(to({ name: 'example.com', edns: true }), { rcode: RCODE.SERVFAIL }));
    expect(optOf(p)?.options).toEqual([]);
  });

  it('mirrors the client\'s DO bit in our OPT', () => {
    expect(optOf(decodePacket(buildReply(to({ name: 'example.com', edns: { do: true } }), { rcode: 0 })))?.flag_do).toBe(true);
    expect(optOf(decodePacket(buildReply(to({ name: 'example.com', edns: { do: false } }), { rcode: 0 })))?.flag_do).toBe(false);
  });

  it('keeps non-ASCII EDE text intact (UTF-8)', () => {
    const text = 'blocked: réseau ✓';
    const p = decodePacket(buildReply(to({ name: 'example.com', edns: true }), { rcode: RCODE.REFUSED, ede: { code: EDE.BLOCKED, text } }));
    expect(edeOf(p)?.text).toBe(text);
  });

  it('writes extended rcode bits in the OPT record', () => {
    const p = decodePacket(buildReply(to({ name: 'example.com', edns: true }), { rcode: 0, extendedRcode: 1 }));
    expect(p.rcode).toBe('NOERROR');
    expect(optOf(p)?.extendedRcode).toBe(1);
  });
});

describe('buildReply with the sinkhole records', () => {
  it('null-ip for A is 0.0.0.0 owned by the question name, with the sinkhole TTL', () => {
    const p = decodePacket(buildReply(to({ name: 'Blocked.Example' }), { rcode: 0, answers: [nullAddressRecord(QTYPE.A, 42)] }));
    expect(p.answers).toEqual([expect.objectContaining({ name: 'Blocked.Example', type: 'A', class: 'IN', ttl: 42, data: '0.0.0.0' })]);
  });

  it('null-ip for AAAA is ::', () => {
    const p = decodePacket(buildReply(to({ name: 'blocked.example', type: 'AAAA' }), { rcode: 0, answers: [nullAddressRecord(QTYPE.AAAA, 42)] }));
    expect(p.answers).toEqual([expect.objectContaining({ type: 'AAAA', ttl: 42, data: '::' })]);
  });

  it.each([
    ['NXDOMAIN', RCODE.NXDOMAIN], ['NODATA (NOERROR, no answers)', RCODE.NOERROR],
  ])('%s carries an SOA whose TTL and minimum are the sinkhole TTL', (_label, rcode) => {
    const p = decodePacket(buildReply(to({ name: 'blocked.example', edns: true }), {
      rcode, authority: [sinkholeSoa(17)], ede: { code: EDE.BLOCKED, text: 'x' },
    }));
    expect(p.answers).toEqual([]);
    expect(p.authorities).toHaveLength(1);
    const soa = p.authorities[0]!;
    expect(soa).toMatchObject({ name: 'blocked.example', type: 'SOA', ttl: 17 });
    expect(soa.type === 'SOA' && soa.data).toMatchObject({
      mname: 'intentdns.invalid', rname: 'hostmaster.intentdns.invalid', serial: 1, minimum: 17,
    });
    expect(edeOf(p)?.infoCode).toBe(EDE.BLOCKED);
  });
});

/** An upstream answer of at least `bytes` bytes (dns-packet writes each owner name in full). */
function bigAnswer(name: string, bytes: number): Buffer {
  const count = Math.ceil(bytes / (name.length + 16));
  return responseBytes({
    name,
    answers: Array.from({ length: count }, (_, i) => ({ name, type: 'A' as const, ttl: 60, data: `10.0.${i >> 8}.${i & 0xff}` })),
  });
}

describe('fitReply', () => {
  const nullIp = (r: ReplyTo, n: number): Buffer => buildReply(r, { rcode: 0, answers: Array.from({ length: n }, () => nullAddressRecord(QTYPE.A, 60)) });

  it('leaves a reply that fits alone', () => {
    const r = to({ name: 'example.com' });
    const reply = nullIp(r, 3);
    expect(fitReply(reply, r, 512)).toBe(reply);
  });

  it('leaves a reply of exactly the limit alone', () => {
    const r = to({ name: 'example.com' });
    const reply = nullIp(r, 30);
    expect(fitReply(reply, r, reply.length)).toBe(reply);
  });

  it('cuts a 3000-byte answer to header + question with TC set when the limit is 512 (no EDNS)', () => {
    const r = to({ name: 'Big.Example.com', id: 0x7777 });
    const reply = nullIp(r, 180);
    expect(reply.length).toBeGreaterThan(2000);
    const cut = fitReply(reply, r, 512);
    expect(cut.length).toBe(12 + r.question!.length);
    const p = decodePacket(cut);
    expect(p.id).toBe(0x7777);
    expect(p.flag_tc).toBe(true);
    expect(p.flag_qr).toBe(true);
    expect(p.flag_rd).toBe(true);
    expect(p.rcode).toBe('NOERROR');
    expect(p.questions).toEqual([{ name: 'Big.Example.com', type: 'A', class: 'IN' }]);
    expect(p.answers).toEqual([]);
    expect(p.additionals).toEqual([]);
  });

  it('cuts to header + question + OPT at the client\'s EDNS size, keeping the rcode', () => {
    const r = to({ name: 'example.com', edns: { udpSize: 1232, do: true } });
    const reply = buildReply(r, { rcode: RCODE.NXDOMAIN, authority: Array.from({ length: 100 }, () => sinkholeSoa(5)) });
    const cut = fitReply(reply, r, r.edns!.udpSize);
    expect(cut.length).toBeLessThanOrEqual(1232);
    const p = decodePacket(cut);
    expect(p.flag_tc).toBe(true);
    expect(p.rcode).toBe('NXDOMAIN');
    expect(p.authorities).toEqual([]);
    expect(optOf(p)?.flag_do).toBe(true);
  });

  it('truncates an upstream answer the same way', () => {
    const q = mustDecode(queryBytes({ name: 'big.example.com' }));
    const view = walkResponse(bigAnswer('big.example.com', 3000), q.question.wire.length);
    const rendered = renderAnswer(view, replyToFor(q), 0, 3600);
    expect(rendered.length).toBeGreaterThan(3000);
    const p = decodePacket(fitReply(rendered, replyToFor(q), 512));
    expect(p.flag_tc).toBe(true);
    expect(p.answers).toEqual([]);
  });

  it('a 1000-byte reply fits a 1232-byte EDNS client but not a plain 512-byte one', () => {
    const e = to({ name: 'example.com', edns: true });
    const plain = to({ name: 'example.com' });
    expect(fitReply(nullIp(e, 60), e, 1232).readUInt16BE(2) & 0x0200).toBe(0);
    expect(fitReply(nullIp(plain, 60), plain, 512).readUInt16BE(2) & 0x0200).toBe(0x0200);
  });
});

describe('renderAnswer (an upstream answer, for one client)', () => {
  const upstream = responseBytes({
    id: 0x1111,
    name: 'www.example.com',
    answers: [
      { name: 'www.example.com', type: 'CNAME', ttl: 300, data: 'cdn.example.net' },
      { name: 'cdn.example.net', type: 'A', ttl: 120, data: '192.0.2.1' },
    ],
    authorities: [{ name: 'example.net', type: 'NS', ttl: 900, data: 'ns1.example.net' }],
  });
  const questionLength = mustDecode(queryBytes({ name: 'www.example.com' })).question.wire.length;

  it('replaces the id, echoes the client\'s question case, and keeps everything else', () => {
    const view = walkResponse(upstream, questionLength);
    const r = to({ name: 'WWW.example.COM', id: 0x2222 });
    const p = decodePacket(renderAnswer(view, r, 0, 86400));
    expect(p.id).toBe(0x2222);
    expect(p.questions[0]?.name).toBe('WWW.example.COM');
    expect(p.answers.map((a) => [a.type, 'ttl' in a ? a.ttl : null, 'data' in a ? a.data : null])).toEqual([
      ['CNAME', 300, 'cdn.example.net'], ['A', 120, '192.0.2.1'],
    ]);
    expect(p.authorities).toHaveLength(1);
  });

  it('reflects the client\'s RD bit, whatever the upstream said', () => {
    const view = walkResponse(upstream, questionLength);
    expect(decodePacket(renderAnswer(view, to({ name: 'www.example.com', flags: 0 }), 0, 60)).flag_rd).toBe(false);
    expect(decodePacket(renderAnswer(view, to({ name: 'www.example.com', flags: RD }), 0, 60)).flag_rd).toBe(true);
  });

  it('ages every TTL by ageS and caps it at maxTtl, never below 0', () => {
    const view = walkResponse(upstream, questionLength);
    const ttls = (ageS: number, maxTtl: number): Array<number | undefined> => {
      const p = decodePacket(renderAnswer(view, to({ name: 'www.example.com' }), ageS, maxTtl));
      return ttlsOf([...p.answers, ...p.authorities]);
    };
    expect(ttls(0, 86400)).toEqual([300, 120, 900]);
    expect(ttls(100, 86400)).toEqual([200, 20, 800]);
    expect(ttls(100, 60)).toEqual([60, 20, 60]);
    expect(ttls(500, 86400)).toEqual([0, 0, 400]);
    expect(ttls(0, 0)).toEqual([0, 0, 0]);
  });

  it('appends our OPT only when the client sent EDNS', () => {
    const view = walkResponse(upstream, questionLength);
    const plain = decodePacket(renderAnswer(view, to({ name: 'www.example.com' }), 0, 60));
    expect(plain.additionals).toEqual([]);
    const withEdns = renderAnswer(view, to({ name: 'www.example.com', edns: { do: true } }), 0, 60);
    expect(withEdns.readUInt16BE(10)).toBe(1);
    const p = decodePacket(withEdns);
    expect(optOf(p)).toMatchObject({ udpPayloadSize: 1232, flag_do: true, options: [] });
  });

  it('never modifies the (cached) view: two renders with different ids and ages are independent', () => {
    const view = walkResponse(upstream, questionLength);
    const before = Buffer.from(view.wire);
    const a = renderAnswer(view, to({ name: 'www.example.com', id: 1, edns: true }), 100, 60);
    const b = renderAnswer(view, to({ name: 'WWW.EXAMPLE.COM', id: 2 }), 0, 86400);
    expect(view.wire).toEqual(before);
    const pa = decodePacket(a);
    const pb = decodePacket(b);
    expect([pa.id, pb.id]).toEqual([1, 2]);
    expect(ttlsOf(pa.answers)).toEqual([60, 20]);
    expect(ttlsOf(pb.answers)).toEqual([300, 120]);
    expect(pb.questions[0]?.name).toBe('WWW.EXAMPLE.COM');
    expect(pa.questions[0]?.name).toBe('www.example.com');
  });
});
