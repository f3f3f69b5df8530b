import { FLAG, HEADER_SIZE } from './constants.js';
import { DecodeError } from './errors.js';
import { readName, skipName } from './names.js';
import { QTYPE } from './qtypes.js';

/**
 * A walked upstream answer. We keep the upstream's bytes and note where every
 * TTL sits, rather than decoding and re-encoding the message: answers pass
 * through unchanged apart from the TTL cap, record types we do not know
 * survive untouched, and serving from the cache is a copy and a few writes.
 */
export interface ResponseView {
  /** The message with the upstream's OPT record removed (our own is added per client). */
  readonly wire: Buffer;
  readonly rcode: number;
  readonly truncated: boolean;
  /** Offsets into `wire` of each record's 32-bit TTL, and the TTL the upstream gave. */
  readonly ttlOffsets: readonly number[];
  readonly ttls: readonly number[];
  /** How long the answer may be cached: the lowest answer TTL, and at most the negative TTL (RFC 2308) when there is an SOA. */
  readonly cacheTtl: number;
  readonly answerCount: number;
  /**
   * Names the answer sends the client on to, in order: CNAME targets and the
   * target names of HTTPS/SVCB records (RFC 9460), whose clients follow them
   * like a CNAME. The deny list applies to each.
   */
  readonly cnames: readonly string[];
  /**
   * Addresses in the answer section, in order, as text for the decision log:
   * A and AAAA records, and the ipv4hint/ipv6hint of HTTPS/SVCB records.
   */
  readonly addresses: readonly string[];
  /**
   * Where every address the message carries sits in `wire`, in any section:
   * A and AAAA rdata, and HTTPS/SVCB ipv4hint/ipv6hint values, which browsers
   * connect to directly. An address in the authority or additional section is
   * one a caching stub may keep, so check/ judges these for rebinding, not
   * only `addresses`. Offsets of 4-byte and of 16-byte addresses.
   */
  readonly ipv4At: readonly number[];
  readonly ipv6At: readonly number[];
}

/**
 * True when `buf` is the answer to the query we sent: QR set, same id, one
 * question equal (case-insensitively) to ours. Anything else is ignored, so a
 * spoofed packet cannot end the wait for the real answer.
 */
export function answersQuery(buf: Buffer, id: number, question: Buffer): boolean {
  if (buf.length < HEADER_SIZE + question.length) return false;
  if (buf.readUInt16BE(0) !== id) return false;
  if ((buf.readUInt16BE(2) & FLAG.QR) === 0) return false;
  if (buf.readUInt16BE(4) !== 1) return false;
  // Case folds only in the name: type and class compare exactly (HTTPS is 0x0041, an "A" to a case fold).
  const nameEnd = question.length - 4;
  for (let i = 0; i < question.length; i++) {
    let c = buf[HEADER_SIZE + i]!;
    if (i < nameEnd && c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== question[i]) return false;
  }
  return true;
}

/** Walks a response whose header and question `answersQuery` has accepted. Throws DecodeError. */
export function walkResponse(buf: Buffer, questionLength: number): ResponseView {
  const flags = buf.readUInt16BE(2);
  const counts = [buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)] as const;
  const ttlOffsets: number[] = [];
  const ttls: number[] = [];
  const cnames: string[] = [];
  const addresses: string[] = [];
  const ipv4At: number[] = [];
  const ipv6At: number[] = [];
  let minAnswerTtl = Infinity;
  let negativeTtl = Infinity;
  let optStart = -1;
  let keptAdditional = 0;

  let pos = HEADER_SIZE + questionLength;
  for (let section = 0; section < 3; section++) {
    for (let i = 0; i < counts[section]!; i++) {
      const start = pos;
      pos = skipName(buf, pos);
      if (pos + 10 > buf.length) throw new DecodeError('record cut short', pos);
      const type = buf.readUInt16BE(pos);
      let ttl = buf.readUInt32BE(pos + 4);
      if (ttl > 0x7fffffff) ttl = 0;    // RFC 2181 §8: a TTL with the top bit set is read as zero
      const rdlen = buf.readUInt16BE(pos + 8);
      const rdata = pos + 10;
      const end = rdata + rdlen;
      if (end > buf.length) throw new DecodeError('record data cut short', pos);

      if (type === QTYPE.OPT) {
        if (section !== 2 || optStart >= 0) throw new DecodeError('misplaced OPT record', start);
        optStart = start;
        pos = end;
        continue;
      }
      if (optStart >= 0) {           // records after the OPT are dropped with it (see stripOpt)
        pos = end;
        continue;
      }
      ttlOffsets.push(pos + 4);
      ttls.push(ttl);
      // An address record of the wrong size is read differently by different clients: refuse it.
      if (type === QTYPE.A) {
        if (rdlen !== 4) throw new DecodeError(`A record of ${rdlen} bytes`, pos);
        ipv4At.push(rdata);
        if (section === 0) addresses.push(formatIpv4(buf, rdata));
      } else if (type === QTYPE.AAAA) {
        if (rdlen !== 16) throw new DecodeError(`AAAA record of ${rdlen} bytes`, pos);
        ipv6At.push(rdata);
        if (section === 0) addresses.push(formatIpv6(buf, rdata));
      } else if (type === QTYPE.HTTPS || type === QTYPE.SVCB) {
        readServiceBinding(buf, rdata, end, ipv4At, ipv6At, section === 0 ? { targets: cnames, addresses } : null);
      }
      if (section === 0) {
        minAnswerTtl = Math.min(minAnswerTtl, ttl);
        if (type === QTYPE.CNAME) cnames.push(readName(buf, rdata).name);
      } else if (section === 1 && type === QTYPE.SOA) {
        const minimum = soaMinimum(buf, rdata, end);
        negativeTtl = Math.min(negativeTtl, ttl, minimum);
      } else if (section === 2) {
        keptAdditional++;
      }
      pos = end;
    }
  }
  if (pos !== buf.length) throw new DecodeError(`${buf.length - pos} bytes after the message`, pos);

  const wire = optStart < 0 ? buf : stripOpt(buf, optStart, keptAdditional);
  const answerCount = counts[0];
  // An SOA in the authority section bounds the answers too: NXDOMAIN / NODATA at the end of a CNAME chain (RFC 2308 §2.1).
  const cacheTtl = Math.min(minAnswerTtl, negativeTtl);
  return {
    wire,
    rcode: flags & 0xf,
    truncated: (flags & FLAG.TC) !== 0,
    ttlOffsets: exact(ttlOffsets),
    ttls: exact(ttls),
    cacheTtl: Number.isFinite(cacheTtl) ? cacheTtl : 0,
    answerCount,
    cnames: exact(cnames),
    addresses: exact(addresses),
    ipv4At: exact(ipv4At),
    ipv6At: exact(ipv6At),
  };
}

