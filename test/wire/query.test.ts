import * as dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { buildQuery } from '../../src/wire/build.js';
import { decodeQuery } from '../../src/wire/query.js';
import {
  CD, RD, decodePacket, ednsOption, header, mustDecode, optRecord, question, queryBytes, wireName,
} from '../helpers/packets.js';

/** Good queries. The hostile ones live in malformed.corpus.ts / malformed.test.ts. */

describe('decodeQuery: the name we judge', () => {
  it.each([
    ['A', 1], ['AAAA', 28], ['HTTPS', 65], ['SVCB', 64], ['TYPE65280', 65280],
  ])('accepts a %s query and reports its numeric type', (_label, type) => {
    const q = mustDecode(queryBytes({ name: 'example.com', type }));
    expect(q.question.name).toBe('example.com');
    expect(q.question.type).toBe(type);
  });

  it('lower-cases the judged name: Example.COM is judged as example.com', () => {
    expect(mustDecode(queryBytes({ name: 'Example.COM' })).question.name).toBe('example.com');
  });

  it('drops the trailing dot: "example.com." is judged as example.com', () => {
    expect(mustDecode(queryBytes({ name: 'example.com.' })).question.name).toBe('example.com');
  });

  it('judges the root as the empty name', () => {
    const q = mustDecode(Buffer.concat([header(), question('', 2)]));
    expect(q.question.name).toBe('');
    expect(q.question.type).toBe(2);
  });

  it('accepts underscores and hyphens (SRV and DMARC names)', () => {
    expect(mustDecode(queryBytes({ name: '_443._tcp.my-host.example.org', type: 'SRV' })).question.name)
      .toBe('_443._tcp.my-host.example.org');
  });

  it('accepts a 63-byte label and a name of exactly 255 wire bytes', () => {
    const l63 = 'a'.repeat(63);
    const name = [l63, l63, l63, 'b'.repeat(61)];          // 4 + 250 + 1 = 255 bytes on the wire
    const q = mustDecode(Buffer.concat([header(), question(wireName(...name))]));
    expect(q.question.name).toBe(name.join('.'));
    expect(q.question.wire.length - 4).toBe(255);
  });

  it('keeps the id', () => {
    expect(mustDecode(queryBytes({ name: 'example.com', id: 0xbeef })).id).toBe(0xbeef);
  });
});

describe('decodeQuery: the bytes we forward and echo', () => {
  it('question.wire is lower-cased; question.raw keeps the client\'s 0x20 case mixing', () => {
    const bytes = queryBytes({ name: 'ExAmPlE.CoM', type: 'AAAA' });
    const q = mustDecode(bytes);
    expect(q.question.wire).toEqual(question('example.com', 28));
    expect(q.question.raw).toEqual(question('ExAmPlE.CoM', 28));
    expect(q.question.raw).toEqual(bytes.subarray(12));
  });

  it('does not lower-case type and class bytes in question.wire (HTTPS is 0x0041, "A")', () => {
    const q = mustDecode(queryBytes({ name: 'Example.com', type: 65 }));
    expect(q.question.wire).toEqual(question('example.com', 65));
  });

  it('the query we forward upstream carries exactly the judged name (dns-packet agrees)', () => {
    const q = mustDecode(queryBytes({ name: 'WWW.Example.ORG', type: 'AAAA' }));
    const sent = decodePacket(buildQuery(7, q.question.wire, { dnssecOk: false, checkingDisabled: false }));
    expect(sent.questions).toEqual([{ name: q.question.name, type: 'AAAA', class: 'IN' }]);
  });

  it('question.wire is its own copy: reusing the receive buffer cannot change what we forward', () => {
    const bytes = queryBytes({ name: 'example.com' });
    const q = mustDecode(bytes);
    bytes.fill(0x41, 12);
    expect(q.question.wire).toEqual(question('example.com'));
  });
});

describe('decodeQuery: header bits', () => {
  it.each([
    ['RD', RD, true, false],
    ['CD', CD, false, true],
    ['RD and CD', RD | CD, true, true],
    ['neither', 0, false, false],
  ])('reads %s', (_label, flags, rd, cd) => {
    const q = mustDecode(queryBytes({ name: 'example.com', flags }));
    expect(q.recursionDesired).toBe(rd);
    expect(q.checkingDisabled).toBe(cd);
  });

  it('ignores AD, TC and Z bits a client may set', () => {
    expect(mustDecode(queryBytes({ name: 'example.com', flags: RD | 0x0020 | 0x0040 | 0x0200 })).question.name)
      .toBe('example.com');
  });
});

