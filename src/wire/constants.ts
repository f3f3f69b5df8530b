/** Numbers from the DNS RFCs that several folders need. */

export const HEADER_SIZE = 12;
export const CLASS_IN = 1;

/** Header flag bits (the 16-bit word at offset 2). */
export const FLAG = {
  QR: 0x8000,
  AA: 0x0400,
  TC: 0x0200,
  RD: 0x0100,
  RA: 0x0080,
  AD: 0x0020,
  CD: 0x0010,
} as const;

export const OPCODE_QUERY = 0;

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

export type Rcode = (typeof RCODE)[keyof typeof RCODE];

/** Indexed by rcode: read on every decision line. */
const RCODE_NAMES: readonly string[] = Object.entries(RCODE).sort((a, b) => a[1] - b[1]).map(([name]) => name);

export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

/** Extended DNS Error info codes (RFC 8914) that we send. */
export const EDE = {
  BLOCKED: 15,
  PROHIBITED: 18,
} as const;

export const EDNS_OPTION_EDE = 15;

/** Smallest and largest UDP payload we will send (RFC 1035 / RFC 6891). */
export const UDP_MIN_PAYLOAD = 512;
export const UDP_MAX_PAYLOAD = 4096;
/** The longest DNS message: what the 2-byte length prefix of DNS over TCP can describe (RFC 1035 §4.2.2). */
export const MAX_MESSAGE_LENGTH = 0xffff;
/** What we advertise upstream: the DNS Flag Day 2020 size that avoids IP fragmentation. */
export const UPSTREAM_UDP_PAYLOAD = 1232;

export const MAX_NAME_WIRE_LENGTH = 255;
export const MAX_LABEL_LENGTH = 63;
