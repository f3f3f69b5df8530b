import dgram from 'node:dgram';
import type { HostPort } from '../config/types.js';
import { errnoCode } from '../errors.js';
import type { SocketBudget } from '../limit/sockets.js';
import { answersQuery } from '../wire/response.js';
import { NoSocketError, UpstreamNetworkError, UpstreamTimeoutError, type UpstreamError } from './errors.js';
import { randomIndex, randomUint16 } from './random.js';

/**
 * UDP sockets to one upstream, kept open and shared by the queries to it.
 *
 * Why: a socket per query (create, bind, connect, close) cost 15–20 % of the
 * busy time on cache misses. Spoof resistance (RFC 5452) is what a socket
 * per query bought, and the pool keeps it:
 *   - each socket is bound by the kernel to a random ephemeral port (Linux
 *     picks bind(0) ports at random across ip_local_port_range, 28 232 ports
 *     by default) and `connect()`ed, so only the upstream's address and port
 *     are delivered to it;
 *   - each query leaves from one of `size` sockets chosen at random (from the
 *     CSPRNG), with a random 16-bit id not in use on that socket;
 *   - a socket is replaced after `maxQueries` queries or `maxAge`, so the open
 *     ports move: a port seen once is soon of no use.
 * An off-path spoofer who does not see our traffic must guess the port among
 * the whole ephemeral range (the ports in use are random and not
 * discoverable from outside: the sockets are connected) and the id: about
 * log2(28 232) + 16 ≈ 30.8 bits per forged packet, the same as a fresh
 * socket per query gave. A packet counts only if it answers the pending
 * query's id and question (`answersQuery`); anything else is dropped.
 *
 * Bound: every open socket holds one slot of the SocketBudget. A pool keeps
 * at most `size` sockets in use and as many again that are being replaced
 * (they close once their last query is answered or times out); without a free
 * slot, or with that many being replaced already, an old socket goes on
 * serving, and a pool without any socket fails the query at once.
 */
export interface UdpPoolOptions {
  /** Sockets in use at once: the queries to this upstream are spread over them at random. */
  readonly size: number;
  /** Queries one socket carries before it is replaced by one on a new random port. */
  readonly maxQueries: number;
  /** How long one socket is used before it is replaced. */
  readonly maxAgeMs: number;
  readonly budget?: SocketBudget | undefined;
  readonly now?: () => number;
}

export const UDP_POOL_DEFAULTS: Omit<UdpPoolOptions, 'budget' | 'now'> = Object.freeze({
  size: 32,
  maxQueries: 1000,
  maxAgeMs: 60_000,
});

interface Pending {
  readonly question: Buffer;
  readonly timer: NodeJS.Timeout;
  readonly resolve: (result: Buffer | UpstreamError) => void;
}

/** One connected socket and the queries waiting on it, by id. */
class PooledSocket {
  readonly socket: dgram.Socket;
  readonly pending = new Map<number, Pending>();
  readonly bornAt: number;
  queries = 0;
  /** Sends made before connect() finished. */
  #waiting: Array<{ id: number; query: Buffer }> | null = [];
  #retired = false;
  #closed = false;

  constructor(
    readonly server: HostPort,
    bornAt: number,
    private readonly onClosed: (s: PooledSocket) => void,
  ) {
    this.bornAt = bornAt;
    this.socket = dgram.createSocket(server.family === 6 ? 'udp6' : 'udp4');
    // Open sockets alone never keep the process alive; a query waiting on one has its timer.
    this.socket.unref();
    this.socket.on('message', (msg) => this.#receive(msg));
    // An ICMP error on a connected socket (ECONNREFUSED: nothing listens there) concerns every
    // query on it: they all went to that one upstream. The socket is not used again.
    this.socket.on('error', (err) => this.fail(err));
    this.socket.connect(server.port, server.host, () => {
      const waiting = this.#waiting ?? [];
      this.#waiting = null;
      for (const { id, query } of waiting) this.#send(id, query);
    });
  }

  get usable(): boolean {
    return !this.#retired && !this.#closed;
  }

  /** Sends `query` (its id already written) and resolves with the answer, or why there was none. */
  ask(id: number, query: Buffer, question: Buffer, timeoutMs: number): Promise<Buffer | UpstreamError> {
    this.queries++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#settle(id, new UpstreamTimeoutError(this.server.text, 'udp', timeoutMs)), timeoutMs);
      this.pending.set(id, { question, timer, resolve });
      if (this.#waiting !== null) this.#waiting.push({ id, query });
      else this.#send(id, query);
    });
  }

  /** No new queries; the socket closes once its last query is settled. */
  retire(): void {
    this.#retired = true;
    if (this.pending.size === 0) this.close();
  }

  /** Every pending query fails with `err`, and the socket closes. */
  fail(err: unknown): void {
    this.#retired = true;
    for (const id of [...this.pending.keys()]) {
      this.#settle(id, new UpstreamNetworkError(this.server.text, 'udp', errnoCode(err) ?? String(err), { cause: err }));
    }
    this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#retired = true;
    for (const id of [...this.pending.keys()]) this.#settle(id, new UpstreamNetworkError(this.server.text, 'udp', 'upstream socket closed'));
    try {
      // The 'error' listener stays: a late error on a closing socket must not become an uncaught exception.
      this.socket.close();
    } catch {
      // Already closed by dgram after an error: nothing is left to free.
    }
    this.onClosed(this);
  }

