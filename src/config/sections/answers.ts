import { parseSeconds } from '../duration.js';
import { fail, ok, type Parsed, type Section } from '../reader.js';
import type { Config, SinkholeResponse } from '../types.js';

export const CACHE_KEYS = ['max_entries'] as const;
export const ANSWERS_KEYS = ['max_ttl', 'block_private'] as const;
export const SINKHOLE_KEYS = ['response', 'ttl', 'hint'] as const;

const SINKHOLE_RESPONSES: readonly SinkholeResponse[] = ['nxdomain', 'nodata', 'refused', 'null-ip'];

/** `cache`: one entry per name, type and answer, positive or negative. */
export function readCache(sec: Section): Config['cache'] {
  return { maxEntries: sec.positiveInt('max_entries', 50_000) };
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
