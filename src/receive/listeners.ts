/**
 * Every `listen.dns` address served over both UDP and TCP, on the same port.
 * Binding is all or nothing: if one bind fails, whatever was already bound is
 * closed and startListeners rejects with a ListenError naming the address.
 *
 * The bound pairs live in a map keyed by the address (host and port, one
 * spelling per address), so a reload can add or close one address without
 * touching the others: update() binds what is new, then closes what is gone.
 */
import type { Logger } from 'pino';
import { formatHostPort } from '../config/address.js';
import type { Config, HostPort } from '../config/types.js';
import { errnoCode } from '../errors.js';
import { ListenError } from './errors.js';
import { KeyedLimiter, WaitingLimiter } from './limits.js';
import { TCP_DEFAULTS, listenTcp, type TcpLimits, type TcpListener } from './tcp.js';
import type { MessageHandler, ReceiveHooks } from './types.js';
import { UDP_DEFAULTS, listenUdp, type UdpLimits, type UdpListener } from './udp.js';

/** Queries in flight over UDP and TCP together, across every address: in all and per source address. */
export interface InFlightLimits {
  readonly maxInFlight: number;
  readonly maxInFlightPerClient: number;
}

export const IN_FLIGHT_DEFAULTS: InFlightLimits = Object.freeze({ maxInFlight: 10_000, maxInFlightPerClient: 100 });

/** What a config reload may change while the listeners run. */
export interface ListenerLimits {
  readonly inFlight?: Partial<InFlightLimits>;
  readonly tcp?: Partial<Pick<TcpLimits, 'maxConnections' | 'maxConnectionsPerClient' | 'idleTimeoutMs' | 'maxUnknownConnections' | 'maxUnknownConnectionsPerSource'>>;
}

/** The config's limits.* as the listeners take them (a worker's config carries its share already). */
export function listenerLimits(limits: Config['limits']): Required<ListenerLimits> {
  return {
    inFlight: { maxInFlightPerClient: limits.inFlightPerClient },
    tcp: {
      maxConnections: limits.tcpConnections,
      maxConnectionsPerClient: limits.tcpConnectionsPerClient,
      idleTimeoutMs: limits.tcpIdleTimeoutMs,
      maxUnknownConnections: limits.unknownTcpConnections,
      maxUnknownConnectionsPerSource: limits.unknownTcpConnectionsPerSource,
    },
  };
}

export interface ListenerOptions extends ReceiveHooks {
  readonly log: Logger;
  /** Per-socket UDP settings; the in-flight bounds of startListeners' sockets are `inFlight`. */
  readonly udp?: Partial<UdpLimits>;
  readonly tcp?: Partial<TcpLimits>;
  readonly inFlight?: Partial<InFlightLimits>;
  /**
   * Whether a source address is a known client (the server passes the current
   * config snapshot's answer): strangers get their own small TCP budget and
   * one answer per connection. Absent: every source counts as known.
   */
  readonly isKnown?: (address: string) => boolean;
  /** How long close() lets queries in flight finish and write their replies. */
  readonly closeGraceMs?: number;
  /**
   * Workers of `listen.workers`: sockets are bound through node:cluster, which shares one
   * socket per address among the workers (Node 20 has no reusePort for dgram or net).
   */
  readonly shared?: boolean;
  /** For port 0: how many UDP ports to try before giving up on finding one whose TCP twin is free too. */
  readonly portAttempts?: number;
}

/**
 * 5 s: long enough for a held query to reach its hold timeout (4 s by
 * default) and be answered, short enough that shutdown is never stuck.
 */
export const DEFAULT_CLOSE_GRACE_MS = 5000;
export const DEFAULT_PORT_ATTEMPTS = 5;

export interface Listeners {
  /** The bound addresses, in configured order, with the real port (the one the OS chose for port 0). */
  addresses(): HostPort[];
  /**
   * Serves exactly `addresses` from now on (config reload). Addresses bound
   * already stay as they are, sockets and connections included. New ones are
   * bound first, all or nothing: if one fails, the ones just bound are closed
   * again and update rejects with a ListenError, leaving the set as it was.
   * Only then are the addresses no longer listed closed, with the grace
   * period for queries in flight on them. Calls run one after another.
   */
  update(addresses: readonly HostPort[]): Promise<void>;
  /**
   * New limits from a config reload, for every address: ceilings apply at
   * once to what is taken from now on (slots already held stay held), the
   * idle timeout to connections accepted from now on.
   */
  setLimits(limits: ListenerLimits): void;
  /**
   * Stops accepting and receiving, lets queries in flight write their replies
   * for at most the grace period, then closes everything. Idempotent.
   */
  close(): Promise<void>;
}

