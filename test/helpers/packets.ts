/**
 * DNS packet builders for tests. Two layers:
 *
 * - Well-formed messages through dns-packet: `queryBytes`, `responseBytes`,
 *   `decodePacket`. dns-packet is the independent reference codec: when our
 *   hand-written wire code and dns-packet agree, we are interoperable.
 * - Raw bytes for hostile packets that dns-packet cannot or will not write
 *   (labels containing ".", compression loops, cut records, version-1 EDNS):
 *   `header`, `wireName`, `question`, `optRecord`, `ednsOption`, `u16`, `u32`.
 *   Join the parts with `Buffer.concat`.
 *
 * Plus small bridges to our own types: `mustDecode` (bytes → DecodedQuery)
 * and `replyToFor` (DecodedQuery → ReplyTo, as encode/ builds it).
 */
import * as dnsPacket from 'dns-packet';
import { decodeQuery, type DecodedQuery } from '../../src/wire/query.js';
import type { ReplyTo } from '../../src/wire/build.js';

// ───────────────────────────── dns-packet based ─────────────────────────────

export interface EdnsOptions {
  /** Advertised UDP payload size; dns-packet cannot write 0 (use `optRecord` for that). Default 1232. */
  readonly udpSize?: number;
  /** The DO bit. Default false. */
  readonly do?: boolean;
  /** EDNS version. Default 0. */
  readonly version?: number;
  /** Raw options; every one needs `data` (dns-packet throws on most codes without it). */
  readonly options?: ReadonlyArray<{ readonly code: number; readonly data: Buffer }>;
}

export interface QueryOptions {
  /** As the client writes it: case is kept, a trailing dot is dropped, "" or "." is the root. */
  readonly name: string;
  /** A number (any, including ones dns-packet has no name for: 65, 65280) or a mnemonic. Default A. */
  readonly type?: number | dnsPacket.RecordType;
  readonly class?: dnsPacket.RecordClass;
  /** Default 0x1234. */
  readonly id?: number;
  /** Header flag word (QR, opcode, RD, CD, ...). Default RD. */
  readonly flags?: number;
  /** true for default EDNS (1232 bytes, DO clear), an object for details, absent for no OPT. */
  readonly edns?: boolean | EdnsOptions;
}

/** A client query encoded by dns-packet: one question, optionally an OPT record. */
export function queryBytes(opts: QueryOptions): Buffer {
  const additionals: dnsPacket.Answer[] = [];
  if (opts.edns) {
    const e: EdnsOptions = opts.edns === true ? {} : opts.edns;
    additionals.push({
      type: 'OPT',
      name: '.',
      udpPayloadSize: e.udpSize ?? 1232,
      extendedRcode: 0,
      ednsVersion: e.version ?? 0,
      flags: e.do ? dnsPacket.DNSSEC_OK : 0,
      flag_do: e.do ?? false,
      options: (e.options ?? []).map((o) => ({ code: o.code, data: o.data })) as dnsPacket.PacketOpt[],
    });
  }
  return dnsPacket.encode({
    type: 'query',
    id: opts.id ?? 0x1234,
    flags: opts.flags ?? dnsPacket.RECURSION_DESIRED,
    questions: [{ name: opts.name, type: typeName(opts.type ?? 'A'), class: opts.class ?? 'IN' }],
    additionals,
  });
}

export interface ResponseOptions {
  readonly id?: number;
  readonly name: string;
  readonly type?: number | dnsPacket.RecordType;
  /** Numeric rcode; written through `flags`, because dns-packet's encoder ignores `rcode`. */
  readonly rcode?: number;
  /** Header flags besides QR and rcode. Default RD | RA. */
  readonly flags?: number;
  readonly answers?: dnsPacket.Answer[];
  readonly authorities?: dnsPacket.Answer[];
  readonly additionals?: dnsPacket.Answer[];
}

/** An upstream response encoded by dns-packet (names in records are compressed against the question). */
export function responseBytes(opts: ResponseOptions): Buffer {
  return dnsPacket.encode({
    type: 'response',
    id: opts.id ?? 0x1234,
    flags: (opts.flags ?? dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE) | ((opts.rcode ?? 0) & 0xf),
    questions: [{ name: opts.name, type: typeName(opts.type ?? 'A'), class: 'IN' }],
    answers: opts.answers ?? [],
    authorities: opts.authorities ?? [],
    additionals: opts.additionals ?? [],
  });
}

/** A record of a type dns-packet has no codec for (HTTPS = 65, TYPE65280): rdata kept as raw bytes. */
export function rawRecord(name: string, type: number, ttl: number, data: Buffer): dnsPacket.Answer {
  return { name, type: typeName(type), ttl, data } as unknown as dnsPacket.Answer;
}

/** The OPT record an upstream adds to its answer. */
export function upstreamOpt(udpSize = 1232, options: EdnsOptions['options'] = []): dnsPacket.Answer {
  return {
    type: 'OPT', name: '.', udpPayloadSize: udpSize, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false,
    options: options.map((o) => ({ code: o.code, data: o.data })) as dnsPacket.PacketOpt[],
  };
}

/** What dns-packet's decoder returns, with the fields its type definitions leave out. */
export type DecodedPacket = dnsPacket.DecodedPacket & {
  readonly rcode: string;
  readonly opcode: string;
  readonly questions: dnsPacket.Question[];
  readonly answers: dnsPacket.Answer[];
  readonly authorities: dnsPacket.Answer[];
  readonly additionals: dnsPacket.Answer[];
};

/** Decodes with dns-packet (throws on anything it cannot read): "would a real client accept these bytes?". */
export function decodePacket(buf: Buffer): DecodedPacket {
  return dnsPacket.decode(buf) as DecodedPacket;
}

