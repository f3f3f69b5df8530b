import { describe, expect, it } from 'vitest';
import { KeyedLimiter, WaitingLimiter } from '../../src/receive/limits.js';

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

describe('KeyedLimiter.setCeilings', () => {
  it('keeps what is held and grants by the new ceilings from now on', () => {
    const l = new KeyedLimiter(4, 2);
    l.tryAcquire('a');
    l.tryAcquire('a');
    l.setCeilings(4, 1);
    expect(l.held('a')).toBe(2);
    l.release('a');
    expect(l.tryAcquire('a')).toBe('client_limit');
    l.release('a');
    expect(l.tryAcquire('a')).toBeNull();
    expect(() => l.setCeilings(0, 1)).toThrow(RangeError);
  });
});

describe('WaitingLimiter', () => {
  it('wakes a waiter of the key that gave a slot back, oldest first, until one takes it', () => {
    const l = new WaitingLimiter(10, 1);
    l.tryAcquire('a');
    const woken: string[] = [];
    const taker = (name: string) => (): boolean => {
      woken.push(name);
      return l.tryAcquire('a') === null;
    };
    l.wait('a', 'client_limit', () => {
      woken.push('gone');
      return false;   // its connection had closed: the slot goes on to the next
    });
    l.wait('a', 'client_limit', taker('second'));
    l.wait('a', 'client_limit', taker('third'));
    l.release('a');
    expect(woken).toEqual(['gone', 'second']);
    expect(l.held('a')).toBe(1);
    expect(l.waiting).toBe(1);
  });

  it('wakes a waiter for any slot when the global ceiling was in the way', () => {
    const l = new WaitingLimiter(1, 5);
    l.tryAcquire('a');
    let woke = false;
    l.wait('b', 'global_limit', () => (woke = l.tryAcquire('b') === null));
    l.release('a');
    expect(woke).toBe(true);
    expect(l.held('b')).toBe(1);
  });

  it('forgets a cancelled waiter', () => {
    const l = new WaitingLimiter(10, 1);
    l.tryAcquire('a');
    let called = false;
    const wake = (): boolean => (called = true);
    l.wait('a', 'client_limit', wake);
    l.cancel('a', wake);
    l.release('a');
    expect(called).toBe(false);
    expect(l.waiting).toBe(0);
  });
});
