import { describe, expect, it } from 'vitest';
import { encodeRejection } from '../../src/answer/encode.js';
import { buildQuery } from '../../src/wire/build.js';
import { RCODE } from '../../src/wire/constants.js';
import { decodeQuery, type DecodeResult } from '../../src/wire/query.js';
import {
  decodePacket, ednsOption, header, optOf, optRecord, question, queryBytes, wireName,
} from '../helpers/packets.js';
import { CORPUS_ID, MALFORMED, type Outcome } from './malformed.corpus.js';
import { prng } from '../helpers/prng.js';

const RCODE_OF: Record<Exclude<Outcome, 'drop'>, { header: string; number: number }> = {
  FORMERR: { header: 'FORMERR', number: RCODE.FORMERR },
  NOTIMP: { header: 'NOTIMP', number: RCODE.NOTIMP },
  REFUSED: { header: 'REFUSED', number: RCODE.REFUSED },
  BADVERS: { header: 'NOERROR', number: RCODE.NOERROR },
};

describe('malformed-packet corpus: decodeQuery + encodeRejection', () => {
  it.each(MALFORMED.map((c) => [c.description, c] as const))('%s', (_d, c) => {
    const r = decodeQuery(c.bytes);
    if (r.ok) throw new Error(`accepted as ${r.query.question.name}`);
    const { rejection } = r;
    expect(rejection.reason).toBe(c.reason);

    const reply = encodeRejection(rejection);
    if (c.outcome === 'drop') {
      expect(rejection.rcode).toBeNull();
      expect(reply).toBeNull();
      return;
    }
    const want = RCODE_OF[c.outcome];
    expect(rejection.rcode).toBe(want.number);
    expect(rejection.badVersion === true).toBe(c.outcome === 'BADVERS');
    if (!reply) throw new Error('no reply');

    // What the client sees, read by an independent decoder.
    const p = decodePacket(reply);
    expect(p.id).toBe(CORPUS_ID);
    expect(p.flag_qr).toBe(true);
    expect(p.rcode).toBe(want.header);
    expect(p.answers).toEqual([]);
    expect(p.authorities).toEqual([]);
    if (c.echo) {
      expect(reply.readUInt16BE(4)).toBe(1);
      expect(reply.subarray(12, 12 + c.echo.length)).toEqual(c.echo);
    } else {
      expect(reply.readUInt16BE(4)).toBe(0);
      expect(reply.length).toBe(12);
    }
    if (c.outcome === 'BADVERS') {
      const opt = optOf(p);
      expect(opt?.extendedRcode).toBe(1);             // 16 = BADVERS
      expect(opt?.ednsVersion).toBe(0);               // the version we do speak
    }
    if (c.outcome === 'NOTIMP') {
      // The opcode is copied into the reply (RFC 1035 §4.1.1), or the sender does not match it to its request.
      expect(reply[2]! & 0x78).toBe(c.bytes[2]! & 0x78);
    }
  });

  it('a refused label in an EDNS query gets a REFUSED reply with an OPT record and no EDE', () => {
    const exfil = question(wireName('exfil', 'allowed.com'));
    const r = decodeQuery(Buffer.concat([header({ id: 9, ar: 1 }), exfil, optRecord({ do: true })]));
    if (r.ok) throw new Error('accepted');
    const p = decodePacket(encodeRejection(r.rejection)!);
    expect(p.rcode).toBe('REFUSED');
    expect(optOf(p)?.flag_do).toBe(true);
    expect(optOf(p)?.options).toEqual([]);
  });

  it('a FORMERR for bad EDNS carries no OPT (we could not read the client\'s)', () => {
    const r = decodeQuery(Buffer.concat([header({ ar: 2 }), question('example.com'), optRecord(), optRecord()]));
    if (r.ok) throw new Error('accepted');
    expect(r.rejection.edns).toBeNull();
    expect(optOf(decodePacket(encodeRejection(r.rejection)!))).toBeUndefined();
  });

  it('qdcount 65535 is rejected from the header alone, without reading on', () => {
    const start = performance.now();
    for (let i = 0; i < 10_000; i++) decodeQuery(header({ qd: 65535 }));
    expect(performance.now() - start).toBeLessThan(500);
  });
});


const LABEL_OK = /^[\x21-\x2d\x2f-\x40\x5b-\x7e]+$/;    // printable ASCII, no dot, no upper case

