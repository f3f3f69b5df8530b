import { HEADER_SIZE } from './constants.js';

/**
 * The QTYPE of a packet's first question, read without decoding it: for
 * counting a query that is turned away before decode (over its rate limit).
 * undefined when the packet has no plain question there (too short, a
 * compression pointer, no question at all): decode would reject it anyway.
 */
export function peekQuestionType(buf: Buffer): number | undefined {
  if (buf.length < HEADER_SIZE || buf.readUInt16BE(4) === 0) return undefined;
  let offset = HEADER_SIZE;
  for (;;) {
    const length = buf[offset];
    if (length === undefined || (length & 0xc0) !== 0) return undefined;
    offset += 1 + length;
    if (length === 0) break;
  }
  return offset + 2 <= buf.length ? buf.readUInt16BE(offset) : undefined;
}
