/**
 * Every `listen.dns` address served over both UDP and TCP, on the same port.
 * Binding is all or nothing: if one bind fails, whatever was already bound is
 * closed and startListeners rejects with a ListenError naming the address.
 *
 * The bound pairs live in a map keyed by the configured address text, so a
 * later reload can add or close one address without touching the others.
 */
import type { Logger } from 'pino';
import type { HostPort } from '../config/types.js';
import { ListenError, errnoCode } from './errors.js';
import { KeyedLimiter } from './limits.js';
import { TCP_DEFAULTS, listenTcp, type TcpLimits, type TcpListener } from './tcp.js';
import type { MessageHandler, ReceiveHooks } from './types.js';
import { UDP_DEFAULTS, listenUdp, type UdpLimits, type UdpListener } from './udp.js';

export interface ListenerOptions extends ReceiveHooks {
  readonly log: Logger;
  readonly udp?: Partial<UdpLimits>;
  readonly tcp?: Partial<TcpLimits>;
  /** How long close() lets queries in flight finish and write their replies. */
  readonly closeGraceMs?: number;
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
  readonly #tcpLimits: TcpLimits;
  // Shared by all addresses: one client must not get N times its share by using N addresses.
  readonly #udpLimiter: KeyedLimiter;
  readonly #tcpLimiter: KeyedLimiter;
  readonly #closeGraceMs: number;
  readonly #portAttempts: number;
  #closing: Promise<void> | null = null;

  constructor(handler: MessageHandler, opts: ListenerOptions) {
    this.#handler = handler;
    this.#log = opts.log;
    this.#hooks = guardHooks(opts, opts.log);
    this.#udpLimits = { ...UDP_DEFAULTS, ...opts.udp };
    this.#tcpLimits = { ...TCP_DEFAULTS, ...opts.tcp };
    this.#udpLimiter = new KeyedLimiter(this.#udpLimits.maxInFlight, this.#udpLimits.maxInFlightPerClient);
    this.#tcpLimiter = new KeyedLimiter(this.#tcpLimits.maxConnections, this.#tcpLimits.maxConnectionsPerClient);
    this.#closeGraceMs = opts.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
    this.#portAttempts = Math.max(1, opts.portAttempts ?? DEFAULT_PORT_ATTEMPTS);
  }

  /** Binds UDP and TCP on one address; rejects with ListenError and leaves nothing of it open. */
  async add(address: HostPort): Promise<void> {
    if (this.#closing !== null) throw new ListenError(address.text, 'udp', new Error('listeners are closing'));
    // The same text twice would bind twice for port 0 and collide otherwise: one pair serves both.
    if (this.#pairs.has(address.text)) return;
    this.#pairs.set(address.text, await this.#bindPair(address));
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
          limiter: this.#udpLimiter,
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
    await Promise.all(pairs.map((pair) => closePair(pair, this.#closeGraceMs)));
  }
}

async function closePair(pair: BoundPair, graceMs: number): Promise<void> {
  await Promise.all([pair.udp.close(graceMs), pair.tcp.close(graceMs)]);
}

export function formatHostPort(host: string, port: number, family: 4 | 6): string {
  return family === 6 ? `[${host}]:${port}` : `${host}:${port}`;
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
