/**
 * ttlCap alone: the highest TTL an agent is handed for an answer, from
 * answers.max_ttl (read through the real loader) and, for an answer a grant
 * let through, the grant's remaining life.
 */
import { describe, expect, it } from 'vitest';

import { ttlCap } from '../../src/answer/caps.js';
import { parseConfig } from '../../src/config/load.js';
import type { GrantRef, Verdict } from '../../src/pipeline/types.js';

const config = parseConfig(`
version: 1
upstreams: { servers: ["127.0.0.1:5300"] }
answers: { max_ttl: 2m }
clients:
  - { name: ci-runner-1, match: ["10.20.0.11/32"], role: coding }
roles:
  coding: { unlisted: hold }
`, 'caps.yaml');
const MAX_TTL_S = config.answers.maxTtlS;
const NOW = 1_700_000_000_000;

function granted(lifeMs: number): Verdict {
  const grant: GrantRef = { id: 'cmd_3', command: 'npm install', approvedBy: 'alice', expiresAt: NOW + lifeMs };
  return { action: 'forward', reason: 'grant', serve: 'upstream', grant };
}

describe('ttlCap', () => {
  it('without a grant: answers.max_ttl', () => {
    expect(MAX_TTL_S).toBe(120);
    expect(ttlCap({ action: 'forward', reason: 'allowlist', serve: 'upstream', rule: 'github.com' }, MAX_TTL_S, NOW)).toBe(120);
    expect(ttlCap(undefined, MAX_TTL_S, NOW)).toBe(120);
  });

  it("with a grant: the grant's remaining life, in whole seconds rounded down", () => {
    expect(ttlCap(granted(42_900), MAX_TTL_S, NOW)).toBe(42);
    expect(ttlCap(granted(999), MAX_TTL_S, NOW)).toBe(0);
  });

  it('a grant that outlives max_ttl is capped at max_ttl', () => {
    expect(ttlCap(granted(3_600_000), MAX_TTL_S, NOW)).toBe(120);
  });

  it('a grant already over gives 0, never a negative TTL', () => {
    expect(ttlCap(granted(0), MAX_TTL_S, NOW)).toBe(0);
    expect(ttlCap(granted(-30_000), MAX_TTL_S, NOW)).toBe(0);
  });

  it('a grant carried by a hold or a check verdict caps the same way', () => {
    const hold: Verdict = { ...granted(10_000), action: 'hold', reason: 'hold_approved', holdId: 'h_1' };
    const rebinding: Verdict = { ...granted(10_000), action: 'sinkhole', reason: 'rebinding', serve: 'sinkhole' };
    expect(ttlCap(hold, MAX_TTL_S, NOW)).toBe(10);
    expect(ttlCap(rebinding, MAX_TTL_S, NOW)).toBe(10);
  });

  it('max_ttl 0 means agents never cache, grant or not', () => {
    expect(ttlCap(undefined, 0, NOW)).toBe(0);
    expect(ttlCap(granted(60_000), 0, NOW)).toBe(0);
  });
});