  /**
   * One callback for every send, not a closure per query. A send fails on a
   * connected socket when an ICMP error for it is pending (ECONNREFUSED: the
   * kernel reports it to whichever call comes first, this send or the next
   * read): like the socket's 'error', it concerns every query on it.
   */
  readonly #sent = (err: Error | null): void => {
    if (err) this.fail(err);
  };

  #send(id: number, query: Buffer): void {
    try {
      this.socket.send(query, this.#sent);
    } catch (err) {
      this.#settle(id, new UpstreamNetworkError(this.server.text, 'udp', errnoCode(err) ?? String(err), { cause: err }));
    }
  }

  #receive(msg: Buffer): void {
    if (msg.length < 12) return;
    const id = msg.readUInt16BE(0);
    const pending = this.pending.get(id);
    if (pending === undefined || !answersQuery(msg, id, pending.question)) return;
    this.#settle(id, msg);
  }

  #settle(id: number, result: Buffer | UpstreamError): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    pending.resolve(result);
    if (this.#retired && this.pending.size === 0) this.close();
  }
}

/** The sockets to one upstream. */
export class UdpPool {
  readonly #server: HostPort;
  readonly #o: UdpPoolOptions;
  readonly #now: () => number;
  readonly #slots: Array<PooledSocket | null>;
  /** Replaced sockets still waiting for answers. */
  readonly #retiring = new Set<PooledSocket>();

  constructor(server: HostPort, options: Partial<UdpPoolOptions> = {}) {
    this.#server = server;
    this.#o = { ...UDP_POOL_DEFAULTS, ...options };
    this.#now = options.now ?? Date.now;
    this.#slots = new Array<PooledSocket | null>(this.#o.size).fill(null);
  }

  /** Sockets open now, in use and being replaced. */
  get open(): number {
    return this.#slots.filter((s) => s !== null).length + this.#retiring.size;
  }

  /** The source ports in use now: how a test sees them renewed. */
  ports(): number[] {
    const ports: number[] = [];
    for (const s of this.#slots) {
      try {
        if (s) ports.push(s.socket.address().port);
      } catch {
        // Not bound yet.
      }
    }
    return ports;
  }

  /**
   * One UDP exchange: `query` (any id; the pool writes its own) from a
   * random socket, resolving with the first packet that answers it, or with
   * why none did. Never rejects.
   */
  exchange(query: Buffer, question: Buffer, timeoutMs: number): Promise<Buffer | UpstreamError | NoSocketError> {
    const socket = this.#pick();
    if (socket === null) {
      this.#o.budget?.countRefused();
      return Promise.resolve(new NoSocketError(this.#o.budget?.max ?? 0));
    }
    let id = randomUint16();
    while (socket.pending.has(id)) id = randomUint16();
    query.writeUInt16BE(id, 0);
    return socket.ask(id, query, question, timeoutMs);
  }

  /** Replaces every socket older than maxAge, used or not: a pool nobody asks any more empties itself. */
  sweep(): void {
    const now = this.#now();
    for (let i = 0; i < this.#slots.length; i++) {
      const s = this.#slots[i];
      if (s && now - s.bornAt >= this.#o.maxAgeMs) this.#retire(i, s);
    }
  }

  /** Closes every socket; their pending queries fail at once. */
  close(): void {
    for (let i = 0; i < this.#slots.length; i++) this.#slots[i]?.close();
    for (const s of [...this.#retiring]) s.close();
  }

  #pick(): PooledSocket | null {
    const i = randomIndex(this.#slots.length);
    let s = this.#slots[i] ?? null;
    if (s !== null && !s.usable) s = null;
    if (s !== null && (s.queries >= this.#o.maxQueries || this.#now() - s.bornAt >= this.#o.maxAgeMs || s.pending.size >= 0xf000)) {
      // Due for a new port; while too many are still being replaced, the old one goes on.
      if (this.#retiring.size >= this.#slots.length) return s.pending.size < 0xf000 ? s : this.#anyUsable();
      this.#retire(i, s);
      s = null;
    }
    if (s === null) {
      s = this.#open(i);
      if (s === null) return this.#anyUsable();
    }
    return s;
  }

  #retire(i: number, s: PooledSocket): void {
    this.#slots[i] = null;
    this.#retiring.add(s);
    s.retire();
  }

  #open(i: number): PooledSocket | null {
    // Not tryOpen: a pool out of slots shares a socket it has, and that is no refusal.
    if (this.#o.budget?.full || this.#o.budget?.tryOpen() === false) return null;
    const s = new PooledSocket(this.#server, this.#now(), (closed) => {
      this.#retiring.delete(closed);
      if (this.#slots[i] === closed) this.#slots[i] = null;
      this.#o.budget?.close();
    });
    this.#slots[i] = s;
    return s;
  }

  #anyUsable(): PooledSocket | null {
    for (const s of this.#slots) if (s?.usable && s.pending.size < 0xf000) return s;
    return null;
  }
}

/**
 * The pools of every upstream, shared by every config snapshot (a reload
 * keeps the sockets of the upstreams it keeps). A pool whose upstream left
 * the config empties itself within two maxAge spans: nobody asks it, and the
 * sweep replaces its sockets by none.
 */
export class UdpPools {
  readonly #pools = new Map<string, UdpPool>();
  readonly #options: Partial<UdpPoolOptions>;
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: Partial<UdpPoolOptions> = {}) {
    this.#options = options;
    const every = options.maxAgeMs ?? UDP_POOL_DEFAULTS.maxAgeMs;
    this.#sweeper = setInterval(() => {
      for (const pool of this.#pools.values()) pool.sweep();
    }, every);
    this.#sweeper.unref();
  }

  of(server: HostPort): UdpPool {
    let pool = this.#pools.get(server.text);
    if (pool === undefined) {
      pool = new UdpPool(server, this.#options);
      this.#pools.set(server.text, pool);
    }
    return pool;
  }

  close(): void {
    clearInterval(this.#sweeper);
    for (const pool of this.#pools.values()) pool.close();
    this.#pools.clear();
  }
}
