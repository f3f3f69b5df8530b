import type { Section } from '../reader.js';
import type { Mode } from '../types.js';

export const MODES: readonly Mode[] = ['enforce', 'audit'];

/**
 * A role's or a client's `mode`: null when the key is absent, so that "not
 * set" (inherit) stays apart from an explicit `enforce` that overrides an
 * audit role or an audit global mode.
 */
export function readModeOverride(sec: Section): Mode | null {
  return sec.node('mode') === undefined ? null : sec.oneOf('mode', MODES, 'enforce');
}
