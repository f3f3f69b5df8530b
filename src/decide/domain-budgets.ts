import { randomInt } from 'node:crypto';
import type { TunnelingConfig } from '../config/types.js';

/**
 * What each agent has sent under each registrable domain, for the two
 * windowed tunneling limits: distinct names per 10 minutes
 * (max_names_per_domain) and unique query-name bytes per hour
 * (max_bytes_per_domain). Lives in the server's state that outlives a config
 * snapshot, so a reload does not hand a tunnel a fresh budget; the limits are
 * passed with every call, so a reload's new limits apply from the next query.
 *
 * Windows are fixed, not sliding: each starts at the first query of its key
 * after the last one ended (the 10-minute window also starts over when the
 * hour does). Sliding windows would need a time per remembered name. Fixed
 * windows bound the long-run rate the same way; the price is the boundary: up
 * to twice a limit can pass in a span of one window across two windows (300
 * names at the end of one, 300 at the start of the next).
 *
 * Once a limit trips, every query of that agent under that domain trips until
 * the window of that limit ends (spec), and nothing more is remembered for it.
 * What was remembered stays: a names trip does not reset the hour's bytes,
 * so tripping the names limit on purpose cannot buy a fresh bytes budget.
 *
 * Memory. A name is remembered as a 30-bit hash (a V8 small integer, never a
 * string), in one Map per agent+domain, with the window it was last counted
 * in: 45–65 bytes a name (Node 20 x64, depending on how full the Map is), and
 * about 460 bytes a key besides. Bounded in total and per agent
 * (DEFAULT_BUDGET_BOUNDS): at most 20 000 keys and 400 000 names in all,
 * 1 000 keys and 20 000 names per agent, so at most ≈ 9 MB + 26 MB = 35 MB in
 * all (measured: 24.9 MiB with 20 000 keys of 20 names) and ≈ 1.8 MB per
 * agent. At a bound the least recently asked key goes (of that agent, for a
 * per-agent bound); idle keys whose hour is over are also dropped as queries
 * come. A key alone at its
 * agent's names bound counts new names without remembering them (a repeated
 * one is then counted again: toward a trip, never away from one). Evicting a
 * key forgets its budget; an agent that wants that has to ask 1 000 other
 * registrable domains, or 20 000 other names, between two tunnel queries.
 *
 * The hash is seeded per process: collisions (a new name taken for one seen)
 * could otherwise be searched for offline to send unlimited names that all
 * count as one. By chance, a new name meets one of n remembered with
 * probability n / 2^30 (2·10⁻⁶ at n = 2 000), and goes uncounted.
 */

export const NAMES_WINDOW_MS = 10 * 60_000;
export const BYTES_WINDOW_MS = 60 * 60_000;

export interface BudgetBounds {
  readonly maxKeys: number;
  readonly maxKeysPerAgent: number;
  /** Remembered names (hashes), over every key. */
  readonly maxNames: number;
  readonly maxNamesPerAgent: number;
}

export const DEFAULT_BUDGET_BOUNDS: BudgetBounds = Object.freeze({
  maxKeys: 20_000,
  maxKeysPerAgent: 1_000,
  maxNames: 400_000,
  maxNamesPerAgent: 20_000,
});

/** A windowed limit that tripped: `value` went over the role's limit `max`. */
export interface BudgetTrip {
  readonly key: 'max_names_per_domain' | 'max_bytes_per_domain';
  readonly value: number;
  readonly max: number;
}

/** What decide/ asks of the budgets (policy.ts); the server's DomainBudgets, or NO_BUDGETS offline. */
export interface DomainBudgetLookup {
  /**
   * Counts a query of `agent` for `name` under `domain`, whose first `below`
   * characters lie below the domain; the limit it trips, or undefined.
   */
  spend(agent: string, domain: string, name: string, below: number, limits: TunnelingConfig, now: number): BudgetTrip | undefined;
}

/** No windowed state (`intentdns explain`): the per-name signals still apply. */
export const NO_BUDGETS: DomainBudgetLookup = { spend: () => undefined };

interface Trip {
  readonly key: BudgetTrip['key'];
  readonly value: number;
}

interface AgentBooks {
  readonly name: string;
  /** This agent's keys by domain, least recently asked first. */
  readonly windows: Map<string, DomainWindow>;
  /** Names remembered over all its windows. */
  names: number;
}

interface DomainWindow {
  readonly books: AgentBooks;
  readonly domain: string;
  hourStart: number;
  /** Unique bytes counted this hour. */
  bytes: number;
  windowStart: number;
  /** Distinct names counted in this 10-minute window. */
  windowNames: number;
  /** Which 10-minute window of the hour this is: 0, 1, … */
  epoch: number;
  /** Name hash → the epoch it was last counted in. Every name here was counted in `bytes`. */
  readonly seen: Map<number, number>;
  trip: Trip | null;
}

export interface DomainBudgetOptions {
  readonly bounds?: BudgetBounds;
  /** The hash seed; random per process unless a test fixes it. */
  readonly seed?: number;
}

export class DomainBudgets implements DomainBudgetLookup {
  readonly #bounds: BudgetBounds;
  readonly #seed: number;
  readonly #agents = new Map<string, AgentBooks>();
  /** Every key, least recently asked first. */
  readonly #order = new Set<DomainWindow>();
  #names = 0;

  constructor(opts: DomainBudgetOptions = {}) {
    this.#bounds = opts.bounds ?? DEFAULT_BUDGET_BOUNDS;
    this.#seed = opts.seed ?? randomInt(0, 2 ** 32);
  }

