/**
 * DNS over TCP on one address (RFC 7766). Queries pipelined on a connection
 * are handled concurrently and each reply is written, framed, as soon as it is
 * ready (out of order is allowed: the client matches replies by message ID).
 *
 * Every resource a client can make us hold is bounded: connections (overall
 * and per client IP), queries in flight per connection and per client (over
 * every connection and UDP too, when the listeners share an in-flight
 * limiter), unread bytes per connection, idle time, and the wait for a
 * client that will not close. The bounds on work apply backpressure (we stop
 * reading) instead of buffering.
 *
 * Known clients and strangers are told apart at accept (`isKnown`, from the
 * current config snapshot): strangers have a small connection budget of
 * their own, so they can never take the agents' slots, and each of their
 * connections is answered once and closed.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import { formatHostPort } from '../config/address.js';
import { DEFAULT_MAX_BUFFERED, FrameReader, MAX_FRAME_LENGTH, frame } from '../wire/framing.js';
import { KeyedLimiter, type LimitVerdict, type WaitingLimiter } from './limits.js';
import { invokeHandler, type MessageHandler, type Peer, type ReceiveHooks } from './types.js';

export interface TcpLimits {
  /** Open connections across every TCP listener that shares the limiter. */
  readonly maxConnections: number;
  /** Open connections from one client IP. */
  readonly maxConnectionsPerClient: number;
  /** Queries handled at once on one connection; beyond it we stop reading until one finishes. */
  readonly maxInFlightPerConnection: number;
  /** Close a connection after this long with nothing in flight and no complete query received. */
  readonly idleTimeoutMs: number;
  /** Unread bytes held per connection (a partial frame plus frames not yet started). */
  readonly maxBufferedBytes: number;
  /** Open connections from sources that are no known client, in all and per source; apart from the agents' ones. */
  readonly maxUnknownConnections: number;
  readonly maxUnknownConnectionsPerSource: number;
}

export const TCP_DEFAULTS: TcpLimits = Object.freeze({
  maxConnections: 1000,
  maxConnectionsPerClient: 32,
  maxInFlightPerConnection: 64,
  // RFC 7766 §6.2.3 suggests "on the order of seconds"; dns2 and many servers use 10 s.
  idleTimeoutMs: 10_000,
  maxBufferedBytes: DEFAULT_MAX_BUFFERED,
  maxUnknownConnections: 16,
  maxUnknownConnectionsPerSource: 2,
});

export interface TcpListenerOptions extends ReceiveHooks {
  readonly log: Logger;
  readonly limits?: Partial<TcpLimits>;
  /** Share one limiter between listeners so the connection bounds hold across all listen addresses. */
  readonly connectionLimiter?: KeyedLimiter;
  /** The same for strangers' connections. */
  readonly unknownConnectionLimiter?: KeyedLimiter;
  /** As UdpListenerOptions.shared: listen through node:cluster's handle sharing. */
  readonly shared?: boolean;
  /**
   * Queries in flight per client, shared with UDP and the other listeners:
   * at the client's (or the global) ceiling a connection stops reading
   * until one of the client's queries finishes. Without it only the
   * per-connection bound applies.
   */
  readonly inFlightLimiter?: WaitingLimiter;
  /**
   * Whether a source address is a known client, asked once at accept. Absent:
   * every source is treated as known. A function that throws counts as "no".
   */
  readonly isKnown?: (address: string) => boolean;
}

export interface TcpListener {
  readonly host: string;
  readonly family: 4 | 6;
  /** The port actually bound (differs from the requested one when that was 0). */
  readonly port: number;
  /** Connections currently open. */
  readonly connections: number;
  /** A reload's new idle timeout: connections accepted from now on use it. */
  setIdleTimeout(ms: number): void;
  /**
   * Stops accepting, closes idle connections, lets queries in flight write
   * their replies, and destroys whatever is still open after `graceMs`.
   * Resolves once every connection is gone. Idempotent.
   */
  close(graceMs?: number): Promise<void>;
}

