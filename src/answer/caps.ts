import type { Verdict } from '../pipeline/types.js';

/**
 * The highest TTL an agent may be handed for an answer with this verdict:
 * answers.max_ttl, and for an answer a grant let through, the grant's
 * remaining life, so no cache downstream outlives the permission that filled it.
 */
export function ttlCap(verdict: Verdict | undefined, maxTtlS: number, now: number): number {
  const grant = verdict?.grant;
  if (grant === undefined) return maxTtlS;
  return Math.min(maxTtlS, Math.max(0, Math.floor((grant.expiresAt - now) / 1000)));
}
