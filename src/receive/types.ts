import type { Transport } from '../pipeline/types.js';

/**
 * The transport layer's whole contract with the rest of intentdns: bytes in,
 * bytes (or nothing) out. Nothing here knows about DNS policy.
 */

export type { Transport } from '../pipeline/types.js';

/** Who sent a message, and over what. */
export interface Peer {
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
  readonly transport: Transport;
}

/**
 * Returns the reply bytes, or null to send nothing: at once when it has them,
 * or as a promise. For UDP the handler itself fits the reply to the client's
 * payload size (it knows the EDNS size). Never throws nor rejects (the caller
 * may still guard).
 */
export type MessageHandler = (message: Buffer, peer: Peer) => Buffer | null | Promise<Buffer | null>;

/**
 * Why a listener dropped work instead of handing it to the handler (or instead
 * of sending what it returned). A closed set, so it is safe as a metric label.
 */
export type DropReason =
  | 'global_limit'     // UDP: too many queries in flight overall; TCP: too many connections
  | 'client_limit'     // the same, counted per client IP
  | 'unknown_limit'    // TCP: a connection from a source that is no known client, beyond the strangers' budget
  | 'handler_error'    // the handler threw or rejected (a bug: it promises not to)
  | 'reply_too_large'  // TCP: a reply longer than the 2-byte length prefix can carry
  | 'frame_buffer';    // TCP: more unread bytes than the buffer cap (connection closed)

export const DROP_REASONS: readonly DropReason[] = [
  'global_limit', 'client_limit', 'unknown_limit', 'handler_error', 'reply_too_large', 'frame_buffer',
];

/** Counters as callbacks, so this folder needs no metrics library. */
export interface ReceiveHooks {
  readonly onDrop?: (reason: DropReason, transport: Transport) => void;
  /** A message the transport itself found broken: a truncated TCP frame at EOF, a zero-length frame. */
  readonly onMalformed?: (transport: Transport) => void;
}

/**
 * Calls the handler so that a synchronous throw becomes a rejection (the
 * contract says it never throws, but a bug must not take a socket down), and
 * a reply made at once still comes a microtask later: TCP's read loop starts
 * the next frame when one finishes, and must not recurse through every frame
 * already buffered. UDP has no such loop and takes replies as they come.
 */
export function invokeHandler(handler: MessageHandler, message: Buffer, peer: Peer): Promise<Buffer | null> {
  try {
    return Promise.resolve(handler(message, peer));
  } catch (err) {
    return Promise.reject(err);
  }
}