const NONE: readonly never[] = Object.freeze([]);

/**
 * The list at its exact length. A view may be cached for a day, and V8 gives
 * an array room for 17 elements on its first push: six such arrays would
 * cost a small answer three times what its message does.
 */
function exact<T>(list: T[]): readonly T[] {
  return list.length === 0 ? NONE : list.slice();
}

/**
 * Cuts the OPT record and everything after it. Records after an OPT could hold
 * compression pointers into what we cut; they are extra data a stub resolver
 * does not need, so dropping them is the safe way to keep the message valid.
 */
function stripOpt(buf: Buffer, optStart: number, keptAdditional: number): Buffer {
  const out = Buffer.allocUnsafe(optStart);
  buf.copy(out, 0, 0, optStart);
  out.writeUInt16BE(keptAdditional, 10);
  return out;
}

const SVC_PARAM_IPV4HINT = 4;
const SVC_PARAM_IPV6HINT = 6;

/**
 * The address hints of an HTTPS/SVCB record, as offsets; in the answer section
 * also its target name (unless it is "." = the owner) and the hints as text.
 * A hint that is not a whole number of addresses is malformed (RFC 9460 §7.3).
 */
function readServiceBinding(
  buf: Buffer, rdata: number, end: number, ipv4At: number[], ipv6At: number[],
  answer: { readonly targets: string[]; readonly addresses: string[] } | null,
): void {
  if (rdata + 3 > end) throw new DecodeError('bad SVCB record', rdata);
  // The target is never compressed (RFC 9460 §2.2), so it ends inside the rdata.
  const { name, end: afterName } = readName(buf, rdata + 2);
  if (afterName > end) throw new DecodeError('bad SVCB target', rdata);
  if (answer && name !== '') answer.targets.push(name);
  for (let pos = afterName; pos < end; ) {
    if (pos + 4 > end) throw new DecodeError('bad SVCB parameter', pos);
    const key = buf.readUInt16BE(pos);
    const len = buf.readUInt16BE(pos + 2);
    const value = pos + 4;
    if (value + len > end) throw new DecodeError('bad SVCB parameter', pos);
    if (key === SVC_PARAM_IPV4HINT) {
      if (len % 4 !== 0) throw new DecodeError('bad SVCB ipv4hint', pos);
      for (let i = value; i < value + len; i += 4) {
        ipv4At.push(i);
        answer?.addresses.push(formatIpv4(buf, i));
      }
    } else if (key === SVC_PARAM_IPV6HINT) {
      if (len % 16 !== 0) throw new DecodeError('bad SVCB ipv6hint', pos);
      for (let i = value; i < value + len; i += 16) {
        ipv6At.push(i);
        answer?.addresses.push(formatIpv6(buf, i));
      }
    }
    pos = value + len;
  }
}

function soaMinimum(buf: Buffer, rdata: number, end: number): number {
  const afterNames = skipName(buf, skipName(buf, rdata));
  if (afterNames + 20 !== end) throw new DecodeError('bad SOA record', rdata);
  return buf.readUInt32BE(afterNames + 16);
}

/** The 4 bytes at `at` as dotted decimal. */
export function formatIpv4(buf: Uint8Array, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

/** The 16 bytes at `at` as RFC 5952 text (lower case, the longest run of zero groups as "::"). */
export function formatIpv6(buf: Uint8Array, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((buf[at + i]! << 8) | buf[at + i + 1]!).toString(16));
  // Collapse the longest run of zero groups, as RFC 5952 asks, so logs read like every other tool.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLen).join(':')}`;
}
