import { describe, expect, it } from 'vitest';
import { isKnownQtype, qtypeName, qtypeNumber } from '../../src/wire/qtypes.js';

describe('qtypes', () => {
  it.each([['A', 1], ['aaaa', 28], ['HTTPS', 65], ['svcb', 64], ['CAA', 257], ['ANY', 255]])('%s is type %i', (name, n) => {
    expect(qtypeNumber(name)).toBe(n);
  });

  it('names HTTPS and SVCB, which dns-packet only knows as UNKNOWN_65 / UNKNOWN_64', () => {
    expect(qtypeName(65)).toBe('HTTPS');
    expect(qtypeName(64)).toBe('SVCB');
  });

  it('uses the RFC 3597 form for types without a mnemonic, and reads it back', () => {
    expect(qtypeName(65280)).toBe('TYPE65280');
    expect(qtypeNumber('TYPE65280')).toBe(65280);
    expect(qtypeNumber('type65')).toBe(65);
  });

  it('does not turn unknown names into type 0 (dns-packet encodes "FOO" as 0)', () => {
    expect(qtypeNumber('FOO')).toBeUndefined();
    expect(qtypeNumber('TYPE65536')).toBeUndefined();
    expect(qtypeNumber('TYPE')).toBeUndefined();
    expect(qtypeNumber('')).toBeUndefined();
  });

  it('knows which types have a mnemonic (metric labels stay a closed set)', () => {
    expect(isKnownQtype(28)).toBe(true);
    expect(isKnownQtype(65280)).toBe(false);
  });
});
