import type * as dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { SERVFAIL, blockedText, refusedReply, sinkholeReply } from '../../src/answer/sinkhole.js';
import { encodeAnswer, encodeRejection } from '../../src/answer/encode.js';
import type { SinkholeResponse } from '../../src/config/types.js';
import { Query, type Answer, type Reply, type Transport } from '../../src/pipeline/types.js';
import { nullAddressRecord } from '../../src/wire/build.js';
import { EDE } from '../../src/wire/constants.js';
import { QTYPE } from '../../src/wire/qtypes.js';
import { decodeQuery } from '../../src/wire/query.js';
import { walkResponse } from '../../src/wire/response.js';
import {
  decodePacket, edeOf, header, mustDecode, optOf, optRecord, question, queryBytes, responseBytes, ttlsOf,
  type QueryOptions,
} from '../helpers/packets.js';
import { txtOfSize } from '../helpers/txt.js';

function queryOf(opts: QueryOptions, transport: Transport = 'udp'): Query {
  return new Query(mustDecode(queryBytes(opts)), '10.0.0.5', transport, 0);
}

function answer(reply: Reply): Answer {
  return { action: 'sinkhole', reason: 'denylist', reply, wouldBlock: false, verdict: undefined, fetched: null };
}

function forwarded(reply: Reply): Answer {
  return { action: 'forward', reason: 'allowlist', reply, wouldBlock: false, verdict: { action: 'forward', reason: 'allowlist', serve: 'upstream' }, fetched: null };
}

/** answers.max_ttl for these tests: high, so only ageing shows. */
const MAX_TTL = 3600;

const TEXT = blockedText('agent', 'denylist', 'evil.example');

describe('encodeAnswer: every sinkhole response, end to end', () => {
  it.each([
    ['nxdomain', 'A', 'NXDOMAIN', [], 1],
    ['nxdomain', 'HTTPS', 'NXDOMAIN', [], 1],
    ['nodata', 'A', 'NOERROR', [], 1],
    ['nodata', 'AAAA', 'NOERROR', [], 1],
    ['refused', 'A', 'REFUSED', [], 0],
    ['null-ip', 'A', 'NOERROR', ['0.0.0.0'], 0],
    ['null-ip', 'AAAA', 'NOERROR', ['::'], 0],
    ['null-ip', 'HTTPS', 'NOERROR', [], 1],             // no null address for HTTPS: NODATA
    ['null-ip', 'TXT', 'NOERROR', [], 1],
  ] as const)('%s for %s: %s, answers %j, %i SOA', (kind, type, rcode, addresses, soas) => {
    const t = type === 'HTTPS' ? 65 : type;
    for (const edns of [false, true]) {
      const q = queryOf({ name: 'Evil.Example', type: t, id: 0x6161, ...(edns ? { edns: true } : {}) });
      const p = decodePacket(encodeAnswer(q, answer(sinkholeReply(kind as SinkholeResponse, q.qtype, 30, TEXT)), MAX_TTL));
      expect(p.id).toBe(0x6161);
      expect(p.flag_qr).toBe(true);
      expect(p.flag_rd).toBe(true);
      expect(p.rcode).toBe(rcode);
      expect(p.questions[0]?.name).toBe('Evil.Example');
      expect(p.answers.map((a) => 'data' in a && a.data)).toEqual(addresses);
      expect(ttlsOf(p.answers)).toEqual(addresses.map(() => 30));
      expect(p.authorities).toHaveLength(soas);
      for (const soa of p.authorities) {
        expect(soa.type === 'SOA' && [soa.ttl, soa.data.minimum]).toEqual([30, 30]);
      }
      // The Extended DNS Error: only when the query carried EDNS.
      expect(edeOf(p)).toEqual(edns ? { infoCode: EDE.BLOCKED, text: TEXT } : undefined);
      expect(p.additionals).toHaveLength(edns ? 1 : 0);
    }
  });

  it('refusedReply for an unknown client carries EDE 18 Prohibited', () => {
    const q = queryOf({ name: 'example.com', edns: true });
    const p = decodePacket(encodeAnswer(q, { ...answer(refusedReply(EDE.PROHIBITED, 'intentdns: unknown client')), action: 'refuse', reason: 'unknown_client' }, MAX_TTL));
    expect(p.rcode).toBe('REFUSED');
    expect(edeOf(p)).toEqual({ infoCode: 18, text: 'intentdns: unknown client' });
  });

  it('SERVFAIL has no EDE', () => {
    const q = queryOf({ name: 'example.com', edns: true });
    const p = decodePacket(encodeAnswer(q, { ...answer(SERVFAIL), action: 'forward', reason: 'error' }, MAX_TTL));
    expect(p.rcode).toBe('SERVFAIL');
    expect(edeOf(p)).toBeUndefined();
  });

  it('echoes the CD bit', () => {
    const q = queryOf({ name: 'example.com', flags: 0x0010 });
    const p = decodePacket(encodeAnswer(q, answer(sinkholeReply('nxdomain', 1, 30, TEXT)), MAX_TTL));
    expect(p.flag_cd).toBe(true);
    expect(p.flag_rd).toBe(false);
  });
});

