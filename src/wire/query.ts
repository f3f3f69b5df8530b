import {
  CLASS_IN, FLAG, HEADER_SIZE, MAX_LABEL_LENGTH, MAX_NAME_WIRE_LENGTH, OPCODE_QUERY, RCODE,
  UDP_MAX_PAYLOAD, UDP_MIN_PAYLOAD,
} from './constants.js';
import { isLabelByte } from './names.js';
import { QTYPE } from './qtypes.js';

/**
 * Parsing of client queries. The wire is hostile: this is written by hand
 * instead of with dns-packet so that the name we judge is, byte for byte, the
 * name we forward (dns-packet joins a label containing "." into two labels and
 * maps bytes >= 0x80 to U+FFFD). Only the checked question is ever sent on.
 */

export interface Edns {
  readonly udpSize: number;     // the client's payload size, clamped to [512, 4096]
  readonly dnssecOk: boolean;
  readonly version: number;
}

export interface Question {
  readonly name: string;        // lower-case, no trailing dot; "" is the root
  readonly type: number;
  /** The question section as we send it upstream: lower-cased labels, type, class IN. */
  readonly wire: Buffer;
  /** The question section as the client wrote it, echoed in replies (keeps 0x20 case mixing intact). */
  readonly raw: Buffer;
}

export interface DecodedQuery {
  readonly id: number;
  readonly recursionDesired: boolean;
  readonly checkingDisabled: boolean;
  readonly question: Question;
  readonly edns: Edns | null;
}

/** Why a packet is not answered normally; `rcode` null means drop it silently. */
export type RejectReason =
  | 'short' | 'response' | 'opcode' | 'qdcount' | 'sections' | 'name' | 'label_bytes'
  | 'class' | 'qtype' | 'edns' | 'edns_version' | 'trailing';

export interface Rejection {
  readonly reason: RejectReason;
  readonly detail: string;
  readonly rcode: number | null;
  /** Enough to build an error reply: the id, the client's own question bytes when we got that far. */
  readonly id: number;
  readonly rawQuestion: Buffer | null;
  readonly edns: Edns | null;
  readonly badVersion?: boolean;
  /** The opcode we do not implement, echoed in the NOTIMP reply (RFC 1035 §4.1.1: copied into the response). */
  readonly opcode?: number;
}

export type DecodeResult = { ok: true; query: DecodedQuery } | { ok: false; rejection: Rejection };

const MAX_ADDITIONAL = 4;
const TYPE_OPT = QTYPE.OPT;
/** Types a stub resolver never has a reason to send us: zone transfers and transaction keys. */
const REFUSED_TYPES = new Set<number>([QTYPE.AXFR, QTYPE.IXFR, 249 /* TKEY */, 250 /* TSIG */]);

export function decodeQuery(buf: Buffer): DecodeResult {
  if (buf.length < HEADER_SIZE) return reject('short', 'shorter than a DNS header', null, 0);
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & FLAG.QR) return reject('response', 'QR bit set', null, id);
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== OPCODE_QUERY) {
    return { ok: false, rejection: { reason: 'opcode', detail: `opcode ${opcode}`, rcode: RCODE.NOTIMP, id, rawQuestion: null, edns: null, opcode } };
  }
  const qdcount = buf.readUInt16BE(4);
  const ancount = buf.readUInt16BE(6);
  const nscount = buf.readUInt16BE(8);
  const arcount = buf.readUInt16BE(10);
  if (qdcount !== 1) return reject('qdcount', `${qdcount} questions`, RCODE.FORMERR, id);
  if (ancount !== 0 || nscount !== 0 || arcount > MAX_ADDITIONAL) {
    return reject('sections', 'records in a query beyond one OPT', RCODE.FORMERR, id);
  }

  const parsed = parseQuestionName(buf, HEADER_SIZE);
  if (typeof parsed === 'string') return reject('name', parsed, RCODE.FORMERR, id);
  const qEnd = parsed.end + 4;
  if (qEnd > buf.length) return reject('name', 'question cut short', RCODE.FORMERR, id);
  const rawQuestion = buf.subarray(HEADER_SIZE, qEnd);
  const type = buf.readUInt16BE(parsed.end);
  const qclass = buf.readUInt16BE(parsed.end + 2);

  const additional = parseAdditional(buf, qEnd, arcount);
  if (typeof additional === 'string') return reject('edns', additional, RCODE.FORMERR, id, rawQuestion);
  const { edns, end } = additional;
  if (end !== buf.length) return reject('trailing', `${buf.length - end} bytes after the message`, RCODE.FORMERR, id, rawQuestion);
  if (edns && edns.version !== 0) {
    return { ok: false, rejection: { reason: 'edns_version', detail: `EDNS version ${edns.version}`, rcode: 0, id, rawQuestion, edns, badVersion: true } };
  }
  if (!parsed.clean) return reject('label_bytes', 'label with "." or a byte outside printable ASCII', RCODE.REFUSED, id, rawQuestion, edns);
  if (qclass !== CLASS_IN) return reject('class', `class ${qclass}`, RCODE.REFUSED, id, rawQuestion, edns);
  if (type === 0 || type === TYPE_OPT) return reject('qtype', `type ${type}`, RCODE.FORMERR, id, rawQuestion, edns);
  if (REFUSED_TYPES.has(type)) return reject('qtype', `type ${type}`, RCODE.REFUSED, id, rawQuestion, edns);

  const wire = Buffer.allocUnsafe(rawQuestion.length);
  rawQuestion.copy(wire);
  lowerCaseLabels(wire, parsed.end - HEADER_SIZE);
  return {
    ok: true,
    query: {
      id,
      recursionDesired: (flags & FLAG.RD) !== 0,
      checkingDisabled: (flags & FLAG.CD) !== 0,
      question: { name: parsed.name, type, wire, raw: rawQuestion },
      edns,
    },
  };
}

