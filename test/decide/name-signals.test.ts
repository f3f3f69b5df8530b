import { describe, expect, it } from 'vitest';
import { TUNNELING_DEFAULTS } from '../../src/config/sections/tunneling.js';
import { labelEntropy, nameSignal } from '../../src/decide/name-signals.js';

const limits = TUNNELING_DEFAULTS;
/** nameSignal as tunneling.ts calls it: `below` is the part under the registrable domain. */
const signal = (below: string, domain = 'example.com') => nameSignal(below === '' ? domain : `${below}.${domain}`, below, limits);

describe('labelEntropy', () => {
  it('is 0 for one repeated character and log2(n) for n distinct ones', () => {
    expect(labelEntropy('aaaaaaaaaaaaaaaa')).toBe(0);
    expect(labelEntropy('abcdefghijklmnop')).toBe(4);
    expect(labelEntropy('ab')).toBe(1);
  });

  it('counts only the characters in [start, end)', () => {
    expect(labelEntropy('xxabcdyy', 2, 6)).toBe(2);
  });
});

describe('nameSignal', () => {
  it('lets ordinary names through', () => {
    for (const below of ['www', 'api', 'registry', 'objects.githubusercontent', 'd3k8xz0abc.cloudfront', '_dmarc', 'pypi.files', '']) {
      expect(signal(below), below).toBeUndefined();
    }
  });

  it('trips on a label longer than max_label_length, naming its length', () => {
    expect(signal('a'.repeat(52))).toBeUndefined();
    expect(signal(`www.${'a'.repeat(53)}`)).toEqual({ key: 'max_label_length', value: 53, max: 52 });
  });

  it('trips on a name longer than max_name_length, counting the whole name', () => {
    const below = Array.from({ length: 4 }, () => 'a'.repeat(42)).join('.');   // 171 + ".example.com" = 183
    expect(signal(below)).toEqual({ key: 'max_name_length', value: 183, max: 180 });
  });

  it('judges entropy only for labels of 16 characters or more', () => {
    // 15 distinct characters: log2(15) = 3.91 — and a 15-character label is never judged anyway.
    expect(signal('0123456789abcde')).toBeUndefined();
    // 20 distinct characters: log2(20) = 4.32 bits per character.
    const tripped = signal('www.0123456789abcdefghij');
    expect(tripped?.key).toBe('max_label_entropy');
    expect(tripped?.value).toBeCloseTo(Math.log2(20), 10);
    // A long but repetitive word stays under 4.0.
    expect(signal('continuousintegration')).toBeUndefined();
  });

  it('leaves the registrable domain itself alone: the tunnel cannot put data there', () => {
    expect(nameSignal(`${'a1b2c3d4e5f6g7h8i9j0k'.repeat(2)}.com`, '', limits)).toBeUndefined();
  });

  it('checks in the spec\'s key order: a long label is named before the name length and the entropy', () => {
    const below = Array.from({ length: 4 }, (_, i) => `${i}abcdefghijklmnopqrstuvwxyz0123456789`.repeat(2).slice(0, 57)).join('.');
    expect(signal(below)?.key).toBe('max_label_length');
  });
});
