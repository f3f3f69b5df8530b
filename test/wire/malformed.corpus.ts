/**
 * Hostile and broken client packets, and what a client must get back for
 * each. Used by test/wire/malformed.test.ts (decodeQuery + encodeRejection);
 * reusable over real sockets, where `outcome` is what the client sees.
 *
 *   drop    — no reply at all (responses must never be answered; too short to have an id)
 *   FORMERR / NOTIMP / REFUSED — that rcode in the header
 *   BADVERS — header rcode 0 and extended rcode 1 in our OPT (RFC 6891 §6.1.3)
 */
import type { RejectReason } from '../../src/wire/query.js';
import {
  ednsOption, header, opcodeFlags, optRecord, question, queryBytes, u16, wireName, QR, RD,
} from '../helpers/packets.js';

export type Outcome = 'drop' | 'FORMERR' | 'NOTIMP' | 'REFUSED' | 'BADVERS';

export interface MalformedCase {
  readonly description: string;
  readonly bytes: Buffer;
  readonly outcome: Outcome;
  readonly reason: RejectReason;
  /** The question section the reply must echo, byte for byte; null when the reply has none. */
  readonly echo: Buffer | null;
}

/** Every case carries this id, so a reply can be checked for it. */
export const CORPUS_ID = 0xbeef;

const h = (o: Parameters<typeof header>[0] = {}): Buffer => header({ id: CORPUS_ID, ...o });
const good = question('example.com');
const cat = (...parts: Buffer[]): Buffer => Buffer.concat(parts);

/** A question whose name is built from raw labels (type A, class IN). */
const q = (...labels: Array<string | Buffer>): Buffer => question(wireName(...labels));

const exfil = q('exfil', 'allowed.com');
const latin = q(Buffer.from('caf\xe9', 'latin1'), 'com');
const utf8 = q(Buffer.from('café', 'utf8'), 'com');
const nul = q(Buffer.from('a\x00b', 'latin1'), 'com');
const bell = q(Buffer.from('a\x07b', 'latin1'), 'com');
const del = q(Buffer.from('a\x7fb', 'latin1'), 'com');
const space = q('my host', 'com');
const upperDot = q('Allowed.COM');

