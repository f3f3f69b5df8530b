/**
 * A small DNS client over real sockets, for end-to-end tests: one message over
 * UDP or TCP (optionally sent from another loopback source address, so a test
 * can be a different client), and a TCP connection kept open for pipelining
 * and broken frames. Bytes in, bytes out: building and decoding packets is
 * test/helpers/packets.ts's job. Every socket opened here is closed before the
 * promise that used it settles, so tests leak no handles.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { waitFor } from './wait-for.js';

export interface Target {
  readonly host: string;
  readonly port: number;
}

export interface SendOptions {
  /** Source address to bind ("127.0.0.2"); default: whatever the kernel picks. */
  readonly from?: string;
  /** How long to wait for a reply. Default 2000 ms. */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 2000;

/** Prepends the 2-byte length of RFC 1035 §4.2.2. */
export function framed(message: Buffer): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(message.length, 0);
  return Buffer.concat([prefix, message]);
}

/** Sends one datagram; resolves with the first datagram that comes back from `target`, or null when none came in time. */
export function udpExchange(target: Target, message: Buffer, opts: SendOptions = {}): Promise<Buffer | null> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(target.host) ? 'udp6' : 'udp4');
    let done = false;
    const finish = (result: Buffer | null, err?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close(() => (err ? reject(err) : resolve(result)));
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.on('error', (err) => finish(null, err));
    socket.on('message', (msg, rinfo) => {
      if (rinfo.port === target.port) finish(msg);
    });
    socket.bind({ port: 0, ...(opts.from !== undefined && { address: opts.from }) }, () => {
      socket.send(message, target.port, target.host, (err) => {
        if (err) finish(null, err);
      });
    });
  });
}

/** Opens a connection, sends one framed message, resolves with the first reply frame, or null on timeout or close. */
export async function tcpExchange(target: Target, message: Buffer, opts: SendOptions = {}): Promise<Buffer | null> {
  const conn = await TcpConnection.open(target, opts.from);
  try {
    await conn.write(framed(message));
    await conn.waitFor(() => conn.replies.length > 0 || conn.closed, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS).catch(() => undefined);
    return conn.replies[0] ?? null;
  } finally {
    await conn.close();
  }
}

/** A client TCP connection that splits the server's stream into reply frames on its own. */
export class TcpConnection {
  readonly replies: Buffer[] = [];
  /** The server ended its side (FIN). */
  ended = false;
  closed = false;
  readonly #socket: net.Socket;
  #pending = Buffer.alloc(0);

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.#pending = Buffer.concat([this.#pending, chunk]);
      while (this.#pending.length >= 2) {
        const end = 2 + this.#pending.readUInt16BE(0);
        if (this.#pending.length < end) break;
        this.replies.push(Buffer.from(this.#pending.subarray(2, end)));
        this.#pending = this.#pending.subarray(end);
      }
    });
    socket.on('end', () => {
      this.ended = true;
      // Like a stub resolver: when the server is done, so are we (else it waits for our FIN).
      socket.end();
    });
    socket.on('error', () => { /* ECONNRESET when the server cuts us off: 'close' follows */ });
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static open(target: Target, from?: string): Promise<TcpConnection> {
    return new Promise((resolve, reject) => {
      // allowHalfOpen: a test may end its side and still read the answers (RFC 7766 §6.2.4).
      const socket = net.connect({ host: target.host, port: target.port, allowHalfOpen: true, ...(from !== undefined && { localAddress: from }) });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new TcpConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Writes raw bytes: frames, several frames at once, or pieces of one. */
  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.#socket.write(bytes, (err) => (err ? reject(err) : resolve())));
  }

  /** Half-close: send no more, keep reading. */
  end(): void {
    this.#socket.end();
  }

  waitFor(cond: () => boolean, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<true> {
    return waitFor(() => cond() || undefined, { timeoutMs, what: `TCP condition (${this.replies.length} replies, closed ${this.closed})` });
  }

  async waitReplies(n: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Buffer[]> {
    await this.waitFor(() => this.replies.length >= n, timeoutMs);
    return this.replies;
  }

  /** Destroys the socket and resolves once it is closed. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.destroy();
    });
  }
}
