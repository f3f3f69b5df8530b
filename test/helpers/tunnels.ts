/**
 * Query streams shaped like the DNS tunnels found in the wild, built here from
 * what the tools put on the wire, so the tunneling tests do not depend on
 * captures:
 *
 * - iodine (0.7): the upstream data is base32 (default), base64 or base128
 *   (8-bit bytes), split into labels of 57 characters (`inline_dotify`),
 *   under the tunnel's top domain. A data packet starts with the user id and
 *   a header of sequence and fragment numbers encoded in base32, and ends its
 *   header with a cache-miss counter, so no two names repeat. Ping/poll
 *   packets are `p` + base32 of a few bytes, sent about once a second when
 *   idle (lazy mode keeps one query waiting at the server). Before data, the
 *   fragment-size probe asks `r` names as long as a name may be. The answer
 *   comes in NULL (default), TXT, SRV, MX or CNAME records.
 * - dnscat2: the packet in hex — packet id (2 bytes, random), type (MSG = 1),
 *   session id (2), seq (2), ack (2), data — in labels of at most 62
 *   characters under the domain, asked as TXT, CNAME or MX in turn; an idle
 *   session still sends an empty MSG every second (its default delay).
 *
 * Times are milliseconds from the stream's start.
 */
import { QTYPE } from '../../src/wire/qtypes.js';
import { prng, type Prng } from './prng.js';

export interface TunnelQuery {
  /** The labels as the tool writes them, top domain included; strings are sent as latin1 bytes. */
  readonly labels: readonly string[];
  readonly qtype: number;
  readonly atMs: number;
}

export const QT = { A: QTYPE.A, NULL: 10, TXT: QTYPE.TXT, CNAME: QTYPE.CNAME, MX: 15, SRV: 33 } as const;

export const BASE32 = 'abcdefghijklmnopqrstuvwxyz012345';
export const BASE64 = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789+';
/** iodine's base128: letters, digits, then the 8-bit characters 0xBC–0xFD. */
export const BASE128 = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
  + Array.from({ length: 66 }, (_, i) => String.fromCharCode(0xbc + i)).join('');
const HEX = '0123456789abcdef';

/** `bytes` in the alphabet's bits per character (32 → 5, 64 → 6, 128 → 7, 16 → 4). */
export function encode(bytes: Buffer, alphabet: string): string {
  const bits = Math.log2(alphabet.length);
  let out = '';
  let acc = 0;
  let n = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    n += 8;
    while (n >= bits) {
      n -= bits;
      out += alphabet[(acc >> n) & (alphabet.length - 1)];
    }
    acc &= (1 << n) - 1;
  }
  if (n > 0) out += alphabet[(acc << (bits - n)) & (alphabet.length - 1)];
  return out;
}