/** Binds the server; rejects with the bind error (EADDRINUSE, EACCES, …), leaving nothing open. */
export function listenTcp(
  host: string,
  port: number,
  family: 4 | 6,
  handler: MessageHandler,
  opts: TcpListenerOptions,
): Promise<TcpListener> {
  const limits = { ...TCP_DEFAULTS, ...opts.limits };
  // allowHalfOpen: a client may send its queries and then shut its side down
  // (RFC 7766 §6.2.4 asks us to still answer); we end ours when done.
  const server = net.createServer({ allowHalfOpen: true, noDelay: true });
  return new Promise((resolve, reject) => {
    const onBindError = (err: Error): void => reject(err);
    server.once('error', onBindError);
    server.listen({ host, port, ipv6Only: family === 6, exclusive: opts.shared !== true }, () => {
      server.off('error', onBindError);
      resolve(new TcpServerListener(server, host, family, handler, opts, limits));
    });
  });
}

/** What a connection needs from its listener. */
interface ConnectionContext {
  readonly handler: MessageHandler;
  readonly hooks: ReceiveHooks;
  readonly log: Logger;
  /** Replaced whole by setIdleTimeout; a connection reads it when it arms a timer. */
  limits: TcpLimits;
  readonly onClosed: (conn: Connection) => void;
  readonly inFlight: WaitingLimiter | null;
}

class TcpServerListener implements TcpListener {
  readonly host: string;
  readonly family: 4 | 6;
  readonly port: number;
  readonly #server: net.Server;
  readonly #limiter: KeyedLimiter;
  readonly #unknownLimiter: KeyedLimiter;
  readonly #isKnown: (address: string) => boolean;
  readonly #hooks: ReceiveHooks;
  readonly #log: Logger;
  readonly #connections = new Set<Connection>();
  readonly #ctx: ConnectionContext;
  #closing: Promise<void> | null = null;

