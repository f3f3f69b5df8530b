import { fail, ok, type Parsed } from './reader.js';

const UNIT_BYTES: Readonly<Record<string, number>> = { KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/**
 * "512KiB", "64MiB", "1GiB" → bytes. One whole number and one binary unit,
 * as Kubernetes writes memory: a bare number or "MB" would leave the reader
 * guessing whether 1000 or 1024 was meant, so they are rejected.
 */
export function parseSize(text: string): Parsed<number> {
  const m = /^(\d+)(KiB|MiB|GiB)$/.exec(text.trim());
  if (!m) {
    return fail(`"${text}" is not a size; write a whole number and a unit (KiB, MiB, GiB), as in 64MiB`);
  }
  const bytes = Number(m[1]) * (UNIT_BYTES[m[2] ?? ''] ?? NaN);
  if (bytes === 0) return fail(`"${text}" must be more than zero`);
  return Number.isSafeInteger(bytes) ? ok(bytes) : fail(`"${text}" is too large`);
}
