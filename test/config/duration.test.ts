import { describe, expect, it } from 'vitest';
import { parseDuration, parsePositiveDuration, parseSeconds } from '../../src/config/duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500], ['3s', 3_000], ['10m', 600_000], ['1h', 3_600_000], ['0s', 0], ['596h', 2_145_600_000],
  ])('%s is %i ms', (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, value: ms });
  });

  const shape = 'is not a duration; write a whole number and a unit (ms, s, m, h), as in 500ms or 10m';
  it.each([
    ['5 seconds', `"5 seconds" ${shape}`],
    ['1.5s', `"1.5s" ${shape}`],
    ['1h30m', `"1h30m" ${shape}`],
    ['10', `"10" ${shape}`],
    ['3S', `"3S" ${shape}`],
    ['1d', `"1d" ${shape}`],
    ['-3s', '"-3s" is negative; durations must be zero or more'],
    ['597h', '"597h" is too long (at most 596h)'],
  ])('rejects %s', (text, error) => {
    expect(parseDuration(text)).toEqual({ ok: false, error });
  });

  it('rejects zero where a positive duration is needed', () => {
    expect(parsePositiveDuration('0ms')).toEqual({ ok: false, error: '"0ms" must be more than zero' });
    expect(parsePositiveDuration('1ms')).toEqual({ ok: true, value: 1 });
  });

  it('converts TTL durations to whole seconds only', () => {
    expect(parseSeconds('2m')).toEqual({ ok: true, value: 120 });
    expect(parseSeconds('2000ms')).toEqual({ ok: true, value: 2 });
    expect(parseSeconds('2500ms').ok).toBe(false);
  });
});
