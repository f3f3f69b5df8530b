/**
 * One UDP socket on one address: each datagram goes to the handler, and
 * whatever it returns goes back to the datagram's source. Work in flight is
 * bounded globally and per source IP; beyond either bound a datagram is
 * dropped (and counted), because UDP has no backpressure to apply and a
 * stub resolver simply retries.
 */
import dgram from 'node:dgram';
import type { Logger } from 'pino';
import { formatHostPort } from '../config/address.js';
import { KeyedLimiter } from './limits.js';
import type { MessageHandler, Peer, ReceiveHooks } from './types.js';

export interface UdpLimits {
  /** Queries in flight across every UDP socket that shares the limiter. */
  readonly maxInFlight: number;
  /** Queries in flight from one source IP. */
  readonly maxInFlightPerClient: number;
  /** SO_RCVBUF: room for bursts while the event loop is busy (the kernel may clamp it to rmem_max). */
  readonly recvBufferSize: number;
}

export const UDP_DEFAULTS: UdpLimits = Object.freeze({
  maxInFlight: 10_000,
  maxInFlightPerClient: 100,
  recvBufferSize: 4 * 1024 * 1024,
});

export interface UdpListenerOptions extends ReceiveHooks {
  readonly log: Logger;
  readonly limits?: Partial<UdpLimits>;
  /** Share one limiter between sockets so the bounds hold across all listen addresses. */
  readonly limiter?: KeyedLimiter;
  /**
   * Bind through node:cluster's handle sharing (a worker of `listen.workers`), so every worker
   * receives on the one socket; otherwise exclusive, as a single process needs.
   */
  readonly shared?: boolean;
}

export interface UdpListener {
  readonly host: string;
  readonly family: 4 | 6;
  /** The port actually bound (differs from the requested one when that was 0). */
  readonly port: number;
  /**
   * Ignores new datagrams, waits up to `graceMs` for replies still being
   * computed to be sent, then closes the socket. Idempotent.
   */
  close(graceMs?: number): Promise<void>;
}

/** Binds the socket; rejects with the bind error (EADDRINUSE, EACCES, …), leaving nothing open. */
export function listenUdp(
  host: string,
  port: number,
  family: 4 | 6,
  handler: MessageHandler,
  opts: UdpListenerOptions,
): Promise<UdpListener> {
  const limits = { ...UDP_DEFAULTS, ...opts.limits };
  const socket = dgram.createSocket({
    type: family === 6 ? 'udp6' : 'udp4',
    // So "[::]" and "0.0.0.0" can both be bound on the same port.
    ipv6Only: family === 6,
    lookup: literalLookup,
  });
  return new Promise((resolve, reject) => {
    const onBindError = (err: Error): void => {
      // Reject only once the handle is gone, so a failed bind leaves nothing open.
      try {
        socket.close(() => reject(err));
      } catch {
        reject(err);
      }
    };
    socket.once('error', onBindError);
    socket.bind({ address: host, port, exclusive: opts.shared !== true }, () => {
      socket.off('error', onBindError);
      resolve(new UdpSocketListener(socket, host, family, handler, opts, limits));
    });
  });
}

/**
 * Replies go to the address a datagram came from, always an IP literal: no
 * lookup is needed, and dns.lookup's (a regex test and a tick per reply) is
 * skipped. Answering at once also sends the reply within the same tick.
 */
function literalLookup(address: string, family: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  callback(null, address, family === 6 ? 6 : 4);
}

class UdpSocketListener implements UdpListener {
  readonly host: string;
  readonly family: 4 | 6;
  readonly port: number;
  readonly #socket: dgram.Socket;
  readonly #handler: MessageHandler;
  readonly #hooks: ReceiveHooks;
  readonly #log: Logger;
  readonly #limiter: KeyedLimiter;
  #inFlight = 0;
  #closing: Promise<void> | null = null;
  #socketClosed = false;
  /** Called when #inFlight reaches 0 while closing. */
  #onIdle: (() => void) | null = null;

  constructor(
    socket: dgram.Socket,
    host: string,
    family: 4 | 6,
    handler: MessageHandler,
    opts: UdpListenerOptions,
    limits: UdpLimits,
  ) {
    this.#socket = socket;
    this.host = host;
    this.family = family;
    this.port = socket.address().port;
    this.#handler = handler;
    this.#hooks = opts;
    this.#log = opts.log.child({ transport: 'udp', listen: formatHostPort(host, this.port, family) });
    this.#limiter = opts.limiter ?? new KeyedLimiter(limits.maxInFlight, limits.maxInFlightPerClient);

    try {
      socket.setRecvBufferSize(limits.recvBufferSize);
    } catch (err) {
      // Only a tuning knob: serve with the system default rather than fail.
      this.#log.debug({ err }, 'could not set the UDP receive buffer size');
    }
    socket.on('message', (msg, rinfo) => this.#receive(msg, rinfo.address, rinfo.port));
    // After bind, errors are about single datagrams, never fatal: log and go on.
    socket.on('error', (err) => this.#log.warn({ err }, 'UDP socket error'));
    socket.once('close', () => {
      this.#socketClosed = true;
    });
  }

  #receive(message: Buffer, address: string, port: number): void {
    if (this.#closing !== null) return;
    const refused = this.#limiter.tryAcquire(address);
    if (refused !== null) {
      this.#hooks.onDrop?.(refused, 'udp');
      return;
    }
    this.#inFlight++;
    const peer: Peer = { address, port, family: this.family, transport: 'udp' };
    let reply;
    try {
      reply = this.#handler(message, peer);
    } catch (err) {
      this.#failed(err, peer);
      return;
    }
    // A reply made at once (a cache hit, a block) leaves in this same turn, with no promise.
    if (reply instanceof Promise) reply.then((r) => this.#answered(r, peer), (err: unknown) => this.#failed(err, peer));
    else this.#answered(reply, peer);
  }

  #answered(reply: Buffer | null, peer: Peer): void {
    if (reply !== null) this.#send(reply, peer);
    this.#done(peer.address);
  }

  #failed(err: unknown, peer: Peer): void {
    this.#log.error({ err, client: peer.address }, 'message handler failed; no reply sent');
    this.#hooks.onDrop?.('handler_error', 'udp');
    this.#done(peer.address);
  }

  #done(address: string): void {
    this.#limiter.release(address);
    this.#inFlight--;
    if (this.#inFlight === 0) this.#onIdle?.();
  }

  /**
   * Hands the reply to the socket, without a callback: a callback costs a
   * tick and an object per datagram, and a failed send to a client that went
   * away is its business, not ours (dgram drops it silently without one).
   * With literalLookup the datagram leaves within this call; close() still
   * lets a turn pass before it closes the socket, for any send still queued.
   */
  #send(reply: Buffer, peer: Peer): void {
    if (this.#socketClosed) return;
    try {
      this.#socket.send(reply, peer.port, peer.address);
    } catch (err) {
      // send() throws synchronously on a socket that is closing.
      this.#log.debug({ err, client: peer.address }, 'UDP send failed');
    }
  }

  close(graceMs = 0): Promise<void> {
    this.#closing ??= this.#close(graceMs);
    return this.#closing;
  }

  async #close(graceMs: number): Promise<void> {
    if (this.#inFlight > 0 && graceMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.#onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#onIdle = null;
    }
    if (this.#socketClosed) return;
    // The sends handed over this turn finish on their next tick: let them, then close.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }
}