/** The OPT record of a decoded message, or undefined. */
export function optOf(p: DecodedPacket): dnsPacket.OptAnswer | undefined {
  return p.additionals.find((a): a is dnsPacket.OptAnswer => a.type === 'OPT');
}

/** The TTL of each record, in order (OPT records, which have none, give undefined). */
export function ttlsOf(records: readonly dnsPacket.Answer[]): Array<number | undefined> {
  return records.map((r) => ('ttl' in r ? r.ttl : undefined));
}

/** The Extended DNS Error (RFC 8914) in a decoded message's OPT, or undefined. */
export function edeOf(p: DecodedPacket): { infoCode: number; text: string } | undefined {
  // The typings list only the options dns-packet parses; decoded options of any code carry `data`.
  const options = (optOf(p)?.options ?? []) as ReadonlyArray<{ code: number; data?: Buffer }>;
  const opt = options.find((o) => o.code === 15);
  if (!opt?.data) return undefined;
  return { infoCode: opt.data.readUInt16BE(0), text: opt.data.subarray(2).toString('utf8') };
}

function typeName(type: number | dnsPacket.RecordType): dnsPacket.RecordType {
  // dns-packet maps "UNKNOWN_<n>" to n on encode, for every n.
  return (typeof type === 'number' ? `UNKNOWN_${type}` : type) as dnsPacket.RecordType;
}

// ─────────────────────────────── raw bytes ────────────────────────────────

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

export interface HeaderOptions {
  /** Default 0x1234. */
  readonly id?: number;
  /** Whole flag word. Default RD (0x0100). */
  readonly flags?: number;
  /** Section counts. Default qd 1, others 0. */
  readonly qd?: number;
  readonly an?: number;
  readonly ns?: number;
  readonly ar?: number;
}

/** A 12-byte header with whatever counts you claim, true or not. */
export function header(h: HeaderOptions = {}): Buffer {
  return Buffer.concat([
    u16(h.id ?? 0x1234), u16(h.flags ?? 0x0100),
    u16(h.qd ?? 1), u16(h.an ?? 0), u16(h.ns ?? 0), u16(h.ar ?? 0),
  ]);
}

/**
 * Length-prefixed labels plus the root byte, written exactly as given: a
 * string label is written as latin1 bytes (so "allowed.com" is ONE label
 * with a dot inside), a Buffer label byte for byte. No checks on length.
 */
export function wireName(...labels: ReadonlyArray<string | Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = typeof label === 'string' ? Buffer.from(label, 'latin1') : label;
    parts.push(Buffer.from([bytes.length & 0xff]), bytes);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** A question section entry. `name` as a string is split on dots; a Buffer is used as is (see wireName). */
export function question(name: string | Buffer, type = 1, klass = 1): Buffer {
  const n = typeof name === 'string' ? (name === '' ? wireName() : wireName(...name.split('.'))) : name;
  return Buffer.concat([n, u16(type), u16(klass)]);
}

export interface OptRecordOptions {
  /** Default 1232; any value, 0 included. */
  readonly udpSize?: number;
  readonly extendedRcode?: number;
  readonly version?: number;
  readonly do?: boolean;
  /** rdata: concatenated `ednsOption`s, or any bytes. Default empty. */
  readonly rdata?: Buffer;
  /** Owner name bytes. Default the root ([0]). */
  readonly owner?: Buffer;
  /** Override the rdlength field (to claim more or less than `rdata` holds). */
  readonly rdlength?: number;
}

/**
 * A resource record written byte by byte. `owner` is wire bytes: `wireName(...)`,
 * or a compression pointer such as `pointer(12)` (the question name).
 */
export function rr(owner: Buffer, type: number, ttl: number, rdata: Buffer, klass = 1): Buffer {
  return Buffer.concat([owner, u16(type), u16(klass), u32(ttl), u16(rdata.length), rdata]);
}

/** A 2-byte compression pointer to `offset` (12 is the question name). */
export function pointer(offset: number): Buffer {
  return u16(0xc000 | offset);
}

/** An OPT pseudo-record (RFC 6891) written byte by byte. */
export function optRecord(o: OptRecordOptions = {}): Buffer {
  const rdata = o.rdata ?? Buffer.alloc(0);
  return Buffer.concat([
    o.owner ?? Buffer.from([0]),
    u16(41),
    u16(o.udpSize ?? 1232),
    Buffer.from([o.extendedRcode ?? 0, o.version ?? 0]),
    u16(o.do ? 0x8000 : 0),
    u16(o.rdlength ?? rdata.length),
    rdata,
  ]);
}

/** One EDNS option: code, length, data. */
export function ednsOption(code: number, data: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([u16(code), u16(data.length), data]);
}

// ───────────────────────────── our own types ──────────────────────────────

/** Runs decodeQuery and fails the test with the rejection when the packet is not accepted. */
export function mustDecode(buf: Buffer): DecodedQuery {
  const r = decodeQuery(buf);
  if (!r.ok) throw new Error(`query rejected: ${r.rejection.reason} (${r.rejection.detail})`);
  return r.query;
}

/** The ReplyTo that encode/ derives from a decoded query (echoes the question as the client wrote it). */
export function replyToFor(q: DecodedQuery): ReplyTo {
  return {
    id: q.id, recursionDesired: q.recursionDesired, checkingDisabled: q.checkingDisabled,
    question: q.question.raw, edns: q.edns,
  };
}

export const RD = dnsPacket.RECURSION_DESIRED;
export const CD = dnsPacket.CHECKING_DISABLED;
/** The QR bit: set in responses. */
export const QR = 0x8000;
/** Header flag bits for an opcode. */
export function opcodeFlags(opcode: number): number {
  return (opcode & 0xf) << 11;
}
