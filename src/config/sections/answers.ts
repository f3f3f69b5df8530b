import { isScalar } from 'yaml';
import { parseSeconds } from '../duration.js';
import { fail, ok, type Parsed, type Section } from '../reader.js';
import { parseSize } from '../size.js';
import type { Config, SinkholeResponse } from '../types.js';

export const CACHE_KEYS = ['max_entries', 'max_bytes'] as const;
export const ANSWERS_KEYS = ['max_ttl', 'block_private'] as const;
export const SINKHOLE_KEYS = ['response', 'ttl', 'hint'] as const;

const SINKHOLE_RESPONSES: readonly SinkholeResponse[] = ['nxdomain', 'nodata', 'refused', 'null-ip'];

/**
 * What `cache.max_bytes` is when unset: 64 MiB of answers, well inside the
 * 512Mi memory limit of deploy/kubernetes. Measured: 6000 distinct ~61 KB TXT
 * answers over TCP left the process at about 250 MB RSS with this bound
 * (1086 answers kept) and at about 520 MB without it. Small answers count
 * about 1 KB each, so 50,000 of them (max_entries) fit within it as in v1.
 */
export const DEFAULT_CACHE_MAX_BYTES = 64 * 1024 * 1024;

/** `cache`: one entry per name, type and answer, positive or negative; bounded in entries and in bytes. */
export function readCache(sec: Section): Config['cache'] {
  const maxEntries = sec.positiveInt('max_entries', 50_000);
  const bytesNode = sec.node('max_bytes');
  if (isScalar(bytesNode) && typeof bytesNode.value === 'number') {
    // A bare number would be "expected a string"; say what is missing instead.
    sec.reader.report(bytesNode, `${sec.pathOf('max_bytes')}: ${bytesNode.value} has no unit; write a size such as 64MiB (units KiB, MiB, GiB)`);
    return { maxEntries, maxBytes: DEFAULT_CACHE_MAX_BYTES };
  }
  return { maxEntries, maxBytes: sec.parse('max_bytes', DEFAULT_CACHE_MAX_BYTES, parseSize) };
}

/** `answers`: zero for max_ttl is allowed; it means agents never cache. */
export function readAnswers(sec: Section): Config['answers'] {
  return { maxTtlS: sec.parse('max_ttl', 60, parseSeconds), blockPrivate: sec.bool('block_private', true) };
}

/** `sinkhole`: what a blocked name gets back, and how long resolvers may remember it. */
export function readSinkhole(sec: Section): Config['sinkhole'] {
  return {
    response: sec.oneOf('response', SINKHOLE_RESPONSES, 'nxdomain'),
    ttlS: sec.parse('ttl', 5, parseSeconds),
    hint: sec.parse('hint', '', parseHint),
  };
}

/** Printable ASCII only, and short: the text goes into every block's EDE option, in a UDP reply. */
function parseHint(text: string): Parsed<string> {
  if (text.length > 200) return fail(`must be at most 200 characters, not ${text.length}`);
  if (!/^[\x20-\x7e]*$/.test(text)) return fail('must be printable ASCII');
  return ok(text);
}
