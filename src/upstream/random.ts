import { randomFillSync } from 'node:crypto';

/**
 * Unpredictable numbers for what an off-path spoofer must guess (RFC 5452):
 * query ids and which pooled socket, so which source port, a query leaves
 * from. From the CSPRNG, drawn 1 KiB at a time rather than one call per query.
 */
const pool = new Uint16Array(512);
let next = pool.length;

/** A random 16-bit number: a query id. */
export function randomUint16(): number {
  if (next === pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  return pool[next++]!;
}

/** A random index below `n` (n ≤ 65 536), without modulo bias. */
export function randomIndex(n: number): number {
  const limit = 65_536 - (65_536 % n);
  for (;;) {
    const r = randomUint16();
    if (r < limit) return r % n;
  }
}
