import type { NamePattern } from './types.js';
import { fail, ok, type Parsed } from './reader.js';

const LABEL = /^[a-z0-9_-]{1,63}$/;

/**
 * A domain name as matching sees it: lower-case, no trailing dot, labels of
 * letters, digits, "_" and "-" (underscores appear in real service names such
 * as _dmarc), 1–63 characters each, at most 253 in all.
 */
export function parseName(text: string, shown = text): Parsed<string> {
  const name = text.toLowerCase().replace(/\.$/, '');
  if (name === '') return fail(`"${shown}" is empty`);
  if (name.length > 253) return fail(`"${shown}" is longer than 253 characters`);
  for (const label of name.split('.')) {
    if (label === '') return fail(`"${shown}" has an empty label`);
    if (label.length > 63) return fail(`"${shown}" has a label longer than 63 characters`);
    if (!LABEL.test(label)) return fail(`"${shown}" may only contain letters, digits, "_", "-" and dots`);
  }
  return ok(name);
}

/**
 * "example.org" (that name) or "*.example.org" (every name below it, never
 * the apex). "*" is only ever the whole first label: partial wildcards like
 * "foo*.example.org" look like glob patterns but would match nothing useful.
 */
export function parsePattern(text: string): Parsed<Omit<NamePattern, 'source'>> {
  const subtree = text.startsWith('*.');
  const rest = subtree ? text.slice(2) : text;
  if (rest.includes('*')) return fail(`"${text}": "*" is only allowed as the whole first label, as in "*.example.org"`);
  if (subtree && (rest === '' || rest === '.')) return fail(`"${text}" needs a name after "*."`);
  const name = parseName(rest, text);
  return name.ok ? ok({ kind: subtree ? 'subtree' : 'exact', name: name.value }) : name;
}

/** How a pattern reads back in logs: "*.example.org" or "example.org". */
export function patternText(p: Omit<NamePattern, 'source'>): string {
  return p.kind === 'subtree' ? `*.${p.name}` : p.name;
}
