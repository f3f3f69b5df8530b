import { parseName } from '../config/pattern.js';
import type { Reason } from '../pipeline/types.js';

/**
 * Reasons that mean "the role did not cover this name": the names an operator
 * may want to allow. Deliberate blocks (denylist, rebinding, qtype,
 * quarantine, tunneling) are never suggested back: an allow entry would not
 * lift them, since deny wins.
 */
export const UNCOVERED_REASONS: ReadonlySet<Reason> = new Set<Reason>([
  'unlisted', 'grant', 'hold_approved', 'hold_denied', 'hold_timeout', 'hold_capacity', 'link_down',
]);

/** Whether suggest would propose an allow entry for `qname`: a name a role's list can hold (config/pattern.ts). */
export function allowable(qname: string): boolean {
  return parseName(qname).ok;
}