describe('encodeAnswer: upstream answers', () => {
  const upstream = responseBytes({
    id: 0x1234, name: 'cdn.example.com',
    answers: Array.from({ length: 120 }, (_, i) => ({ name: 'cdn.example.com', type: 'A' as const, ttl: 300, data: `10.1.${i >> 8}.${i & 0xff}` })),
  });
  const view = walkResponse(upstream, question('cdn.example.com').length);
  const reply: Reply = { kind: 'upstream', view, ageS: 20 };

  it('renders for this client: its id, its question case, aged TTLs', () => {
    const q = queryOf({ name: 'CDN.example.com', id: 0x2b2b, edns: { udpSize: 4096 } });
    const p = decodePacket(encodeAnswer(q, forwarded(reply), MAX_TTL));
    expect(p.id).toBe(0x2b2b);
    expect(p.questions[0]?.name).toBe('CDN.example.com');
    expect(p.flag_tc).toBe(false);
    expect(p.answers).toHaveLength(120);
    expect(new Set(ttlsOf(p.answers))).toEqual(new Set([280]));
    expect(optOf(p)?.udpPayloadSize).toBe(1232);
  });

  it('caps every TTL at answers.max_ttl, from the verdict, after ageing', () => {
    const p = decodePacket(encodeAnswer(queryOf({ name: 'cdn.example.com' }, 'tcp'), forwarded(reply), 60));
    expect(new Set(ttlsOf(p.answers))).toEqual(new Set([60]));
  });

  it('caps every TTL at the remaining life of the grant that let the name through', () => {
    const grant = { id: 'cmd_1', command: 'curl https://cdn.example.com/', approvedBy: 'alice', expiresAt: Date.now() + 42_500 };
    const granted: Answer = { ...forwarded(reply), reason: 'grant', verdict: { action: 'forward', reason: 'grant', serve: 'upstream', grant } };
    const p = decodePacket(encodeAnswer(queryOf({ name: 'cdn.example.com' }, 'tcp'), granted, MAX_TTL));
    expect(new Set(ttlsOf(p.answers))).toEqual(new Set([42]));
  });

  it('over UDP without EDNS, a 3000-byte answer is cut to 512 bytes with TC set', () => {
    const p = decodePacket(encodeAnswer(queryOf({ name: 'cdn.example.com' }), forwarded(reply), MAX_TTL));
    expect(p.flag_tc).toBe(true);
    expect(p.answers).toEqual([]);
    expect(p.questions).toHaveLength(1);
  });

  it('over UDP with EDNS 1232, the same answer is cut too, keeping an OPT', () => {
    const bytes = encodeAnswer(queryOf({ name: 'cdn.example.com', edns: true }), forwarded(reply), MAX_TTL);
    expect(bytes.length).toBeLessThanOrEqual(1232);
    const p = decodePacket(bytes);
    expect(p.flag_tc).toBe(true);
    expect(optOf(p)).toBeDefined();
  });

  it('over TCP, it is never cut', () => {
    const bytes = encodeAnswer(queryOf({ name: 'cdn.example.com' }, 'tcp'), forwarded(reply), MAX_TTL);
    expect(bytes.length).toBeGreaterThan(3000);
    expect(decodePacket(bytes).flag_tc).toBe(false);
  });

  it('over TCP with EDNS, an answer that fits only without our OPT goes out whole, without it', () => {
    // 65,530 bytes from an upstream that sent no OPT: ours (11 bytes) would pass the 65,535 a frame can carry.
    const big = responseBytes({ name: 'big.example.com', type: 'TXT', answers: [{ name: 'big.example.com', ...txtOfSize('big.example.com', 65_530) } as dnsPacket.Answer] });
    expect(big.length).toBe(65_530);
    const bigView = walkResponse(big, question('big.example.com', 16).length);
    const bytes = encodeAnswer(queryOf({ name: 'big.example.com', type: 'TXT', edns: true }, 'tcp'), forwarded({ kind: 'upstream', view: bigView, ageS: 0 }), MAX_TTL);
    expect(bytes.length).toBe(65_530);
    const p = decodePacket(bytes);
    expect(p.flag_tc).toBe(false);
    expect(p.answers).toHaveLength(1);
    expect(optOf(p)).toBeUndefined();
  });

  it('over TCP, a reply too long for any frame is cut to header, question and OPT with TC set, never dropped', () => {
    // 5000 records of 16 bytes: no answer we make is this long; the bound must hold anyway.
    const many: Reply = { kind: 'synthetic', rcode: 0, answers: Array.from({ length: 5000 }, () => nullAddressRecord(QTYPE.A, 30)) };
    const bytes = encodeAnswer(queryOf({ name: 'example.com', edns: true }, 'tcp'), answer(many), MAX_TTL);
    expect(bytes.length).toBeLessThanOrEqual(65_535);
    const p = decodePacket(bytes);
    expect(p.flag_tc).toBe(true);
    expect(p.answers).toEqual([]);
    expect(optOf(p)).toBeDefined();
  });

  it('a small synthetic reply over UDP is not cut', () => {
    const p = decodePacket(encodeAnswer(queryOf({ name: 'example.com' }), answer(sinkholeReply('null-ip', 1, 30, TEXT)), MAX_TTL));
    expect(p.flag_tc).toBe(false);
    expect(p.answers).toHaveLength(1);
  });

  it('a long EDE text over UDP without EDNS is never sent (no OPT) so it cannot push the reply over 512', () => {
    const long = 'x'.repeat(2000);
    const bytes = encodeAnswer(queryOf({ name: 'example.com' }), answer(sinkholeReply('refused', 1, 30, long)), MAX_TTL);
    expect(bytes.length).toBeLessThanOrEqual(512);
    expect(decodePacket(bytes).rcode).toBe('REFUSED');
  });
});

describe('encodeRejection', () => {
  const rejectionOf = (bytes: Buffer) => {
    const r = decodeQuery(bytes);
    if (r.ok) throw new Error('accepted');
    return r.rejection;
  };

  it('drops responses: no reply at all', () => {
    expect(encodeRejection(rejectionOf(Buffer.concat([header({ flags: 0x8000 }), question('example.com')])))).toBeNull();
  });

  it('answers BADVERS with extended rcode 1 and header rcode 0', () => {
    const reply = encodeRejection(rejectionOf(Buffer.concat([header({ id: 3, ar: 1 }), question('example.com'), optRecord({ version: 1 })])));
    const p = decodePacket(reply!);
    expect(p.id).toBe(3);
    expect(reply!.readUInt16BE(2) & 0xf).toBe(0);
    expect(optOf(p)?.extendedRcode).toBe(1);
  });

  it('echoes the opcode in a NOTIMP reply', () => {
    const p = decodePacket(encodeRejection(rejectionOf(Buffer.concat([header({ flags: 5 << 11 }), question('example.com')])))!);
    expect(p.rcode).toBe('NOTIMP');
    expect(p.opcode).toBe('UPDATE');
  });
});