export const MALFORMED: readonly MalformedCase[] = [
  // ── too short to answer, or not a query at all ──
  { description: 'empty packet', bytes: Buffer.alloc(0), outcome: 'drop', reason: 'short', echo: null },
  { description: '11 bytes: shorter than a header', bytes: h().subarray(0, 11), outcome: 'drop', reason: 'short', echo: null },
  { description: 'QR set: a response is never answered', bytes: cat(h({ flags: QR | RD }), good), outcome: 'drop', reason: 'response', echo: null },
  { description: 'QR set on a header-only packet', bytes: h({ flags: QR, qd: 0 }), outcome: 'drop', reason: 'response', echo: null },
  { description: 'QR set with opcode NOTIFY', bytes: cat(h({ flags: QR | opcodeFlags(4) }), good), outcome: 'drop', reason: 'response', echo: null },

  // ── opcodes ──
  { description: 'opcode IQUERY (1)', bytes: cat(h({ flags: opcodeFlags(1) }), good), outcome: 'NOTIMP', reason: 'opcode', echo: null },
  { description: 'opcode STATUS (2)', bytes: cat(h({ flags: opcodeFlags(2) }), good), outcome: 'NOTIMP', reason: 'opcode', echo: null },
  { description: 'opcode NOTIFY (4)', bytes: cat(h({ flags: opcodeFlags(4) | 0x0400 }), good), outcome: 'NOTIMP', reason: 'opcode', echo: null },
  { description: 'opcode UPDATE (5)', bytes: cat(h({ flags: opcodeFlags(5) }), good), outcome: 'NOTIMP', reason: 'opcode', echo: null },
  { description: 'opcode 15', bytes: cat(h({ flags: opcodeFlags(15) }), good), outcome: 'NOTIMP', reason: 'opcode', echo: null },

  // ── section counts ──
  { description: 'qdcount 0, header only', bytes: h({ qd: 0 }), outcome: 'FORMERR', reason: 'qdcount', echo: null },
  { description: 'qdcount 0 with a question body', bytes: cat(h({ qd: 0 }), good), outcome: 'FORMERR', reason: 'qdcount', echo: null },
  { description: 'qdcount 2 with two questions', bytes: cat(h({ qd: 2 }), good, question('example.org')), outcome: 'FORMERR', reason: 'qdcount', echo: null },
  { description: 'qdcount 65535 with no body (dns-packet would allocate 65535 entries)', bytes: h({ qd: 65535 }), outcome: 'FORMERR', reason: 'qdcount', echo: null },
  { description: 'ancount 1 in a query', bytes: cat(h({ an: 1 }), good), outcome: 'FORMERR', reason: 'sections', echo: null },
  { description: 'nscount 1 in a query', bytes: cat(h({ ns: 1 }), good), outcome: 'FORMERR', reason: 'sections', echo: null },
  { description: 'ancount 65535', bytes: cat(h({ an: 65535 }), good), outcome: 'FORMERR', reason: 'sections', echo: null },
  { description: 'arcount 5 (more than four additional records)', bytes: cat(h({ ar: 5 }), good), outcome: 'FORMERR', reason: 'sections', echo: null },
  { description: 'arcount 65535', bytes: cat(h({ ar: 65535 }), good), outcome: 'FORMERR', reason: 'sections', echo: null },

  // ── the question name ──
  { description: 'header only: the question is missing', bytes: h(), outcome: 'FORMERR', reason: 'name', echo: null },
  { description: 'label length 64', bytes: cat(h(), q('a'.repeat(64), 'com')), outcome: 'FORMERR', reason: 'name', echo: null },
  { description: 'label length byte 0x80 (reserved label type)', bytes: cat(h(), Buffer.from([0x80, 0x61, 0]), u16(1), u16(1)), outcome: 'FORMERR', reason: 'name', echo: null },
  { description: 'label length byte 0x40 (extended label type)', bytes: cat(h(), Buffer.from([0x40, 0x61, 0]), u16(1), u16(1)), outcome: 'FORMERR', reason: 'name', echo: null },
  { description: '0xC0 compression pointer as the whole question name', bytes: cat(h(), Buffer.from([0xc0, 0x0c]), u16(1), u16(1)), outcome: 'FORMERR', reason: 'name', echo: null },
  { description: 'compression pointer after a label', bytes: cat(h(), Buffer.from([3, 0x77, 0x77, 0x77, 0xc0, 0x0c]), u16(1), u16(1)), outcome: 'FORMERR', reason: 'name', echo: null },
  { description: 'pointer loop: a pointer to itself', bytes: cat(h(), Buffer.from([1, 0x61, 0xc0, 0x0e]), u16(1), u16(1)), outcome: 'FORMERR', reason: 'name', echo: null },
  { description: 'forward pointer into the type field', bytes: cat(h(), Buffer.from([0xc0, 0x0e]), u16(1), u16(1)), outcome: 'FORMERR', reason: 'name', echo: null },
  { description: 'name of 256 wire bytes', bytes: cat(h(), q('a'.repeat(63), 'a'.repeat(63), 'a'.repeat(63), 'a'.repeat(62))), outcome: 'FORMERR', reason: 'name', echo: null },
  { description: 'name of five 63-byte labels (321 bytes)', bytes: cat(h(), q(...Array.from({ length: 5 }, () => 'x'.repeat(63)))), outcome: 'FORMERR', reason: 'name', echo: null },
  { description: 'label runs past the end of the packet', bytes: cat(h(), Buffer.from([10, 0x61, 0x62, 0x63])), outcome: 'FORMERR', reason: 'name', echo: null },
  { description: 'name without its root byte', bytes: cat(h(), Buffer.from([3, 0x63, 0x6f, 0x6d])), outcome: 'FORMERR', reason: 'name', echo: null },
  { description: 'question cut in the middle of the type', bytes: cat(h(), wireName('example', 'com'), Buffer.from([0])), outcome: 'FORMERR', reason: 'name', echo: null },
  { description: 'question cut after the type', bytes: cat(h(), wireName('example', 'com'), u16(1)), outcome: 'FORMERR', reason: 'name', echo: null },
  { description: 'question cut in the middle of the class', bytes: cat(h(), wireName('example', 'com'), u16(1), Buffer.from([0])), outcome: 'FORMERR', reason: 'name', echo: null },

  // ── label bytes we will not judge: REFUSED, never forwarded ──
  { description: 'label containing "." (exfil | allowed.com would be judged as a subdomain of allowed.com)', bytes: cat(h(), exfil), outcome: 'REFUSED', reason: 'label_bytes', echo: exfil },
  { description: 'label with a latin1 byte >= 0x80', bytes: cat(h(), latin), outcome: 'REFUSED', reason: 'label_bytes', echo: latin },
  { description: 'label with UTF-8 (raw IDN instead of punycode)', bytes: cat(h(), utf8), outcome: 'REFUSED', reason: 'label_bytes', echo: utf8 },
  { description: 'label with a NUL byte', bytes: cat(h(), nul), outcome: 'REFUSED', reason: 'label_bytes', echo: nul },
  { description: 'label with a control byte (0x07)', bytes: cat(h(), bell), outcome: 'REFUSED', reason: 'label_bytes', echo: bell },
  { description: 'label with DEL (0x7f)', bytes: cat(h(), del), outcome: 'REFUSED', reason: 'label_bytes', echo: del },
  { description: 'label with a space', bytes: cat(h(), space), outcome: 'REFUSED', reason: 'label_bytes', echo: space },
  { description: 'one label "Allowed.COM" (case does not help it through)', bytes: cat(h(), upperDot), outcome: 'REFUSED', reason: 'label_bytes', echo: upperDot },

  // ── class and type ──
  { description: 'class CH (version.bind style)', bytes: cat(h(), question('version.bind', 16, 3)), outcome: 'REFUSED', reason: 'class', echo: question('version.bind', 16, 3) },
  { description: 'class HS', bytes: cat(h(), question('example.com', 1, 4)), outcome: 'REFUSED', reason: 'class', echo: question('example.com', 1, 4) },
  { description: 'class ANY (255)', bytes: cat(h(), question('example.com', 1, 255)), outcome: 'REFUSED', reason: 'class', echo: question('example.com', 1, 255) },
  { description: 'class 0', bytes: cat(h(), question('example.com', 1, 0)), outcome: 'REFUSED', reason: 'class', echo: question('example.com', 1, 0) },
  { description: 'class IN with the mDNS QU bit (0x8001)', bytes: cat(h(), question('example.com', 1, 0x8001)), outcome: 'REFUSED', reason: 'class', echo: question('example.com', 1, 0x8001) },
  { description: 'qtype 0', bytes: cat(h(), question('example.com', 0)), outcome: 'FORMERR', reason: 'qtype', echo: question('example.com', 0) },
  { description: 'qtype OPT (41)', bytes: cat(h(), question('example.com', 41)), outcome: 'FORMERR', reason: 'qtype', echo: question('example.com', 41) },
  { description: 'AXFR', bytes: cat(h(), question('example.com', 252)), outcome: 'REFUSED', reason: 'qtype', echo: question('example.com', 252) },
  { description: 'IXFR', bytes: cat(h(), question('example.com', 251)), outcome: 'REFUSED', reason: 'qtype', echo: question('example.com', 251) },
  { description: 'TKEY', bytes: cat(h(), question('example.com', 249)), outcome: 'REFUSED', reason: 'qtype', echo: question('example.com', 249) },
  { description: 'TSIG as a qtype', bytes: cat(h(), question('example.com', 250)), outcome: 'REFUSED', reason: 'qtype', echo: question('example.com', 250) },

  // ── EDNS ──
  { description: 'two OPT records', bytes: cat(h({ ar: 2 }), good, optRecord(), optRecord()), outcome: 'FORMERR', reason: 'edns', echo: good },
  { description: 'OPT owned by example.com, not the root', bytes: cat(h({ ar: 1 }), good, optRecord({ owner: wireName('example', 'com') })), outcome: 'FORMERR', reason: 'edns', echo: good },
  { description: 'OPT owned by a pointer to the question name', bytes: cat(h({ ar: 1 }), good, optRecord({ owner: Buffer.from([0xc0, 0x0c]) })), outcome: 'FORMERR', reason: 'edns', echo: good },
  { description: 'OPT with an option cut in its data', bytes: cat(h({ ar: 1 }), good, optRecord({ rdata: ednsOption(10, Buffer.alloc(8)).subarray(0, 6) })), outcome: 'FORMERR', reason: 'edns', echo: good },
  { description: 'OPT with an option cut in its header', bytes: cat(h({ ar: 1 }), good, optRecord({ rdata: Buffer.from([0, 10, 0]) })), outcome: 'FORMERR', reason: 'edns', echo: good },
  { description: 'OPT rdlength beyond the packet', bytes: cat(h({ ar: 1 }), good, optRecord({ rdlength: 40 })), outcome: 'FORMERR', reason: 'edns', echo: good },
  { description: 'OPT cut in its fixed fields', bytes: cat(h({ ar: 1 }), good, optRecord().subarray(0, 7)), outcome: 'FORMERR', reason: 'edns', echo: good },
  { description: 'arcount 1 but no additional record', bytes: cat(h({ ar: 1 }), good), outcome: 'FORMERR', reason: 'edns', echo: good },
  { description: 'additional record with label length 64 in its owner', bytes: cat(h({ ar: 1 }), good, Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.alloc(11)), outcome: 'FORMERR', reason: 'edns', echo: good },
  { description: 'EDNS version 1', bytes: cat(h({ ar: 1 }), good, optRecord({ version: 1 })), outcome: 'BADVERS', reason: 'edns_version', echo: good },
  { description: 'EDNS version 255', bytes: cat(h({ ar: 1 }), good, optRecord({ version: 255, do: true })), outcome: 'BADVERS', reason: 'edns_version', echo: good },

  // ── trailing bytes ──
  { description: 'trailing garbage after the question', bytes: cat(h(), good, Buffer.from('garbage')), outcome: 'FORMERR', reason: 'trailing', echo: good },
  { description: 'one trailing zero byte', bytes: cat(h(), good, Buffer.from([0])), outcome: 'FORMERR', reason: 'trailing', echo: good },
  { description: 'trailing garbage after the OPT record', bytes: cat(h({ ar: 1 }), good, optRecord(), Buffer.from([1, 2, 3])), outcome: 'FORMERR', reason: 'trailing', echo: good },
  { description: 'a second message glued after a valid one', bytes: cat(queryBytes({ name: 'example.com', id: CORPUS_ID }), queryBytes({ name: 'evil.example' })), outcome: 'FORMERR', reason: 'trailing', echo: good },
];