describe('decodeQuery: EDNS', () => {
  it('a query without OPT has no EDNS (replies then carry no OPT and are limited to 512 bytes)', () => {
    expect(mustDecode(queryBytes({ name: 'example.com' })).edns).toBeNull();
  });

  it.each([
    [0, 512], [100, 512], [511, 512], [512, 512], [1232, 1232], [4096, 4096], [4097, 4096], [65535, 4096],
  ])('clamps the advertised UDP size %i to %i', (advertised, clamped) => {
    const bytes = Buffer.concat([header({ ar: 1 }), question('example.com'), optRecord({ udpSize: advertised })]);
    expect(mustDecode(bytes).edns).toEqual({ udpSize: clamped, dnssecOk: false, version: 0 });
  });

  it('reads the DO bit', () => {
    expect(mustDecode(queryBytes({ name: 'example.com', edns: { do: true } })).edns?.dnssecOk).toBe(true);
    expect(mustDecode(queryBytes({ name: 'example.com', edns: { do: false } })).edns?.dnssecOk).toBe(false);
  });

  it('accepts options (cookie, client subnet, padding) and does not pass them on', () => {
    const bytes = queryBytes({
      name: 'example.com',
      edns: { options: [
        { code: 10, data: Buffer.alloc(8, 1) },
        { code: 8, data: Buffer.from([0, 1, 24, 0, 192, 0, 2]) },
        { code: 12, data: Buffer.alloc(16) },
      ] },
    });
    const q = mustDecode(bytes);
    expect(q.edns).toEqual({ udpSize: 1232, dnssecOk: false, version: 0 });
    expect(q.question.wire).toEqual(question('example.com'));
  });

  it('accepts an option with empty data', () => {
    const bytes = Buffer.concat([header({ ar: 1 }), question('example.com'), optRecord({ rdata: ednsOption(10) })]);
    expect(mustDecode(bytes).edns).not.toBeNull();
  });

  it('skips non-OPT additional records (up to four records in all)', () => {
    const other = Buffer.concat([wireName('key'), Buffer.from([0, 16, 0, 1, 0, 0, 0, 0, 0, 1, 0])]);   // TXT, rdlen 1
    const bytes = Buffer.concat([header({ ar: 4 }), question('example.com'), other, other, optRecord(), other]);
    const q = mustDecode(bytes);
    expect(q.question.name).toBe('example.com');
    expect(q.edns).not.toBeNull();
  });
});

describe('dns-packet pitfalls we are not exposed to (STYLE.md §4)', () => {
  it('§8: a label containing "." reads as two labels to dns-packet, but we never accept it', () => {
    const bytes = Buffer.concat([header(), question(wireName('exfil', 'allowed.com'))]);
    expect(dnsPacket.decode(bytes).questions?.[0]?.name).toBe('exfil.allowed.com');
    const r = decodeQuery(bytes);
    expect(r.ok).toBe(false);
  });

  it('§8: two different non-ASCII names look the same to dns-packet, but we accept neither', () => {
    const a = Buffer.concat([header(), question(wireName(Buffer.from([0x80]), 'com'))]);
    const b = Buffer.concat([header(), question(wireName(Buffer.from([0xff]), 'com'))]);
    expect(dnsPacket.decode(a).questions?.[0]?.name).toBe(dnsPacket.decode(b).questions?.[0]?.name);
    expect(decodeQuery(a).ok).toBe(false);
    expect(decodeQuery(b).ok).toBe(false);
  });

  it('§7: dns-packet ignores trailing bytes; we do not', () => {
    const bytes = Buffer.concat([queryBytes({ name: 'example.com' }), Buffer.from('junk')]);
    expect(() => dnsPacket.decode(bytes)).not.toThrow();
    expect(decodeQuery(bytes).ok).toBe(false);
  });

  it('§13: class is checked in full, so IN with the mDNS "unicast response" bit (0x8001) is not IN', () => {
    const r = decodeQuery(Buffer.concat([header(), question('example.com', 1, 0x8001)]));
    expect(r.ok).toBe(false);
  });
});
