import { describe, expect, it } from 'vitest';
import { SocketBudget } from '../../src/limit/sockets.js';
import { readOpenFileLimit, upstreamSocketBound } from '../../src/limit/nofile.js';

describe('SocketBudget', () => {
  it('gives out at most max slots, counts refusals, and takes slots back', () => {
    const b = new SocketBudget(2);
    expect([b.tryOpen(), b.tryOpen(), b.tryOpen()]).toEqual([true, true, false]);
    expect(b.refused).toBe(1);
    b.close();
    expect(b.open).toBe(1);
    expect(b.tryOpen()).toBe(true);
    expect(() => new SocketBudget(0)).toThrow(RangeError);
  });
});

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            20000                20000                files
Max locked memory         8388608              8388608              bytes
`;

describe('readOpenFileLimit', () => {
  it('reads the soft limit of "Max open files"', () => {
    expect(readOpenFileLimit(() => LIMITS)).toBe(20_000);
    expect(readOpenFileLimit(() => LIMITS.replace('20000                20000', 'unlimited            unlimited'))).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('is null when the file cannot be read or has no such line', () => {
    expect(readOpenFileLimit(() => {
      throw new Error('ENOENT');
    })).toBeNull();
    expect(readOpenFileLimit(() => 'Max processes 100 100 processes')).toBeNull();
  });

  it("reads this process's limit on Linux", () => {
    if (process.platform !== 'linux') return;
    expect(readOpenFileLimit()).toBeGreaterThan(0);
  });
});

describe('upstreamSocketBound', () => {
  it('leaves room below the fd limit for every client connection the limits allow and a reserve', () => {
    expect(upstreamSocketBound(65_536, 1016)).toEqual({ nofile: 65_536, source: 'proc', upstreamSockets: 65_536 - 1016 - 256, tight: false });
  });

  it('never goes below the minimum, and says the limit is tight', () => {
    expect(upstreamSocketBound(1024, 1016)).toMatchObject({ upstreamSockets: 64, tight: true });
  });

  it('assumes 1024 when the limit is unknown', () => {
    expect(upstreamSocketBound(null, 16)).toMatchObject({ nofile: 1024, source: 'fallback', upstreamSockets: 1024 - 16 - 256 });
  });
});
