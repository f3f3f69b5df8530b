import type { ConfigIssue } from '../config/errors.js';
import type { ConfigLocations } from '../config/locate.js';
import type { Config } from '../config/types.js';

/**
 * How long glibc (`options timeout:5`), Go's resolver, c-ares and dig wait
 * for an answer per try by default. A hold that lasts as long makes them
 * retry or give up before its answer comes (docs/operations.md, "What stub
 * resolvers do against it").
 */
export const STUB_TRY_TIMEOUT_MS = 5_000;

/** approval.hold_timeout at or above the stubs' per-try wait. */
export function longHoldTimeout(config: Config, where: ConfigLocations): ConfigIssue[] {
  const ms = config.approval?.holdTimeoutMs;
  if (ms === undefined || ms < STUB_TRY_TIMEOUT_MS) return [];
  return [where.issue(['approval', 'hold_timeout'],
    `approval.hold_timeout: ${ms / 1000} s is not under the ${STUB_TRY_TIMEOUT_MS / 1000} s stub resolvers wait per try (glibc timeout:5, dig +timeout=5); they retry or give up before the hold is answered`)];
}

/** `unlisted: hold` with no approval section: nobody can be asked, so hold acts as sinkhole. */
export function holdWithoutApproval(config: Config, where: ConfigLocations): ConfigIssue[] {
  if (config.approval !== null) return [];
  return [...config.roles.values()].filter((r) => r.unlisted === 'hold').map((r) => where.issue(['roles', r.name, 'unlisted'],
    `roles.${r.name}.unlisted: hold without an approval section acts as sinkhole (nobody can be asked)`));
}