/**
 * What must hold for any input: no throw; a rejection has an rcode we send
 * (or null: drop) and encodes to a reply a client can read; an accepted
 * query's name is canonical and is exactly what we would forward.
 */
function checkInvariants(buf: Buffer, label: string): DecodeResult {
  let r: DecodeResult;
  try {
    r = decodeQuery(buf);
  } catch (err) {
    throw new Error(`${label}: decodeQuery threw on ${buf.toString('hex')}: ${String(err)}`);
  }
  if (!r.ok) {
    const { rcode } = r.rejection;
    expect([null, RCODE.NOERROR, RCODE.FORMERR, RCODE.NOTIMP, RCODE.REFUSED], label).toContain(rcode);
    const reply = encodeRejection(r.rejection);
    if (rcode === null) {
      expect(reply, label).toBeNull();
    } else {
      const p = decodePacket(reply!);
      expect(p.id, label).toBe(buf.readUInt16BE(0));
      expect(p.flag_qr, label).toBe(true);
    }
    return r;
  }
  const q = r.query.question;
  for (const l of q.name === '' ? [] : q.name.split('.')) expect(l, label).toMatch(LABEL_OK);
  expect(q.wire.length, label).toBe(q.raw.length);
  const forwarded = decodePacket(buildQuery(1, q.wire, { dnssecOk: false, checkingDisabled: false }));
  expect(forwarded.questions[0]?.name, label).toBe(q.name);
  return r;
}

describe('decodeQuery on random input (seeded; a failure prints its seed and bytes)', () => {
  it('random buffers of 0..600 bytes never throw', () => {
    const rnd = prng(0x1d45);
    for (let i = 0; i < 3000; i++) checkInvariants(rnd.bytes(rnd.int(600)), `random #${i}`);
  });

  it('random bodies behind a plausible header never throw', () => {
    const rnd = prng(0x5eed);
    for (let i = 0; i < 3000; i++) {
      const body = rnd.bytes(rnd.int(80));
      checkInvariants(Buffer.concat([header({ id: i, ar: rnd.int(3) }), body]), `body #${i}`);
    }
  });

  const seedQuery = Buffer.concat([
    header({ id: 0x4242, ar: 1 }),
    question('WwW.Example.COM', 65),
    optRecord({ udpSize: 1400, do: true, rdata: Buffer.concat([ednsOption(10, Buffer.alloc(8, 7)), ednsOption(8, Buffer.from([0, 1, 24, 0, 10, 1, 2]))]) }),
  ]);

  it('the seed query itself is accepted (so the mutations start from a valid query)', () => {
    const r = checkInvariants(seedQuery, 'seed');
    expect(r.ok && r.query.question.name).toBe('www.example.com');
  });

  it('every single-byte mutation of a valid query either decodes to a canonical name or is rejected', () => {
    const rnd = prng(0xdecaf);
    const outcomes = new Set<string>();
    for (let i = 0; i < 4000; i++) {
      const buf = Buffer.from(seedQuery);
      const at = rnd.int(buf.length);
      buf[at] = rnd.int(256);
      const r = checkInvariants(buf, `mutation #${i} (byte ${at})`);
      outcomes.add(r.ok ? 'ok' : r.rejection.reason);
    }
    // The mutations reach far into the parser, not just the first check.
    expect(outcomes.size).toBeGreaterThanOrEqual(8);
  });

  it('several-byte mutations, truncations and extensions never throw', () => {
    const rnd = prng(0xfeed);
    for (let i = 0; i < 2000; i++) {
      let buf = Buffer.from(seedQuery);
      for (let k = rnd.int(4) + 1; k > 0; k--) buf[rnd.int(buf.length)] = rnd.int(256);
      if (rnd.int(3) === 0) buf = buf.subarray(0, rnd.int(buf.length + 1));
      if (rnd.int(3) === 0) buf = Buffer.concat([buf, rnd.bytes(rnd.int(20))]);
      checkInvariants(buf, `multi #${i}`);
    }
  });

  it('every prefix of a valid query is rejected, never accepted and never a throw', () => {
    for (let n = 0; n < seedQuery.length; n++) {
      expect(checkInvariants(seedQuery.subarray(0, n), `prefix ${n}`).ok).toBe(false);
    }
    expect(checkInvariants(queryBytes({ name: 'example.com' }), 'plain').ok).toBe(true);
  });
});
