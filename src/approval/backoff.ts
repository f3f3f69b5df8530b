/**
 * Reconnect delays for the approval link: exponential, capped, with "equal
 * jitter" (half the step fixed, half random).
 *
 * Why equal jitter rather than full jitter: full jitter (a uniform draw in
 * [0, step]) spreads a fleet best, but it can draw ~0 ms at any attempt, so a
 * service that is down keeps getting near-immediate retries now and then, and
 * the delay does not really grow. Equal jitter keeps a floor of step/2, so the
 * delay grows for sure (at the cap: 15–30 s) and still spreads several
 * intentdns instances over half the step after the service restarts.
 */

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 30_000 };

/** The un-jittered step for `attempt` (0-based): initialMs · 2^attempt, capped at maxMs. */
export function backoffStep(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  const n = Number.isFinite(attempt) && attempt > 0 ? Math.floor(attempt) : 0;
  // 2 ** n reaches Infinity for huge n; Math.min still gives maxMs.
  return Math.min(opts.maxMs, opts.initialMs * 2 ** n);
}

/**
 * The delay before reconnect number `attempt` (0-based), in [step/2, step].
 * `random` is injectable so tests can pin the jitter.
 */
export function backoffDelay(
  attempt: number,
  opts: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const step = backoffStep(attempt, opts);
  return Math.round(step / 2 + random() * (step / 2));
}