  /** Agent+domain keys tracked now. */
  get size(): number {
    return this.#order.size;
  }

  /** Names remembered now, over every key. */
  get names(): number {
    return this.#names;
  }

  spend(agent: string, domain: string, name: string, below: number, limits: TunnelingConfig, now: number): BudgetTrip | undefined {
    this.#dropIdle(now);
    const w = this.#window(agent, domain, now);
    this.#roll(w, now);
    if (w.trip !== null) {
      const max = maxOf(w.trip.key, limits);
      // A reload may have raised the limit above what tripped: counting goes on from where it stopped.
      if (w.trip.value > max) return { key: w.trip.key, value: w.trip.value, max };
      w.trip = null;
    }
    const hash = nameHash(name, below, this.#seed);
    const last = w.seen.get(hash);
    const names = last === w.epoch ? w.windowNames : w.windowNames + 1;
    const bytes = last === undefined ? w.bytes + below : w.bytes;
    if (names > limits.maxNamesPerDomain) return this.#trip(w, 'max_names_per_domain', names, limits.maxNamesPerDomain);
    if (bytes > limits.maxBytesPerDomain) return this.#trip(w, 'max_bytes_per_domain', bytes, limits.maxBytesPerDomain);
    w.windowNames = names;
    w.bytes = bytes;
    if (last === undefined) this.#remember(w, hash);
    else if (last !== w.epoch) w.seen.set(hash, w.epoch);
    return undefined;
  }

  /** Starts the key's windows over where they have ended; a trip ends with its window. */
  #roll(w: DomainWindow, now: number): void {
    if (now - w.hourStart >= BYTES_WINDOW_MS) {
      this.#forget(w);
      w.hourStart = now;
      w.bytes = 0;
      w.windowStart = now;
      w.windowNames = 0;
      w.epoch = 0;
      w.trip = null;
    } else if (now - w.windowStart >= NAMES_WINDOW_MS) {
      w.windowStart = now;
      w.windowNames = 0;
      w.epoch++;
      if (w.trip?.key === 'max_names_per_domain') w.trip = null;
    }
  }

  #forget(w: DomainWindow): void {
    w.books.names -= w.seen.size;
    this.#names -= w.seen.size;
    w.seen.clear();
  }

  #trip(w: DomainWindow, key: BudgetTrip['key'], value: number, max: number): BudgetTrip {
    w.trip = { key, value };
    return { key, value, max };
  }

  /** The key, most recently asked now; made (evicting at the key bounds) when new. */
  #window(agent: string, domain: string, now: number): DomainWindow {
    let books = this.#agents.get(agent);
    if (books === undefined) {
      books = { name: agent, windows: new Map(), names: 0 };
      this.#agents.set(agent, books);
    }
    let w = books.windows.get(domain);
    if (w !== undefined) {
      books.windows.delete(domain);
      books.windows.set(domain, w);
      this.#order.delete(w);
      this.#order.add(w);
      return w;
    }
    if (books.windows.size >= this.#bounds.maxKeysPerAgent) this.#evict(first(books.windows.values())!);
    if (this.#order.size >= this.#bounds.maxKeys) this.#evict(first(this.#order.values())!);
    w = {
      books, domain, hourStart: now, bytes: 0, windowStart: now, windowNames: 0, epoch: 0, seen: new Map(), trip: null,
    };
    // The eviction above may have dropped this agent's books when it held their last key.
    if (!this.#agents.has(agent)) this.#agents.set(agent, books);
    books.windows.set(domain, w);
    this.#order.add(w);
    return w;
  }

  /** Remembers a new name of `w`, making room at the names bounds from other keys; alone at a bound, it is counted unremembered. */
  #remember(w: DomainWindow, hash: number): void {
    const b = this.#bounds;
    while (w.books.names >= b.maxNamesPerAgent) {
      const victim = first(w.books.windows.values());
      if (victim === undefined || victim === w) return;
      this.#evict(victim);
    }
    while (this.#names >= b.maxNames) {
      const victim = first(this.#order.values());
      if (victim === undefined || victim === w) return;
      this.#evict(victim);
    }
    w.seen.set(hash, w.epoch);
    w.books.names++;
    this.#names++;
  }

  #evict(w: DomainWindow): void {
    this.#forget(w);
    this.#order.delete(w);
    w.books.windows.delete(w.domain);
    if (w.books.windows.size === 0) this.#agents.delete(w.books.name);
  }

  /** Keys whose hour is over would start afresh anyway: the least recently asked go as queries come (two at a time). */
  #dropIdle(now: number): void {
    for (let i = 0; i < 2; i++) {
      const oldest = first(this.#order.values());
      if (oldest === undefined || now - oldest.hourStart < BYTES_WINDOW_MS) return;
      this.#evict(oldest);
    }
  }
}

function maxOf(key: BudgetTrip['key'], limits: TunnelingConfig): number {
  return key === 'max_names_per_domain' ? limits.maxNamesPerDomain : limits.maxBytesPerDomain;
}

function first<T>(values: IterableIterator<T>): T | undefined {
  const next = values.next();
  return next.done ? undefined : next.value;
}

/**
 * A seeded 30-bit hash of name[0, length) (the part below the domain: the
 * domain is the same for every name of a key): FNV-1a, then murmur3's final
 * mix so the low bits depend on every character. 30 bits stay a small
 * integer in V8, so a Map entry holds no boxed number.
 */
export function nameHash(name: string, length: number, seed: number): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & 0x3fffffff;
}