/** `text` cut into labels of `size` characters. */
export function dotify(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

const labelsOf = (domain: string) => domain.split('.');
/** The wire length of the name: a length byte per label, the label, the root byte. */
const wireLength = (labels: readonly string[]) => labels.reduce((n, l) => n + 1 + l.length, 1);

export interface IodineOptions {
  readonly domain: string;
  readonly alphabet: string;
  readonly qtype: number;
  readonly seed?: number;
  /** iodine -M: the longest name it sends (default 255 on the wire, as iodine's default). */
  readonly maxName?: number;
}

/** One iodine upstream data packet of `payload` bytes. */
function iodineData(seq: number, payload: Buffer, o: Pick<IodineOptions, 'domain' | 'alphabet'>, cmc: number): string[] {
  const header = BASE32[1]! + BASE32[(seq & 7) << 2]! + BASE32[seq & 7]! + BASE32[1]! + BASE32[cmc & 31]!;
  return [...dotify(header + encode(payload, o.alphabet), 57), ...labelsOf(o.domain)];
}

/** The most payload bytes an iodine data packet carries under `maxName`. */
function iodineCapacity(o: IodineOptions): number {
  const bits = Math.log2(o.alphabet.length);
  let bytes = 1;
  const probe = (n: number) => wireLength([...dotify('x'.repeat(5 + Math.ceil((n * 8) / bits)), 57), ...labelsOf(o.domain)]);
  while (probe(bytes + 1) <= (o.maxName ?? 255)) bytes++;
  return bytes;
}

/** An upload of `total` bytes as fast as iodine sends it (about 50 queries a second over a fast link). */
export function iodineUpload(total: number, o: IodineOptions): TunnelQuery[] {
  const r = prng(o.seed ?? 1);
  const size = iodineCapacity(o);
  const out: TunnelQuery[] = [];
  for (let sent = 0, seq = 0; sent < total; sent += size, seq++) {
    out.push({ labels: iodineData(seq, r.bytes(Math.min(size, total - sent)), o, seq), qtype: o.qtype, atMs: seq * 20 });
  }
  return out;
}

/**
 * An interactive session: a ping every second, and a keystroke-sized data
 * packet (1 to 8 bytes) in about every other second, for `seconds`, the
 * qtype cycling through `qtypes`.
 */
export function iodineInteractive(seconds: number, o: Omit<IodineOptions, 'qtype'> & { qtypes: readonly number[] }): TunnelQuery[] {
  const r = prng(o.seed ?? 2);
  const out: TunnelQuery[] = [];
  let cmc = 0;
  const qtype = () => o.qtypes[out.length % o.qtypes.length]!;
  for (let s = 0, seq = 0; s < seconds; s++) {
    // Ping: "p", then userid, downstream seq/frag and the cache-miss counter, base32.
    const ping = 'p' + encode(Buffer.from([0, (s & 7) << 4, cmc++ & 0xff, (cmc >> 8) & 0xff, r.int(256), r.int(256), r.int(256)]), BASE32);
    out.push({ labels: [ping, ...labelsOf(o.domain)], qtype: qtype(), atMs: s * 1000 });
    if (r.int(2) === 0) {
      out.push({ labels: iodineData(seq++, r.bytes(1 + r.int(8)), o, cmc++), qtype: qtype(), atMs: s * 1000 + 400 });
    }
  }
  return out;
}

/** iodine's start: version, login, fragment-size probe (`r` names as long as allowed), then what follows. */
export function iodineHandshake(o: IodineOptions): TunnelQuery[] {
  const r = prng(o.seed ?? 3);
  const q = (label: string, atMs: number, more: string[] = []): TunnelQuery => ({ labels: [label, ...more, ...labelsOf(o.domain)], qtype: o.qtype, atMs });
  const probeText = 'r' + encode(r.bytes(200), BASE32);
  let probe = dotify(probeText, 57);
  while (wireLength([...probe, ...labelsOf(o.domain)]) > (o.maxName ?? 255)) probe = dotify(probeText.slice(0, probe.join('').length - 1), 57);
  return [
    q('v' + encode(Buffer.from([0, 0, 0x05, 0x02, r.int(256), r.int(256)]), BASE32), 0),   // version 0x00000502
    q('l' + encode(r.bytes(19), BASE32), 100),                                              // login: user id + md5 of the password
    q('ykk' + encode(r.bytes(3), BASE32), 200),                                              // downstream codec check
    { labels: [...probe, ...labelsOf(o.domain)], qtype: o.qtype, atMs: 300 },
  ];
}

export interface Dnscat2Options {
  readonly domain: string;
  readonly seed?: number;
  readonly qtypes?: readonly number[];
}

/** One dnscat2 MSG packet in hex labels of at most 62 characters. */
function dnscat2Message(r: Prng, session: number, seq: number, ack: number, data: Buffer, domain: string): string[] {
  const header = Buffer.alloc(9);
  header.writeUInt16BE(r.int(0x10000), 0);   // packet id: random, so no two names repeat
  header.writeUInt8(0x01, 2);                  // MSG
  header.writeUInt16BE(session, 3);
  header.writeUInt16BE(seq & 0xffff, 5);
  header.writeUInt16BE(ack & 0xffff, 7);
  return [...dotify(encode(Buffer.concat([header, data]), HEX), 62), ...labelsOf(domain)];
}

/** The most data bytes a dnscat2 MSG carries in a name of at most 253 characters. */
function dnscat2Capacity(domain: string): number {
  let bytes = 1;
  const probe = (n: number) => wireLength([...dotify('x'.repeat((9 + n) * 2), 62), ...labelsOf(domain)]);
  while (probe(bytes + 1) <= 255) bytes++;
  return bytes;
}

/** A file of `total` bytes sent through a dnscat2 session, ten packets a second. */
export function dnscat2Upload(total: number, o: Dnscat2Options): TunnelQuery[] {
  const r = prng(o.seed ?? 4);
  const qtypes = o.qtypes ?? [QT.TXT, QT.CNAME, QT.MX];
  const size = dnscat2Capacity(o.domain);
  const out: TunnelQuery[] = [];
  for (let sent = 0, seq = 0x1000; sent < total; sent += size, seq += size) {
    out.push({ labels: dnscat2Message(r, 0x4242, seq, 0x2000, r.bytes(Math.min(size, total - sent)), o.domain), qtype: qtypes[out.length % qtypes.length]!, atMs: out.length * 100 });
  }
  return out;
}

/** An idle dnscat2 session: one empty MSG (seq/ack only) a second, for `seconds`. */
export function dnscat2Idle(seconds: number, o: Dnscat2Options): TunnelQuery[] {
  const r = prng(o.seed ?? 5);
  const qtypes = o.qtypes ?? [QT.TXT, QT.CNAME, QT.MX];
  return Array.from({ length: seconds }, (_, s) => ({
    labels: dnscat2Message(r, 0x4242, 0x1000, 0x2000 + s, Buffer.alloc(0), o.domain), qtype: qtypes[s % qtypes.length]!, atMs: s * 1000,
  }));
}

/** A slow leak: one label of `chars` characters of `alphabet` a second, for `seconds`, as A queries. */
export function slowLeak(seconds: number, chars: number, alphabet: string, domain: string, seed = 6): TunnelQuery[] {
  const r = prng(seed);
  return Array.from({ length: seconds }, (_, s) => ({
    labels: [Array.from({ length: chars }, () => alphabet[r.int(alphabet.length)]!).join(''), ...labelsOf(domain)],
    qtype: QT.A,
    atMs: s * 1000,
  }));
}

/** The query on the wire, byte for byte as the tool sends it (RD set, no EDNS): latin1, so base128's 8-bit bytes stay single bytes. */
export function wireQuery(q: TunnelQuery, id = 0x2a2a): Buffer {
  const name = Buffer.concat([...q.labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
  const header = Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, name, Buffer.from([q.qtype >> 8, q.qtype & 0xff, 0, 1])]);
}
