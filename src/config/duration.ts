import { fail, ok, type Parsed } from './reader.js';

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Timers overflow past 2^31-1 ms and then fire at once, which would turn a long timeout into none. */
const MAX_MS = 2 ** 31 - 1;

/**
 * "500ms", "3s", "10m", "1h" → milliseconds. One whole number and one unit:
 * combinations ("1h30m") and fractions are rejected rather than guessed at.
 */
export function parseDuration(text: string): Parsed<number> {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text.trim());
  if (!m) {
    return text.trim().startsWith('-')
      ? fail(`"${text}" is negative; durations must be zero or more`)
      : fail(`"${text}" is not a duration; write a whole number and a unit (ms, s, m, h), as in 500ms or 10m`);
  }
  const ms = Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? NaN);
  return ms > MAX_MS ? fail(`"${text}" is too long (at most 596h)`) : ok(ms);
}

/** A duration that must be above zero (timeouts: zero would fail every attempt). */
export function parsePositiveDuration(text: string): Parsed<number> {
  const d = parseDuration(text);
  return d.ok && d.value === 0 ? fail(`"${text}" must be more than zero`) : d;
}

/** A duration handed out in DNS TTL fields, which count whole seconds. */
export function parseSeconds(text: string): Parsed<number> {
  const d = parseDuration(text);
  if (!d.ok) return d;
  return d.value % 1000 === 0 ? ok(d.value / 1000) : fail(`"${text}" is not a whole number of seconds (DNS TTLs count seconds)`);
}
