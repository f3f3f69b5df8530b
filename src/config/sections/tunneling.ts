import type { Section } from '../reader.js';
import type { TunnelingConfig } from '../types.js';

export const TUNNELING_KEYS = [
  'action', 'max_label_length', 'max_name_length', 'max_label_entropy', 'max_names_per_domain', 'max_bytes_per_domain',
] as const;

/**
 * The defaults, in one place: what a role gets for every key its `tunneling`
 * section leaves out. The spec's, but for max_label_length (52 → 63) and
 * max_label_entropy (4.0 → 4.8), which its values sinkholed real names with
 * (measured on the ordinary-name corpus, docs/tunneling.md; change them there
 * first, test/decide/tunneling-corpus.test.ts holds them to it). At 63 the
 * label check cannot trip: DNS labels are at most 63 characters.
 */
export const TUNNELING_DEFAULTS: TunnelingConfig = Object.freeze({
  action: 'sinkhole',
  maxLabelLength: 63,
  maxNameLength: 180,
  maxLabelEntropy: 4.8,
  maxNamesPerDomain: 300,
  maxBytesPerDomain: 8192,
});

/** A label is at most 63 characters and a name 253: a larger limit could never trip. */
const DNS_MAX_LABEL = 63;
const DNS_MAX_NAME = 253;
/** log2(63): no label of 63 characters or fewer has more entropy per character than this. */
const MAX_POSSIBLE_ENTROPY = Math.log2(DNS_MAX_LABEL);

/**
 * `roles.<name>.tunneling`: present means on (an empty `tunneling:` takes every
 * default), absent means off. A limit that can never trip (a label limit above
 * 63) is an error rather than a silent off switch.
 */
export function readTunneling(role: Section): TunnelingConfig | null {
  if (!role.has('tunneling')) return null;
  const sec = role.child('tunneling', TUNNELING_KEYS);
  const d = TUNNELING_DEFAULTS;
  return {
    action: sec.oneOf('action', ['sinkhole', 'log'], d.action),
    maxLabelLength: sec.intIn('max_label_length', d.maxLabelLength, 1, DNS_MAX_LABEL),
    maxNameLength: sec.intIn('max_name_length', d.maxNameLength, 1, DNS_MAX_NAME),
    maxLabelEntropy: sec.numberIn('max_label_entropy', d.maxLabelEntropy, 0, MAX_POSSIBLE_ENTROPY),
    maxNamesPerDomain: sec.positiveInt('max_names_per_domain', d.maxNamesPerDomain),
    maxBytesPerDomain: sec.positiveInt('max_bytes_per_domain', d.maxBytesPerDomain),
  };
}
