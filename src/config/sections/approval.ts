import { parseName } from '../pattern.js';
import { parsePositiveDuration } from '../duration.js';
import { fail, ok, type Parsed, type Section } from '../reader.js';
import type { ApprovalConfig } from '../types.js';

export const APPROVAL_KEYS = [
  'url', 'token_file', 'grant_ttl', 'hold_timeout', 'on_hold_timeout',
  'on_link_down', 'max_pending_holds', 'max_pending_holds_per_agent', 'internal_suffixes', 'max_grant_ttl',
] as const;

/** The default share of one agent (and of one client entry): a tenth of max_pending_holds, at least 1. */
export function defaultHoldsPerAgent(maxPendingHolds: number): number {
  return Math.max(1, Math.ceil(maxPendingHolds / 10));
}

/**
 * `approval`: absent (or empty) turns grants and holds off. Defaults are the
 * spec's example values; hold_timeout stays under the 5 s stub resolvers wait.
 */
export function readApproval(root: Section, resolvePath: (p: string) => string): ApprovalConfig | null {
  if (!root.has('approval') || root.isNull('approval')) return null;
  const sec = root.child('approval', APPROVAL_KEYS);
  const maxPendingHolds = sec.positiveInt('max_pending_holds', 1000);
  return {
    url: sec.require('url') ? sec.parse('url', '', parseServiceUrl) : '',
    tokenFile: sec.filePath('token_file', resolvePath),
    grantTtlMs: sec.parse('grant_ttl', 600_000, parsePositiveDuration),
    maxGrantTtlMs: sec.parse('max_grant_ttl', 86_400_000, parsePositiveDuration),
    holdTimeoutMs: sec.parse('hold_timeout', 4_000, parsePositiveDuration),
    onHoldTimeout: sec.oneOf('on_hold_timeout', ['sinkhole', 'servfail'], 'sinkhole'),
    onLinkDown: sec.oneOf('on_link_down', ['sinkhole', 'forward'], 'sinkhole'),
    maxPendingHolds,
    maxPendingHoldsPerAgent: sec.positiveInt('max_pending_holds_per_agent', defaultHoldsPerAgent(maxPendingHolds)),
    internalSuffixes: (sec.list('internal_suffixes') ?? []).flatMap(
      (item, i) => sec.reader.parse(item, `approval.internal_suffixes[${i}]`, parseSuffix) ?? [],
    ),
  };
}

/**
 * The service's base URL, without a trailing slash since API paths are
 * appended. Credentials belong in token_file, not in a URL that gets logged.
 */
export function parseServiceUrl(text: string): Parsed<string> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail(`"${text}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return fail(`"${text}" must be an http:// or https:// URL`);
  if (url.username || url.password) return fail('must not contain credentials; use token_file');
  if (url.search || url.hash) return fail(`"${text}" must not have a query or fragment`);
  return ok(url.href.replace(/\/+$/, ''));
}

/** "corp.internal" or ".corp.internal": both mean names ending in corp.internal. */
function parseSuffix(text: string): Parsed<string> {
  return parseName(text.replace(/^\./, ''));
}
