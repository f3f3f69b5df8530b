import { CLASS_IN, EDNS_OPTION_EDE, FLAG, HEADER_SIZE, MAX_MESSAGE_LENGTH, UPSTREAM_UDP_PAYLOAD } from './constants.js';
import { encodeName } from './names.js';
import { QTYPE } from './qtypes.js';
import type { Edns } from './query.js';
import type { ResponseView } from './response.js';

/**
 * Builders for the messages we write ourselves: queries to upstreams and
 * synthetic replies (sinkhole, refusal, errors). Hand-written for the same
 * reason as the parser: they are on the hot path of every blocked name, and
 * dns-packet's encoder ignores `rcode` and validates nothing.
 */

/** Pointer to the question name at offset 12, the owner of every record we synthesise. */
const QNAME_POINTER = 0xc00c;

/** What a reply needs from the query it answers. */
export interface ReplyTo {
  readonly id: number;
  readonly recursionDesired: boolean;
  readonly checkingDisabled: boolean;
  /** Question section to echo; null when the query was too broken to have one. */
  readonly question: Buffer | null;
  readonly edns: Edns | null;
  /** Opcode to echo; QUERY (0) when absent. */
  readonly opcode?: number;
}

export interface ExtendedError {
  readonly code: number;
  readonly text: string;
}

export interface ReplyParts {
  readonly rcode: number;
  readonly answers?: readonly Buffer[];
  readonly authority?: readonly Buffer[];
  /** Sent only when the query carried EDNS (RFC 8914). */
  readonly ede?: ExtendedError | null;
  /** EDNS extended rcode bits (RFC 6891), e.g. 1 for BADVERS. */
  readonly extendedRcode?: number;
}

export function buildQuery(id: number, question: Buffer, opts: { dnssecOk: boolean; checkingDisabled: boolean }): Buffer {
  const opt = optRecord(UPSTREAM_UDP_PAYLOAD, 0, opts.dnssecOk, null);
  const out = Buffer.allocUnsafe(HEADER_SIZE + question.length + opt.length);
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(FLAG.RD | (opts.checkingDisabled ? FLAG.CD : 0), 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(1, 10);
  question.copy(out, HEADER_SIZE);
  opt.copy(out, HEADER_SIZE + question.length);
  return out;
}

export function buildReply(to: ReplyTo, parts: ReplyParts): Buffer {
  const answers = parts.answers ?? [];
  const authority = parts.authority ?? [];
  const opt = to.edns ? optRecord(UPSTREAM_UDP_PAYLOAD, parts.extendedRcode ?? 0, to.edns.dnssecOk, parts.ede ?? null) : null;
  const chunks: Buffer[] = [header(to, parts.rcode, to.question ? 1 : 0, answers.length, authority.length, opt ? 1 : 0)];
  if (to.question) chunks.push(to.question);
  chunks.push(...answers, ...authority);
  if (opt) chunks.push(opt);
  return Buffer.concat(chunks);
}

function header(to: ReplyTo, rcode: number, qd: number, an: number, ns: number, ar: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE);
  out.writeUInt16BE(to.id, 0);
  out.writeUInt16BE(
    FLAG.QR | (((to.opcode ?? 0) & 0xf) << 11) | FLAG.RA | (to.recursionDesired ? FLAG.RD : 0) | (to.checkingDisabled ? FLAG.CD : 0) | (rcode & 0xf),
    2,
  );
  out.writeUInt16BE(qd, 4);
  out.writeUInt16BE(an, 6);
  out.writeUInt16BE(ns, 8);
  out.writeUInt16BE(ar, 10);
  return out;
}

function optRecord(payload: number, extendedRcode: number, dnssecOk: boolean, ede: ExtendedError | null): Buffer {
  const text = ede ? Buffer.from(ede.text, 'utf8') : null;
  const rdlen = text ? 6 + text.length : 0;
  const out = Buffer.allocUnsafe(11 + rdlen);
  out[0] = 0;                                   // owner: the root
  out.writeUInt16BE(QTYPE.OPT, 1);
  out.writeUInt16BE(payload, 3);
  out[5] = extendedRcode;
  out[6] = 0;                                   // EDNS version 0
  out.writeUInt16BE(dnssecOk ? 0x8000 : 0, 7);
  out.writeUInt16BE(rdlen, 9);
  if (ede && text) {
    out.writeUInt16BE(EDNS_OPTION_EDE, 11);
    out.writeUInt16BE(2 + text.length, 13);
    out.writeUInt16BE(ede.code, 15);
    text.copy(out, 17);
  }
  return out;
}

