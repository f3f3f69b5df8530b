import type { ServerResponse } from 'node:http';
import type { DecisionEvent, DecisionSink } from '../observe/decision-sink.js';
import type { Action, Reason } from '../pipeline/types.js';

export interface DecisionStreamLimits {
  /** Subscribers at once; one more is answered 503. An operator's terminal or two, a console: few. */
  readonly maxSubscribers: number;
  /**
   * Bytes waiting to go out to one subscriber (its response's buffer and its socket's) beyond
   * which its events are dropped and counted, not queued: memory stays at most this per subscriber.
   */
  readonly maxBufferedBytes: number;
  /** How often a `: ping` comment goes to every subscriber, so proxies and load balancers keep an idle stream open. */
  readonly pingIntervalMs: number;
}

export const DECISION_STREAM_DEFAULTS: DecisionStreamLimits = {
  maxSubscribers: 16,
  maxBufferedBytes: 256 * 1024,
  pingIntervalMs: 15_000,
};

/** Exact matches on the fields of a decision; an absent field matches every value. */
export interface DecisionFilter {
  readonly agent?: string;
  readonly role?: string;
  readonly action?: Action;
  readonly reason?: Reason;
}

interface Subscriber {
  readonly res: ServerResponse;
  readonly filter: DecisionFilter;
  /** Events lost since the last one delivered: told to the subscriber (`event: dropped`) before the next. */
  missed: number;
}

const PING = Buffer.from(': ping\n\n');

/**
 * The live decision stream (GET /v1/decisions): fans each decision line out
 * to the subscribers whose filter it matches, as one SSE `decision` event.
 *
 * Made once at start, outside any config snapshot, so subscribers stay
 * through reloads and HTTP listener moves. Never waits for a subscriber: a
 * write goes out only while that subscriber has less than maxBufferedBytes
 * waiting; otherwise the event is dropped for it and counted, so a paused
 * client costs a counter increment per decision and nothing else.
 */
export class DecisionStream implements DecisionSink {
  readonly #subscribers = new Set<Subscriber>();
  readonly #limits: DecisionStreamLimits;
  #ping: NodeJS.Timeout | null = null;
  #dropped = 0;
  #onListening: ((listening: boolean) => void) | null = null;

  constructor(limits: Partial<DecisionStreamLimits> = {}) {
    this.#limits = { ...DECISION_STREAM_DEFAULTS, ...limits };
  }

  get listening(): boolean {
    return this.#subscribers.size > 0;
  }

  /**
   * Told when the first subscriber comes and when the last one goes, at that
   * moment: a primary of `listen.workers` has its workers forward decision
   * lines only while someone listens, and must tell them before the
   * subscriber could see a query of its own go unreported.
   */
  onListening(listener: (listening: boolean) => void): void {
    this.#onListening = listener;
  }

  get subscribers(): number {
    return this.#subscribers.size;
  }

  /** Events not sent to a subscriber because it was too far behind, since start. */
  get dropped(): number {
    return this.#dropped;
  }

  /** The most bytes waiting to go out to any one subscriber now: what the bound holds down. */
  get largestBacklog(): number {
    let most = 0;
    for (const s of this.#subscribers) most = Math.max(most, s.res.writableLength);
    return most;
  }

  get full(): boolean {
    return this.#subscribers.size >= this.#limits.maxSubscribers;
  }

  get limits(): DecisionStreamLimits {
    return this.#limits;
  }

  publish(event: DecisionEvent): void {
    // Made at most once per decision, and only when some subscriber takes it.
    let frame: Buffer | null = null;
    for (const s of this.#subscribers) {
      if (!matches(s.filter, event)) continue;
      if (s.res.writableLength >= this.#limits.maxBufferedBytes) {
        s.missed++;
        this.#dropped++;
        continue;
      }
      if (s.missed > 0) {
        s.res.write(`event: dropped\ndata: {"count":${s.missed}}\n\n`);
        s.missed = 0;
      }
      frame ??= Buffer.from(`event: decision\ndata: ${event.line}\n`);
      s.res.write(frame);
    }
  }

  /** Sends this stream's decisions to `res` (headers already written) until it closes. The caller checks `full` first. */
  add(res: ServerResponse, filter: DecisionFilter): void {
    const subscriber: Subscriber = { res, filter, missed: 0 };
    this.#subscribers.add(subscriber);
    res.once('close', () => this.#remove(subscriber));
    if (this.#subscribers.size === 1) this.#onListening?.(true);
    if (this.#ping === null) {
      this.#ping = setInterval(() => this.#pingAll(), this.#limits.pingIntervalMs);
      this.#ping.unref();
    }
  }

  #pingAll(): void {
    for (const s of this.#subscribers) if (s.res.writableLength < this.#limits.maxBufferedBytes) s.res.write(PING);
  }

  #remove(subscriber: Subscriber): void {
    if (!this.#subscribers.delete(subscriber)) return;
    if (this.#subscribers.size > 0) return;
    if (this.#ping !== null) {
      clearInterval(this.#ping);
      this.#ping = null;
    }
    this.#onListening?.(false);
  }
}

function matches(filter: DecisionFilter, event: DecisionEvent): boolean {
  return (filter.action === undefined || filter.action === event.action)
    && (filter.reason === undefined || filter.reason === event.reason)
    && (filter.agent === undefined || filter.agent === event.agent)
    && (filter.role === undefined || filter.role === event.role);
}
