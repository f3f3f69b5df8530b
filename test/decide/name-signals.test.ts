import { describe, expect, it } from 'vitest';
import { TUNNELING_DEFAULTS } from '../../src/config/sections/tunneling.js';
import { labelEntropy, nameSignal } from '../../src/decide/name-signals.js';

/** A role that sets the spec's stricter per-name limits, so that each check can be seen to trip. */
const limits = { ...TUNNELING_DEFAULTS, maxLabelLength: 52, maxLabelEntropy: 4.0 };
/** nameSignal as tunneling.ts calls it: `below` is the part under the registrable domain. */
const signal = (below: string, domain = 'example.com', at = limits) => nameSignal(below === '' ? domain : `${below}.${domain}`, below, at);
/** `n` distinct characters, each `times` times: entropy exactly log2(n). */
const spread = (n: number, times: number) => 'abcdefghijklmnopqrstuvwxyz0123456789'.slice(0, n).repeat(times);

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

  it('at the defaults, lets a label of any length DNS allows pass: max_label_length 63 cannot trip', () => {
    expect(signal('a'.repeat(63), 'example.com', TUNNELING_DEFAULTS)).toBeUndefined();
    expect(signal(`${'x1y2z3'.repeat(10)}abc`, 'example.com', TUNNELING_DEFAULTS)).toBeUndefined();
  });

  it('at the defaults, trips entropy only above 4.8 bits a character: 30 distinct characters do, 27 do not', () => {
    expect(signal(spread(27, 2), 'example.com', TUNNELING_DEFAULTS)).toBeUndefined();   // log2(27) = 4.75
    expect(signal(spread(30, 2), 'example.com', TUNNELING_DEFAULTS)).toEqual({ key: 'max_label_entropy', value: Math.log2(30), max: 4.8 });
  });

  it('at the defaults, still trips a name longer than 180 characters', () => {
    const below = Array.from({ length: 3 }, () => 'a'.repeat(57)).join('.');   // 173 + ".example.com" = 185
    expect(signal(below, 'example.com', TUNNELING_DEFAULTS)).toEqual({ key: 'max_name_length', value: 185, max: 180 });
  });

  it('checks in the spec\'s key order: a long label is named before the name length and the entropy', () => {
    const below = Array.from({ length: 4 }, (_, i) => `${i}abcdefghijklmnopqrstuvwxyz0123456789`.repeat(2).slice(0, 57)).join('.');
    expect(signal(below)?.key).toBe('max_label_length');
  });
});
