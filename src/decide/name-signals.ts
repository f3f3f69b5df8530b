import type { TunnelingConfig } from '../config/types.js';

/**
 * The tunneling signals one name carries on its own, whoever asks it and
 * however often: a long label, a long name, a label that reads like encoded
 * data. Pure, so `intentdns explain` shows them as the server applies them.
 */

/** Labels shorter than this are not judged by entropy: a short word cannot show how random it is (spec). */
export const ENTROPY_MIN_LABEL = 16;

/** A limit one name went over; `value` as the rule text shows it. */
export interface NameSignal {
  readonly key: 'max_label_length' | 'max_name_length' | 'max_label_entropy';
  readonly value: number;
  readonly max: number;
}

/**
 * The first limit `name` goes over, in the spec's key order, or undefined.
 * Labels are judged only in `below`, the part of the name under its
 * registrable domain: that is where a tunnel puts its data, while the
 * registrable domain is fixed for it (and a long company domain would trip on
 * every name). The name length is the whole name's, as DNS limits it.
 */
export function nameSignal(name: string, below: string, limits: TunnelingConfig): NameSignal | undefined {
  let longest = 0;
  let start = 0;
  for (let i = 0; i <= below.length; i++) {
    if (i === below.length || below.charCodeAt(i) === 0x2e) {
      longest = Math.max(longest, i - start);
      start = i + 1;
    }
  }
  if (longest > limits.maxLabelLength) return { key: 'max_label_length', value: longest, max: limits.maxLabelLength };
  if (name.length > limits.maxNameLength) return { key: 'max_name_length', value: name.length, max: limits.maxNameLength };
  // Only labels of 16+ characters are worth an entropy count, and most names have none.
  if (longest < ENTROPY_MIN_LABEL) return undefined;
  start = 0;
  for (let i = 0; i <= below.length; i++) {
    if (i !== below.length && below.charCodeAt(i) !== 0x2e) continue;
    if (i - start >= ENTROPY_MIN_LABEL) {
      const bits = labelEntropy(below, start, i);
      if (bits > limits.maxLabelEntropy) return { key: 'max_label_entropy', value: bits, max: limits.maxLabelEntropy };
    }
    start = i + 1;
  }
  return undefined;
}

/**
 * Shannon entropy of the characters of text[start, end), in bits per
 * character. Names arrive lower-case, printable ASCII (wire/query.ts), so a
 * 128-slot count covers every character.
 */
export function labelEntropy(text: string, start = 0, end = text.length): number {
  const counts = new Uint8Array(128);
  for (let i = start; i < end; i++) counts[text.charCodeAt(i) & 0x7f]!++;
  const n = end - start;
  let bits = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i) & 0x7f;
    const k = counts[c]!;
    if (k === 0) continue;
    counts[c] = 0;   // each character once
    const p = k / n;
    bits -= p * Math.log2(p);
  }
  return bits;
}
