/** Small clients and handlers for the receive/ tests: real sockets, loopback only. */
import dgram from 'node:dgram';
import net from 'node:net';
import { Writable } from 'node:stream';
import dnsPacket from 'dns-packet';
import { pino, type Logger } from 'pino';
import type { MessageHandler, Peer } from '../../src/receive/types.js';

export const silentLog: Logger = pino({ level: 'silent' });

/** A logger whose lines land in `lines`, parsed. */
export function capturingLog(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

export function query(id: number, name = 'example.org'): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', class: 'IN', name }],
  });
}

export function messageId(message: Buffer): number {
  return message.readUInt16BE(0);
}

/** The query itself with QR set: enough of a reply for a transport test. */
export function echoReply(message: Buffer): Buffer {
  const reply = Buffer.from(message);
  if (reply.length >= 3) reply[2] = (reply[2] ?? 0) | 0x80;
  return reply;
}

export const echoHandler: MessageHandler = async (message) => (message.length >= 12 ? echoReply(message) : null);

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `cond` holds; fails the test after `timeoutMs`. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for: ${what}`);
    await delay(5);
  }
}

export interface Gate {
  readonly wait: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

/** A handler that records each call and holds its reply until `release` (or the gate) opens. */
export function recordingHandler(hold?: Gate): { handler: MessageHandler; calls: Array<{ id: number; peer: Peer }> } {
  const calls: Array<{ id: number; peer: Peer }> = [];
  const handler: MessageHandler = async (message, peer) => {
    calls.push({ id: message.length >= 2 ? messageId(message) : -1, peer });
    if (hold) await hold.wait;
    return echoReply(message);
  };
  return { handler, calls };
}

/** A UDP client that collects every datagram it receives. */
export class UdpClient {
  readonly received: Buffer[] = [];
  readonly #socket: dgram.Socket;

  private constructor(socket: dgram.Socket) {
    this.#socket = socket;
    socket.on('message', (msg) => this.received.push(msg));
  }

  static async open(family: 4 | 6, localAddress?: string): Promise<UdpClient> {
    const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => socket.bind({ port: 0, ...(localAddress ? { address: localAddress } : {}) }, resolve));
    return new UdpClient(socket);
  }

  send(message: Buffer, port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => this.#socket.send(message, port, host, (err) => (err ? reject(err) : resolve())));
  }

  async exchange(message: Buffer, port: number, host: string): Promise<Buffer> {
    const before = this.received.length;
    await this.send(message, port, host);
    await waitFor(() => this.received.length > before, 'UDP reply');
    return this.received[before]!;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}

/** A TCP client that parses framed replies on its own (independently of src/receive/framing.ts). */
export class TcpClient {
  readonly replies: Buffer[] = [];
  ended = false;     // the server ended its side
  closed = false;
  error: Error | null = null;
  readonly socket: net.Socket;
  #pending = Buffer.alloc(0);

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.#pending = Buffer.concat([this.#pending, chunk]);
      while (this.#pending.length >= 2) {
        const length = this.#pending.readUInt16BE(0);
        if (this.#pending.length < 2 + length) break;
        this.replies.push(this.#pending.subarray(2, 2 + length));
        this.#pending = this.#pending.subarray(2 + length);
      }
    });
    socket.on('end', () => {
      this.ended = true;
      // Like a real stub resolver: when the server is done, so are we.
      socket.end();
    });
    socket.on('error', (err) => {
      this.error = err;
    });
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static connect(port: number, host: string, localAddress?: string): Promise<TcpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host, allowHalfOpen: true, ...(localAddress ? { localAddress } : {}) });
      socket.once('connect', () => resolve(new TcpClient(socket)));
      socket.once('error', reject);
    });
  }

  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(bytes, (err) => (err ? reject(err) : resolve())));
  }

  /** Half-close: we send no more, but keep reading. */
  end(): void {
    this.socket.end();
  }

  async waitReplies(n: number, timeoutMs = 2000): Promise<Buffer[]> {
    await waitFor(() => this.replies.length >= n, `${n} TCP replies (have ${this.replies.length})`, timeoutMs);
    return this.replies;
  }

  waitClosed(timeoutMs = 2000): Promise<void> {
    return waitFor(() => this.closed, 'TCP connection closed', timeoutMs);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function framed(message: Buffer): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(message.length, 0);
  return Buffer.concat([prefix, message]);
}

/** Counts of the handle kinds a listener owns, plus timers (see process.getActiveResourcesInfo). */
export function handleCounts(): Record<string, number> {
  const counts: Record<string, number> = { UDPWrap: 0, TCPServerWrap: 0, TCPSocketWrap: 0, Timeout: 0 };
  for (const kind of process.getActiveResourcesInfo()) if (kind in counts) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

const sameCounts = (a: Record<string, number>, b: Record<string, number>): boolean =>
  Object.keys(a).every((k) => a[k] === b[k]);

/**
 * Handle counts once they stop changing: libuv lists a handle for a moment
 * after its close callback ran, so earlier tests' sockets may still show.
 */
export async function settledHandleCounts(): Promise<Record<string, number>> {
  let last = handleCounts();
  for (;;) {
    await delay(10);
    const now = handleCounts();
    if (sameCounts(now, last)) return now;
    last = now;
  }
}

/**
 * Waits until no kind of handle is above its count in `expected` (and fails
 * with both when that never happens). "Not above" rather than "equal": a timer
 * of the test runner's that was live when `expected` was taken may be gone now.
 */
export async function waitForHandleCounts(expected: Record<string, number>): Promise<void> {
  const noneAbove = (): boolean => Object.entries(handleCounts()).every(([k, n]) => n <= (expected[k] ?? 0));
  await waitFor(noneAbove, `handles at most ${JSON.stringify(expected)}, have ${JSON.stringify(handleCounts())}`);
}
