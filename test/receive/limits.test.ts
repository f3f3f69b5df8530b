import { describe, expect, it } from 'vitest';
import { KeyedLimiter } from '../../src/receive/limits.js';

describe('KeyedLimiter', () => {
  it('refuses a key beyond its own ceiling while other keys still get slots', () => {
    const l = new KeyedLimiter(10, 2);
    expect(l.tryAcquire('a')).toBeNull();
    expect(l.tryAcquire('a')).toBeNull();
    expect(l.tryAcquire('a')).toBe('client_limit');
    expect(l.tryAcquire('b')).toBeNull();
    expect(l.total).toBe(3);
  });

  it('refuses everyone beyond the global ceiling', () => {
    const l = new KeyedLimiter(2, 2);
    l.tryAcquire('a');
    l.tryAcquire('b');
    expect(l.tryAcquire('c')).toBe('global_limit');
  });

  it('frees a slot on release and forgets keys that hold none', () => {
    const l = new KeyedLimiter(2, 1);
    l.tryAcquire('a');
    l.release('a');
    expect(l.held('a')).toBe(0);
    expect(l.total).toBe(0);
    expect(l.tryAcquire('a')).toBeNull();
    l.release('zzz'); // never acquired: ignored
    expect(l.total).toBe(1);
  });
});