export async function startListeners(
  addresses: readonly HostPort[],
  handler: MessageHandler,
  opts: ListenerOptions,
): Promise<Listeners> {
  const listeners = new DnsListeners(handler, opts);
  try {
    for (const address of addresses) await listeners.add(address);
  } catch (err) {
    await listeners.close();
    throw err;
  }
  return listeners;
}

/** One address, both transports. */
interface BoundPair {
  readonly bound: HostPort;
  readonly udp: UdpListener;
  readonly tcp: TcpListener;
}

class DnsListeners implements Listeners {
  readonly #pairs = new Map<string, BoundPair>();
  readonly #handler: MessageHandler;
  readonly #log: Logger;
  readonly #hooks: ReceiveHooks;
  readonly #udpLimits: UdpLimits;
  #tcpLimits: TcpLimits;
  // Shared by all addresses (one client must not get N times its share by using N addresses),
  // and the in-flight one by both transports: one budget per client, however it asks.
  readonly #inFlight: WaitingLimiter;
  readonly #tcpLimiter: KeyedLimiter;
  readonly #unknownTcpLimiter: KeyedLimiter;
  readonly #isKnown: ((address: string) => boolean) | undefined;
  readonly #closeGraceMs: number;
  readonly #portAttempts: number;
  readonly #shared: boolean;
  #closing: Promise<void> | null = null;
  /** The update running now, so that a second one starts from the set the first one left. */
  #updating: Promise<void> = Promise.resolve();

  constructor(handler: MessageHandler, opts: ListenerOptions) {
    this.#handler = handler;
    this.#log = opts.log;
    this.#hooks = guardHooks(opts, opts.log);
    this.#udpLimits = { ...UDP_DEFAULTS, ...opts.udp };
    this.#tcpLimits = { ...TCP_DEFAULTS, ...opts.tcp };
    const inFlight = { ...IN_FLIGHT_DEFAULTS, ...opts.inFlight };
    this.#inFlight = new WaitingLimiter(inFlight.maxInFlight, inFlight.maxInFlightPerClient);
    this.#tcpLimiter = new KeyedLimiter(this.#tcpLimits.maxConnections, this.#tcpLimits.maxConnectionsPerClient);
    this.#unknownTcpLimiter = new KeyedLimiter(this.#tcpLimits.maxUnknownConnections, this.#tcpLimits.maxUnknownConnectionsPerSource);
    this.#isKnown = opts.isKnown;
    this.#closeGraceMs = opts.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
    this.#portAttempts = Math.max(1, opts.portAttempts ?? DEFAULT_PORT_ATTEMPTS);
    this.#shared = opts.shared === true;
  }

