/**
 * Wrong admin tokens per source address: one that presents too many in a
 * short time is refused for a while, right token or not. The token is
 * compared in constant time (auth.ts), but nothing else stopped a reachable
 * listen.http from being asked millions of guesses; an operator's short
 * token would then fall. A locked source gets 429 on everything that takes
 * a token (/v1, the console and its login form); the probes and /metrics,
 * which take none, stay open to it.
 *
 * Bounded: at most `maxSources` addresses are remembered, the one seen least
 * recently forgotten first (a flood of sources pushes out old counts rather
 * than growing the map).
 */
export interface GuessLimits {
  /** Wrong tokens that lock a source out when they come within `windowMs`. */
  readonly maxWrong: number;
  readonly windowMs: number;
  /** How long a locked source is refused. */
  readonly lockMs: number;
  readonly maxSources: number;
}

export const GUESS_DEFAULTS: GuessLimits = { maxWrong: 10, windowMs: 60_000, lockMs: 60_000, maxSources: 4_096 };

interface Tally {
  /** When the current window began (its first wrong token). */
  since: number;
  wrong: number;
  lockedUntil: number;
}

export class TokenGuesses {
  readonly #limits: GuessLimits;
  /** Insertion order is recency: a source is re-inserted whenever it guesses. */
  readonly #bySource = new Map<string, Tally>();

  constructor(limits: Partial<GuessLimits> = {}) {
    this.#limits = { ...GUESS_DEFAULTS, ...limits };
  }

  /** Milliseconds this source is still refused for; 0 when it is not. */
  lockedFor(source: string, now: number): number {
    const t = this.#bySource.get(source);
    return t === undefined || t.lockedUntil <= now ? 0 : t.lockedUntil - now;
  }

  /** Counts one wrong token; true when this one locked the source out. */
  wrong(source: string, now: number): boolean {
    const { maxWrong, windowMs, lockMs, maxSources } = this.#limits;
    let t = this.#bySource.get(source);
    if (t === undefined || now - t.since >= windowMs) t = { since: now, wrong: 0, lockedUntil: t?.lockedUntil ?? 0 };
    this.#bySource.delete(source);
    this.#bySource.set(source, t);
    while (this.#bySource.size > maxSources) this.#bySource.delete(this.#bySource.keys().next().value as string);
    t.wrong += 1;
    if (t.wrong < maxWrong) return false;
    t.lockedUntil = now + lockMs;
    t.since = now;
    t.wrong = 0;
    return true;
  }
}