function record(type: number, ttl: number, rdata: Buffer): Buffer {
  const out = Buffer.allocUnsafe(12 + rdata.length);
  out.writeUInt16BE(QNAME_POINTER, 0);
  out.writeUInt16BE(type, 2);
  out.writeUInt16BE(CLASS_IN, 4);
  out.writeUInt32BE(ttl, 6);
  out.writeUInt16BE(rdata.length, 10);
  rdata.copy(out, 12);
  return out;
}

const IPV4_ANY = Buffer.alloc(4);
const IPV6_ANY = Buffer.alloc(16);

/** 0.0.0.0 or :: owned by the question name: the `null-ip` sinkhole. */
export function nullAddressRecord(type: typeof QTYPE.A | typeof QTYPE.AAAA, ttl: number): Buffer {
  return record(type, ttl, type === QTYPE.A ? IPV4_ANY : IPV6_ANY);
}

const SOA_NAMES = Buffer.concat([encodeName('intentdns.invalid'), encodeName('hostmaster.intentdns.invalid')]);

/**
 * A synthetic SOA for NXDOMAIN/NODATA sinkholes. Its TTL and minimum are the
 * sinkhole TTL, so resolvers cache the negative answer only that long (RFC 2308).
 */
export function sinkholeSoa(ttl: number): Buffer {
  const rdata = Buffer.allocUnsafe(SOA_NAMES.length + 20);
  SOA_NAMES.copy(rdata, 0);
  let at = SOA_NAMES.length;
  for (const value of [1 /* serial */, 3600 /* refresh */, 600 /* retry */, 86400 /* expire */, ttl /* minimum */]) {
    rdata.writeUInt32BE(value, at);
    at += 4;
  }
  return record(QTYPE.SOA, ttl, rdata);
}

/**
 * Renders a walked upstream answer for one client: its id and RD bit, each
 * TTL aged by `ageS` and capped at `maxTtl`, and our OPT record when the
 * client sent EDNS and the message still fits in 65,535 bytes with it. The
 * upstream's message fit that limit, so without our OPT it always does: an
 * answer of 65,525 bytes or more from an upstream that sent no OPT goes out
 * whole and without one, as from a server without EDNS (RFC 6891 §7), rather
 * than not at all. The view itself is never modified (it may be cached).
 */
export function renderAnswer(view: ResponseView, to: ReplyTo, ageS: number, maxTtl: number): Buffer {
  let opt = to.edns ? optRecord(UPSTREAM_UDP_PAYLOAD, 0, to.edns.dnssecOk, null) : null;
  if (opt && view.wire.length + opt.length > MAX_MESSAGE_LENGTH) opt = null;
  const src = view.wire;
  const out = Buffer.allocUnsafe(src.length + (opt ? opt.length : 0));
  src.copy(out, 0);
  out.writeUInt16BE(to.id, 0);
  if (to.question && to.question.length <= src.length - HEADER_SIZE) to.question.copy(out, HEADER_SIZE);
  const flags = src.readUInt16BE(2);
  out.writeUInt16BE(to.recursionDesired ? flags | FLAG.RD : flags & ~FLAG.RD, 2);
  const offsets = view.ttlOffsets;
  const ttls = view.ttls;
  for (let i = 0; i < offsets.length; i++) {
    const aged = ttls[i]! - ageS;
    out.writeUInt32BE(aged <= 0 ? 0 : aged < maxTtl ? aged : maxTtl, offsets[i]!);
  }
  if (opt) {
    opt.copy(out, src.length);
    out.writeUInt16BE(src.readUInt16BE(10) + 1, 10);
  }
  return out;
}

/**
 * Fits a reply into a size limit: the client's UDP payload size, or over TCP
 * the 65,535 bytes of a frame. If it is too long, keep the header, the
 * question and our OPT record and set TC (RFC 1035 §4.2.1, RFC 6891 §7): over
 * UDP the client retries over TCP; over TCP, as BIND and Unbound do when a
 * message cannot be rendered in a frame, the client learns at once that the
 * answer does not fit instead of waiting for a reply that never comes.
 */
export function fitReply(reply: Buffer, to: ReplyTo, limit: number): Buffer {
  if (reply.length <= limit) return reply;
  const question = to.question ?? Buffer.alloc(0);
  const opt = to.edns ? optRecord(UPSTREAM_UDP_PAYLOAD, 0, to.edns.dnssecOk, null) : null;
  const out = Buffer.allocUnsafe(HEADER_SIZE + question.length + (opt ? opt.length : 0));
  reply.copy(out, 0, 0, 4);
  out.writeUInt16BE(out.readUInt16BE(2) | FLAG.TC, 2);
  out.writeUInt16BE(to.question ? 1 : 0, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(opt ? 1 : 0, 10);
  question.copy(out, HEADER_SIZE);
  if (opt) opt.copy(out, HEADER_SIZE + question.length);
  return out;
}
