import { describe, expect, it } from 'vitest';
import { SERVFAIL, blockedText, refusedReply, sinkholeReply } from '../../src/answer/sinkhole.js';
import { buildReply } from '../../src/wire/build.js';
import { EDE, RCODE } from '../../src/wire/constants.js';
import { QTYPE } from '../../src/wire/qtypes.js';
import type { Reply } from '../../src/pipeline/types.js';
import { decodePacket, edeOf, mustDecode, queryBytes, replyToFor } from '../helpers/packets.js';

/** Sinkhole values, read through the bytes a client gets (buildReply, dns-packet). */
function decoded(reply: Reply, type: number | 'A' | 'AAAA' = 'A') {
  if (reply.kind !== 'synthetic') throw new Error('not synthetic');
  return decodePacket(buildReply(replyToFor(mustDecode(queryBytes({ name: 'evil.example', type, edns: true }))), reply));
}

describe('sinkholeReply', () => {
  it('nxdomain: NXDOMAIN with an SOA of the sinkhole TTL, EDE Blocked', () => {
    const r = sinkholeReply('nxdomain', QTYPE.A, 45, 'why');
    expect(r).toMatchObject({ kind: 'synthetic', rcode: RCODE.NXDOMAIN, ede: { code: EDE.BLOCKED, text: 'why' } });
    const p = decoded(r);
    expect(p.rcode).toBe('NXDOMAIN');
    expect(p.authorities.map((a) => a.type === 'SOA' && [a.ttl, a.data.minimum])).toEqual([[45, 45]]);
  });

  it('nodata: NOERROR, no answers, an SOA of the sinkhole TTL', () => {
    const p = decoded(sinkholeReply('nodata', QTYPE.AAAA, 10, 'why'), 'AAAA');
    expect(p.rcode).toBe('NOERROR');
    expect(p.answers).toEqual([]);
    expect(p.authorities.map((a) => a.type === 'SOA' && [a.ttl, a.data.minimum])).toEqual([[10, 10]]);
  });

  it('refused: REFUSED with no records', () => {
    const r = sinkholeReply('refused', QTYPE.A, 10, 'why');
    expect(r).toEqual({ kind: 'synthetic', rcode: RCODE.REFUSED, ede: { code: EDE.BLOCKED, text: 'why' } });
    const p = decoded(r);
    expect(p.rcode).toBe('REFUSED');
    expect([...p.answers, ...p.authorities]).toEqual([]);
  });

  it.each([
    [QTYPE.A, 'A', '0.0.0.0'], [QTYPE.AAAA, 'AAAA', '::'],
  ] as const)('null-ip for type %i answers %s %s with the sinkhole TTL', (qtype, type, address) => {
    const p = decoded(sinkholeReply('null-ip', qtype, 12, 'why'), type);
    expect(p.rcode).toBe('NOERROR');
    expect(p.answers).toEqual([expect.objectContaining({ name: 'evil.example', type, ttl: 12, data: address })]);
    expect(p.authorities).toEqual([]);
  });

  it.each([QTYPE.TXT, QTYPE.HTTPS, QTYPE.CNAME])('null-ip for type %i, which has no null address, answers NODATA', (qtype) => {
    const p = decoded(sinkholeReply('null-ip', qtype, 12, 'why'), qtype);
    expect(p.rcode).toBe('NOERROR');
    expect(p.answers).toEqual([]);
    expect(p.authorities).toHaveLength(1);
    expect(p.authorities[0]?.type).toBe('SOA');
  });

  it('every kind carries EDE 15 Blocked with the text', () => {
    for (const kind of ['nxdomain', 'nodata', 'refused', 'null-ip'] as const) {
      expect(edeOf(decoded(sinkholeReply(kind, QTYPE.A, 5, 'because')))).toEqual({ infoCode: 15, text: 'because' });
    }
  });
});

describe('refusedReply and SERVFAIL', () => {
  it('refusedReply carries the EDE code it is given', () => {
    const p = decoded(refusedReply(EDE.PROHIBITED, 'not a known client'));
    expect(p.rcode).toBe('REFUSED');
    expect(edeOf(p)).toEqual({ infoCode: 18, text: 'not a known client' });
  });

  it('SERVFAIL is SERVFAIL without EDE', () => {
    const p = decoded(SERVFAIL);
    expect(p.rcode).toBe('SERVFAIL');
    expect(edeOf(p)).toBeUndefined();
  });
});

describe('blockedText', () => {
  it('names the reason and the role, and the operator\'s hint when there is one', () => {
    expect(blockedText('builder', 'denylist')).toBe('intentdns: denylist (role builder)');
    expect(blockedText('builder', 'unlisted', 'ask in #agents')).toBe('intentdns: unlisted (role builder); ask in #agents');
  });
});