  /** Binds UDP and TCP on one address; rejects with ListenError and leaves nothing of it open. */
  async add(address: HostPort): Promise<void> {
    // The same address twice would bind twice for port 0 and collide otherwise: one pair serves both.
    const key = addressKey(address);
    if (this.#pairs.has(key)) return;
    this.#pairs.set(key, await this.#bindOpen(address));
  }

  update(addresses: readonly HostPort[]): Promise<void> {
    const run = this.#updating.then(() => this.#update(addresses));
    this.#updating = run.catch(() => {});
    return run;
  }

  async #update(addresses: readonly HostPort[]): Promise<void> {
    const wanted = new Map(addresses.map((a) => [addressKey(a), a]));
    const added: Array<[string, BoundPair]> = [];
    try {
      for (const [key, address] of wanted) {
        if (!this.#pairs.has(key)) added.push([key, await this.#bindOpen(address)]);
      }
    } catch (err) {
      await Promise.all(added.map(([, pair]) => closePair(pair, 0)));
      throw err;
    }
    const removed = [...this.#pairs].filter(([key]) => !wanted.has(key)).map(([, pair]) => pair);
    // Rebuilt in configured order, so addresses() keeps listing them that way.
    const kept = new Map([...this.#pairs, ...added]);
    this.#pairs.clear();
    for (const key of wanted.keys()) this.#pairs.set(key, kept.get(key)!);
    for (const [, pair] of added) this.#log.info({ address: pair.bound.text }, 'DNS listener added');
    for (const pair of removed) this.#log.info({ address: pair.bound.text }, 'DNS listener removed');
    await Promise.all(removed.map((pair) => closePair(pair, this.#closeGraceMs)));
  }

  /** #bindPair, refused once close() has begun (also when it began during the bind). */
  async #bindOpen(address: HostPort): Promise<BoundPair> {
    const closing = (): ListenError => new ListenError(address.text, 'udp', new Error('listeners are closing'));
    if (this.#closing !== null) throw closing();
    const pair = await this.#bindPair(address);
    if (this.#closing === null) return pair;
    await closePair(pair, 0);
    throw closing();
  }

  async #bindPair(address: HostPort): Promise<BoundPair> {
    const { host, family } = address;
    // Only an OS-chosen port can be changed to get past a TCP port that is taken.
    const attempts = address.port === 0 ? this.#portAttempts : 1;
    for (let attempt = 1; ; attempt++) {
      // UDP first: with port 0 it picks the port, and TCP follows it so both share one number.
      let udp: UdpListener;
      try {
        udp = await listenUdp(host, address.port, family, this.#handler, {
          ...this.#hooks,
          log: this.#log,
          limits: this.#udpLimits,
          limiter: this.#inFlight,
          shared: this.#shared,
        });
      } catch (err) {
        throw new ListenError(address.text, 'udp', err);
      }
      try {
        const tcp = await listenTcp(host, udp.port, family, this.#handler, {
          ...this.#hooks,
          log: this.#log,
          limits: this.#tcpLimits,
          connectionLimiter: this.#tcpLimiter,
          unknownConnectionLimiter: this.#unknownTcpLimiter,
          inFlightLimiter: this.#inFlight,
          shared: this.#shared,
          ...(this.#isKnown && { isKnown: this.#isKnown }),
        });
        const bound: HostPort = { host, family, port: udp.port, text: formatHostPort(host, udp.port, family) };
        this.#log.debug({ address: bound.text }, 'DNS listener bound (udp+tcp)');
        return { bound, udp, tcp };
      } catch (err) {
        await udp.close();
        if (attempt < attempts && errnoCode(err) === 'EADDRINUSE') continue;
        throw new ListenError(address.text, 'tcp', err);
      }
    }
  }

  setLimits(limits: ListenerLimits): void {
    const f = { maxInFlight: this.#inFlight.maxTotal, maxInFlightPerClient: this.#inFlight.maxPerKey, ...limits.inFlight };
    this.#inFlight.setCeilings(f.maxInFlight, f.maxInFlightPerClient);
    this.#tcpLimits = { ...this.#tcpLimits, ...limits.tcp };
    const t = this.#tcpLimits;
    this.#tcpLimiter.setCeilings(t.maxConnections, t.maxConnectionsPerClient);
    this.#unknownTcpLimiter.setCeilings(t.maxUnknownConnections, t.maxUnknownConnectionsPerSource);
    for (const pair of this.#pairs.values()) pair.tcp.setIdleTimeout(t.idleTimeoutMs);
  }

  addresses(): HostPort[] {
    return [...this.#pairs.values()].map((pair) => pair.bound);
  }

  close(): Promise<void> {
    this.#closing ??= this.#closeAll();
    return this.#closing;
  }

  async #closeAll(): Promise<void> {
    const pairs = [...this.#pairs.values()];
    this.#pairs.clear();
    // An update in progress binds nothing more now, and may still be closing the addresses it removed.
    await Promise.all([...pairs.map((pair) => closePair(pair, this.#closeGraceMs)), this.#updating]);
  }
}

async function closePair(pair: BoundPair, graceMs: number): Promise<void> {
  await Promise.all([pair.udp.close(graceMs), pair.tcp.close(graceMs)]);
}

/** One key per address whatever its spelling: hosts are canonical already (config/address.ts). */
function addressKey(address: HostPort): string {
  return formatHostPort(address.host, address.port, address.family);
}

/**
 * The counters are someone else's code running inside our socket callbacks:
 * a bug there must cost a metric, not the listener.
 */
function guardHooks(hooks: ReceiveHooks, log: Logger): ReceiveHooks {
  const guarded: { -readonly [K in keyof ReceiveHooks]: ReceiveHooks[K] } = {};
  const { onDrop, onMalformed } = hooks;
  if (onDrop) {
    guarded.onDrop = (reason, transport) => {
      try {
        onDrop(reason, transport);
      } catch (err) {
        log.error({ err }, 'onDrop callback failed');
      }
    };
  }
  if (onMalformed) {
    guarded.onMalformed = (transport) => {
      try {
        onMalformed(transport);
      } catch (err) {
        log.error({ err }, 'onMalformed callback failed');
      }
    };
  }
  return guarded;
}
