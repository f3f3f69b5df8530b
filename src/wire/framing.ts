/**
 * RFC 7766 §8 framing for DNS over TCP: every message is preceded by its
 * length as a 2-byte big-endian integer. TCP delivers a byte stream, so one
 * chunk may hold half a frame, several frames, or the end of one and the
 * start of the next; this class turns chunks back into messages.
 */

import { MAX_MESSAGE_LENGTH } from './constants.js';

/** The largest message a 2-byte length prefix can describe. */
export const MAX_FRAME_LENGTH = MAX_MESSAGE_LENGTH;

/**
 * Default cap on bytes held: room for one partial maximum-size frame plus a
 * few read chunks. The TCP listener pauses the socket long before this when
 * it has enough work, so only a misbehaving reader would ever reach it.
 */
export const DEFAULT_MAX_BUFFERED = 256 * 1024;

/** Prepends the 2-byte length. Throws RangeError for a message too long to frame. */
export function frame(message: Buffer): Buffer {
  if (message.length > MAX_FRAME_LENGTH) {
    throw new RangeError(`message of ${message.length} bytes is too long for a TCP frame`);
  }
  // One buffer, so the frame goes out in a single write and cannot interleave with another.
  const out = Buffer.allocUnsafe(2 + message.length);
  out.writeUInt16BE(message.length, 0);
  message.copy(out, 2);
  return out;
}

export class FrameReader {
  readonly maxBuffered: number;
  #buf: Buffer = Buffer.alloc(0);
  #offset = 0;

  constructor(maxBuffered: number = DEFAULT_MAX_BUFFERED) {
    if (!(maxBuffered >= 2 + MAX_FRAME_LENGTH)) {
      throw new RangeError(`maxBuffered must hold at least one maximum-size frame (${2 + MAX_FRAME_LENGTH} bytes)`);
    }
    this.maxBuffered = maxBuffered;
  }

  /**
   * Appends a chunk. Returns false, and keeps nothing of the chunk, when the
   * bytes held would pass `maxBuffered`: the caller should close the connection.
   */
  push(chunk: Buffer): boolean {
    if (chunk.length === 0) return true;
    const held = this.buffered;
    if (held + chunk.length > this.maxBuffered) return false;
    if (held === 0) {
      // The common case (a whole query per chunk) needs no copy.
      this.#buf = chunk;
    } else {
      this.#buf = Buffer.concat([this.#buf.subarray(this.#offset), chunk], held + chunk.length);
    }
    this.#offset = 0;
    return true;
  }

  /**
   * The next complete message without its length prefix, or null while the
   * next frame is incomplete. A zero-length buffer means the peer sent a frame
   * of length 0, which carries no message (RFC 7766 gives it no meaning).
   */
  next(): Buffer | null {
    const available = this.#buf.length - this.#offset;
    if (available < 2) return null;
    const length = this.#buf.readUInt16BE(this.#offset);
    if (available < 2 + length) return null;
    const start = this.#offset + 2;
    // Copy out: a handler may keep its message for seconds (held queries), and
    // a small view would pin the whole 64 KiB chunk it came in.
    const message = Buffer.from(this.#buf.subarray(start, start + length));
    this.#offset = start + length;
    if (this.#offset === this.#buf.length) this.reset();
    return message;
  }

  /** Bytes held that no next() call has returned yet (a partial frame, or frames not yet taken). */
  get buffered(): number {
    return this.#buf.length - this.#offset;
  }

  /** Forgets everything held, e.g. a truncated frame at end of stream. */
  reset(): void {
    this.#buf = Buffer.alloc(0);
    this.#offset = 0;
  }
}