function reject(
  reason: RejectReason, detail: string, rcode: number | null, id: number,
  rawQuestion: Buffer | null = null, edns: Edns | null = null,
): DecodeResult {
  return { ok: false, rejection: { reason, detail, rcode, id, rawQuestion, edns } };
}

/** Where the question name is put together: one string is made per query, not one per label. */
const NAME_SCRATCH = Buffer.allocUnsafe(MAX_NAME_WIRE_LENGTH);

/**
 * The question name must be uncompressed (a pointer at offset 12 can only
 * point into the header). Returns an error text, or the lower-cased name and
 * whether every byte is one we are willing to judge. Only A–Z are folded: a
 * name with any other byte outside printable ASCII is not clean, and is
 * refused before its name is used.
 */
function parseQuestionName(buf: Buffer, offset: number): { name: string; end: number; clean: boolean } | string {
  let pos = offset;
  let n = 0;
  let clean = true;
  for (;;) {
    if (pos >= buf.length) return 'name runs past the end';
    const len = buf[pos]!;
    if (len === 0) return { name: NAME_SCRATCH.toString('latin1', 0, n), end: pos + 1, clean };
    if (len > MAX_LABEL_LENGTH) return (len & 0xc0) === 0xc0 ? 'compressed question name' : 'bad label length';
    if (pos + 1 + len - offset + 1 > MAX_NAME_WIRE_LENGTH) return 'name too long';
    if (pos + 1 + len > buf.length) return 'label runs past the end';
    if (n > 0) NAME_SCRATCH[n++] = 0x2e;
    for (let i = pos + 1; i <= pos + len; i++) {
      const c = buf[i]!;
      if (!isLabelByte(c)) clean = false;
      NAME_SCRATCH[n++] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
    }
    pos += 1 + len;
  }
}

function lowerCaseLabels(wire: Buffer, nameLength: number): void {
  for (let i = 0; i < nameLength; ) {
    const len = wire[i]!;
    for (let j = i + 1; j <= i + len; j++) {
      const c = wire[j]!;
      if (c >= 0x41 && c <= 0x5a) wire[j] = c | 0x20;
    }
    i += len + 1;
  }
}

/** Reads the additional section: at most one OPT (RFC 6891), other records are skipped. */
function parseAdditional(buf: Buffer, offset: number, count: number): { edns: Edns | null; end: number } | string {
  let pos = offset;
  let edns: Edns | null = null;
  for (let i = 0; i < count; i++) {
    const nameStart = pos;
    // Records in a query's additional section carry no compression worth following.
    for (;;) {
      if (pos >= buf.length) return 'additional record cut short';
      const len = buf[pos]!;
      if (len === 0) { pos += 1; break; }
      if ((len & 0xc0) === 0xc0) { pos += 2; break; }
      if (len > MAX_LABEL_LENGTH) return 'bad label in additional record';
      pos += 1 + len;
    }
    if (pos + 10 > buf.length) return 'additional record cut short';
    const type = buf.readUInt16BE(pos);
    const rdlen = buf.readUInt16BE(pos + 8);
    const rdEnd = pos + 10 + rdlen;
    if (rdEnd > buf.length) return 'additional record data cut short';
    if (type === TYPE_OPT) {
      if (edns) return 'more than one OPT record';
      if (pos !== nameStart + 1 || buf[nameStart] !== 0) return 'OPT record not owned by the root';
      const size = buf.readUInt16BE(pos + 2);
      const version = buf[pos + 5]!;
      const doBit = (buf.readUInt16BE(pos + 6) & 0x8000) !== 0;
      const options = checkOptions(buf, pos + 10, rdEnd);
      if (options) return options;
      edns = { udpSize: Math.min(Math.max(size, UDP_MIN_PAYLOAD), UDP_MAX_PAYLOAD), dnssecOk: doBit, version };
    }
    pos = rdEnd;
  }
  return { edns, end: pos };
}

function checkOptions(buf: Buffer, start: number, end: number): string | undefined {
  let pos = start;
  while (pos < end) {
    if (pos + 4 > end) return 'EDNS option cut short';
    pos += 4 + buf.readUInt16BE(pos + 2);
  }
  return pos === end ? undefined : 'EDNS option runs past the record';
}
