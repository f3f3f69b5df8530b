import { parseDuration, parsePositiveDuration } from '../duration.js';
import { fail, ok, type Parsed, type Section } from '../reader.js';
import type { FirewallConfig } from '../types.js';

export const FIREWALL_KEYS = ['backend', 'table', 'scope', 'grace', 'wait', 'on_error'] as const;

/**
 * `firewall`: absent (or null) keeps v1 behaviour, DNS filtering only. Present,
 * every address handed out in an allowed answer goes into an nftables set
 * (src/firewall/). Defaults are the spec's example values.
 */
export function readFirewall(root: Section): FirewallConfig | null {
  if (!root.has('firewall') || root.isNull('firewall')) return null;
  const sec = root.child('firewall', FIREWALL_KEYS);
  return {
    backend: sec.oneOf('backend', ['nftables'], 'nftables'),
    table: sec.parse('table', 'intentdns', parseTableName),
    scope: sec.oneOf('scope', ['role', 'agent'], 'role'),
    graceMs: sec.parse('grace', 30_000, parseDuration),
    waitMs: sec.parse('wait', 100, parsePositiveDuration),
    onError: sec.oneOf('on_error', ['closed', 'open'], 'closed'),
  };
}

/** An nft identifier we can write unquoted: a letter, then letters, digits and underscores. */
export function parseTableName(text: string): Parsed<string> {
  if (!/^[A-Za-z][A-Za-z0-9_]{0,62}$/.test(text)) {
    return fail(`"${text}" is not a table name (a letter, then letters, digits or _; at most 63)`);
  }
  return ok(text);
}