  constructor(
    server: net.Server,
    host: string,
    family: 4 | 6,
    handler: MessageHandler,
    opts: TcpListenerOptions,
    limits: TcpLimits,
  ) {
    this.#server = server;
    this.host = host;
    this.family = family;
    const bound = server.address();
    this.port = typeof bound === 'object' && bound !== null ? bound.port : 0;
    this.#limiter = opts.connectionLimiter ?? new KeyedLimiter(limits.maxConnections, limits.maxConnectionsPerClient);
    this.#unknownLimiter = opts.unknownConnectionLimiter
      ?? new KeyedLimiter(limits.maxUnknownConnections, limits.maxUnknownConnectionsPerSource);
    this.#hooks = opts;
    this.#log = opts.log.child({ transport: 'tcp', listen: formatHostPort(host, this.port, family) });
    this.#isKnown = guardIsKnown(opts.isKnown, this.#log);
    this.#ctx = {
      handler,
      hooks: opts,
      log: this.#log,
      limits,
      inFlight: opts.inFlightLimiter ?? null,
      onClosed: (conn) => {
        this.#connections.delete(conn);
        (conn.known ? this.#limiter : this.#unknownLimiter).release(conn.peer.address);
      },
    };
    server.on('connection', (socket) => this.#accept(socket));
    // After listen, an accept error (EMFILE, …) is about one connection: the server keeps running.
    server.on('error', (err) => this.#log.error({ err }, 'TCP server error'));
  }

  get connections(): number {
    return this.#connections.size;
  }

  /** A reload's new idle timeout: connections accepted from now on use it. */
  setIdleTimeout(ms: number): void {
    this.#ctx.limits = { ...this.#ctx.limits, idleTimeoutMs: ms };
  }

  #accept(socket: net.Socket): void {
    const address = socket.remoteAddress;
    if (this.#closing !== null || address === undefined) {
      // undefined: the client is already gone.
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    const known = this.#isKnown(address);
    const refused = (known ? this.#limiter : this.#unknownLimiter).tryAcquire(address);
    if (refused !== null) {
      this.#hooks.onDrop?.(known ? refused : 'unknown_limit', 'tcp');
      this.#log.debug({ client: address, limit: refused, known }, 'TCP connection refused');
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    const peer: Peer = { address, port: socket.remotePort ?? 0, family: this.family, transport: 'tcp' };
    this.#connections.add(new Connection(socket, peer, this.#ctx, known));
  }

  close(graceMs = 0): Promise<void> {
    this.#closing ??= this.#close(graceMs);
    return this.#closing;
  }

  async #close(graceMs: number): Promise<void> {
    // The callback runs once the server stopped listening AND every connection has closed.
    const allClosed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const conn of this.#connections) conn.shutdown();
    const deadline = setTimeout(() => {
      for (const conn of this.#connections) conn.destroy();
    }, graceMs);
    await allClosed;
    clearTimeout(deadline);
  }
}

/**
 * One client connection. Reading is paused whenever the connection has as
 * many queries in flight as allowed, or the kernel send buffer is full, and
 * resumed as soon as that clears: a slow or greedy client waits, it does not
 * make us buffer without bound.
 */
class Connection {
  readonly peer: Peer;
  /** A known client's connection; a stranger's is answered once and closed. */
  readonly known: boolean;
  readonly #socket: net.Socket;
  readonly #ctx: ConnectionContext;
  readonly #reader: FrameReader;
  #inFlight = 0;
  /** A complete query waiting for its client's in-flight budget (reading is paused meanwhile). */
  #waiting: Buffer | null = null;
  readonly #wake = (): boolean => this.#resumeWaiting();
  /** The client shut down its sending side (FIN). */
  #readEnded = false;
  /** Take no more frames: a zero-length frame, idle timeout, or listener shutdown. */
  #stopReading = false;
  /** socket.write() returned false and 'drain' has not come yet. */
  #writeBlocked = false;
  /** Replies are being gathered for one write (see #write). */
  #corked = false;
  /** We called end(): nothing more will be written. */
  #ended = false;
  #closed = false;
  readonly #idleTimer: NodeJS.Timeout;
  #lingerTimer: NodeJS.Timeout | undefined;

  constructor(socket: net.Socket, peer: Peer, ctx: ConnectionContext, known: boolean) {
    this.#socket = socket;
    this.peer = peer;
    this.known = known;
    this.#ctx = ctx;
    this.#reader = new FrameReader(ctx.limits.maxBufferedBytes);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => {
      this.#readEnded = true;
      this.#pump();
    });
    socket.on('drain', () => {
      this.#writeBlocked = false;
      this.#pump();
    });
    // ECONNRESET, EPIPE, …: the client's problem. 'close' follows and cleans up.
    socket.on('error', (err) => ctx.log.debug({ err, client: peer.address }, 'TCP connection error'));
    socket.once('close', () => this.#onClose());
    this.#idleTimer = setTimeout(() => this.#onIdle(), ctx.limits.idleTimeoutMs);
  }

  /** Listener shutdown: no new queries; end once the ones in flight have been answered. */
  shutdown(): void {
    if (this.#closed) return;
    this.#stopReading = true;
    this.#reader.reset();
    this.#dropWaiting();
    this.#pump();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    // After we decided to stop, keep reading (so the client's FIN can arrive
    // and closing does not reset the connection) but discard.
    if (this.#stopReading) return;
    // Bytes alone do not reset the idle timer, complete queries do (see #dispatch):
    // a client dripping one byte at a time cannot hold a connection forever.
    if (!this.#reader.push(chunk)) {
      this.#ctx.hooks.onDrop?.('frame_buffer', 'tcp');
      this.#ctx.log.debug({ client: this.peer.address }, 'TCP read buffer cap exceeded; closing');
      this.destroy();
      return;
    }
    this.#pump();
  }

  /** Starts every query we may start now, then adjusts reading and ends if nothing is left to do. */
  #pump(): void {
    if (this.#closed) return;
    while (!this.#stopReading && !this.#writeBlocked && this.#inFlight < this.#ctx.limits.maxInFlightPerConnection) {
      if (this.#waiting !== null) {
        // Still over the client's budget: the limiter wakes us when a slot frees.
        if (!this.#tryStart(this.#waiting)) break;
        continue;
      }
      const message = this.#reader.next();
      if (message === null) {
        if (this.#readEnded && this.#reader.buffered > 0) {
          // The client closed in the middle of a frame: nothing to answer.
          this.#ctx.hooks.onMalformed?.('tcp');
          this.#ctx.log.debug({ client: this.peer.address, bytes: this.#reader.buffered }, 'truncated TCP frame at end of stream');
          this.#reader.reset();
        }
        break;
      }
      if (message.length === 0) {
        // A zero-length frame cannot hold a DNS message; the stream cannot be trusted after it.
        this.#ctx.hooks.onMalformed?.('tcp');
        this.#ctx.log.debug({ client: this.peer.address }, 'zero-length TCP frame; closing');
        this.#stopReading = true;
        this.#reader.reset();
        break;
      }
      if (!this.#tryStart(message)) break;
    }
    this.#updateFlow();
    this.#maybeEnd();
  }

  /** Dispatches `message` if its client's budget has room; otherwise keeps it and waits. */
  #tryStart(message: Buffer): boolean {
    const budget = this.#ctx.inFlight;
    const refused: LimitVerdict | null = budget ? budget.tryAcquire(this.peer.address) : null;
    if (refused !== null) {
      this.#waiting = message;
      budget!.wait(this.peer.address, refused, this.#wake);
      return false;
    }
    this.#waiting = null;
    this.#dispatch(message);
    // A stranger gets one answer: nothing more is read, and the connection ends once it is written.
    if (!this.known) {
      this.#stopReading = true;
      this.#reader.reset();
    }
    return true;
  }

  /** The limiter's wake-up: true when the waiting query got its slot. */
  #resumeWaiting(): boolean {
    if (this.#closed || this.#waiting === null) return false;
    const before = this.#inFlight;
    this.#pump();
    return this.#inFlight > before;
  }

  #dropWaiting(): void {
    if (this.#waiting === null) return;
    this.#waiting = null;
    this.#ctx.inFlight?.cancel(this.peer.address, this.#wake);
  }

  #dispatch(message: Buffer): void {
    this.#inFlight++;
    // While anything is in flight the timer is ignored; it restarts when the last query finishes.
    this.#idleTimer.refresh();
    invokeHandler(this.#ctx.handler, message, this.peer)
      .then(
        (reply) => {
          if (reply !== null) this.#write(reply);
        },
        (err: unknown) => {
          this.#ctx.log.error({ err, client: this.peer.address }, 'message handler failed; no reply sent');
          this.#ctx.hooks.onDrop?.('handler_error', 'tcp');
        },
      )
      .finally(() => {
        this.#inFlight--;
        // Given back after our own count is down, so a waiter woken by it (maybe this connection) sees the room.
        this.#ctx.inFlight?.release(this.peer.address);
        if (this.#inFlight === 0 && !this.#closed) this.#idleTimer.refresh();
        this.#pump();
      });
  }

  #write(reply: Buffer): void {
    if (this.#closed || this.#ended || !this.#socket.writable) return;
    if (reply.length > MAX_FRAME_LENGTH) {
      this.#ctx.hooks.onDrop?.('reply_too_large', 'tcp');
      this.#ctx.log.warn({ client: this.peer.address, bytes: reply.length }, 'reply too long for a TCP frame; not sent');
      return;
    }
    // The replies to the frames of one read go out together, in one write: a write call per reply
    // was a fifth of the busy time under pipelined queries. Uncorked once the replies made at once
    // (cache hits, blocks) are all in, before the event loop moves on.
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(this.#uncork);
    }
    if (!this.#socket.write(frame(reply))) this.#writeBlocked = true;
  }

  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };

  #updateFlow(): void {
    const wantPause =
      !this.#stopReading &&
      !this.#readEnded &&
      (this.#writeBlocked || this.#waiting !== null || this.#inFlight >= this.#ctx.limits.maxInFlightPerConnection);
    if (wantPause && !this.#socket.isPaused()) this.#socket.pause();
    else if (!wantPause && this.#socket.isPaused()) this.#socket.resume();
  }

  #maybeEnd(): void {
    if (this.#ended || this.#closed || this.#inFlight > 0 || this.#waiting !== null) return;
    if (this.#stopReading || (this.#readEnded && this.#reader.buffered === 0)) this.#end();
  }

  /** Ends our side after pending writes; a client that never closes its side is cut off after a while. */
  #end(): void {
    this.#ended = true;
    clearTimeout(this.#idleTimer);
    this.#socket.end();
    this.#lingerTimer = setTimeout(() => this.destroy(), this.#ctx.limits.idleTimeoutMs);
  }

  #onIdle(): void {
    // In flight, or a query waiting for its slot: the timer is re-armed when the query is dispatched or finishes.
    if (this.#closed || this.#ended || this.#inFlight > 0 || this.#waiting !== null) return;
    this.#ctx.log.debug({ client: this.peer.address }, 'TCP connection idle; closing');
    this.#stopReading = true;
    this.#reader.reset();
    this.#end();
  }

  #onClose(): void {
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#lingerTimer);
    this.#reader.reset();
    this.#dropWaiting();
    this.#ctx.onClosed(this);
  }
}

/** isKnown is the config's code running in our accept callback: a bug there makes the source a stranger (the smaller budget), never a crash. */
function guardIsKnown(isKnown: ((address: string) => boolean) | undefined, log: Logger): (address: string) => boolean {
  if (!isKnown) return () => true;
  return (address) => {
    try {
      return isKnown(address);
    } catch (err) {
      log.error({ err, client: address }, 'isKnown failed; treating the source as unknown');
      return false;
    }
  };
}
