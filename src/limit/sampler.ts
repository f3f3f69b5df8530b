import { SourceTable } from './sources.js';

interface Seen {
  /** performance.now() of the last line written for this source. */
  lineAt: number;
  /** Queries of this source counted since that line (none of them got a line of its own). */
  unlogged: number;
}

/** At most one line per source in this span. */
export const SAMPLE_INTERVAL_MS = 10_000;
/** Over all sources: a flood from many addresses still writes only this many lines a second. */
export const MAX_SAMPLED_LINES_PER_S = 50;
/**
 * Sources remembered. Fewer than the buckets: forgetting one only lets its
 * next line come early, and the global line budget above still holds.
 */
export const MAX_SAMPLED_SOURCES = 10_000;

/**
 * Which refused and rate-limited queries get a decision line: at most one
 * per source per 10 s, and the line says how many queries it stands for
 * (`limited: N`, this one and those since the source's last line). The first
 * such query of a source writes its line at once. Every query is still
 * counted in intentdns_queries_total; the sampling only spares the log.
 *
 * Two bounds: at most MAX_SAMPLED_SOURCES sources are remembered (the one
 * seen least recently is forgotten, with its count), and at most
 * MAX_SAMPLED_LINES_PER_S lines are written a second over all sources, so
 * that a flood from ever new addresses cannot write a line per packet. A
 * line held back by that second bound is written with the source's next
 * query after it, carrying the count.
 */
export class LineSampler {
  readonly #intervalMs: number;
  readonly #table: SourceTable<Seen>;
  readonly #linesPerS: number;
  /** The global line budget, a token bucket of its own. */
  #lineTokens: number;
  #lineTokensAt = -Infinity;

  constructor(opts: { intervalMs?: number; maxSources?: number; maxLinesPerS?: number } = {}) {
    this.#intervalMs = opts.intervalMs ?? SAMPLE_INTERVAL_MS;
    this.#table = new SourceTable(opts.maxSources ?? MAX_SAMPLED_SOURCES);
    this.#linesPerS = opts.maxLinesPerS ?? MAX_SAMPLED_LINES_PER_S;
    this.#lineTokens = this.#linesPerS;
  }

  /** Whether the next query of `source` counted now would get a line (lets a caller skip decoding one that will not). */
  due(source: string, now: number): boolean {
    const seen = this.#table.get(source, newSeen);
    return now - seen.lineAt >= this.#intervalMs && this.#lineBudget(now) >= 1;
  }

  /**
   * Counts one refused or limited query of `source`. Returns how many
   * queries its line stands for when a line is to be written now, or 0.
   */
  take(source: string, now: number): number {
    const seen = this.#table.get(source, newSeen);
    seen.unlogged++;
    if (now - seen.lineAt < this.#intervalMs || this.#lineBudget(now) < 1) return 0;
    this.#lineTokens -= 1;
    const count = seen.unlogged;
    seen.unlogged = 0;
    seen.lineAt = now;
    return count;
  }

  #lineBudget(now: number): number {
    const refilled = this.#lineTokens + ((now - this.#lineTokensAt) * this.#linesPerS) / 1000;
    this.#lineTokens = refilled > this.#linesPerS ? this.#linesPerS : refilled;
    this.#lineTokensAt = now;
    return this.#lineTokens;
  }
}

function newSeen(): Seen {
  return { lineAt: -Infinity, unlogged: 0 };
}
