import { describe, expect, it } from 'vitest';
import { parseSize } from '../../src/config/size.js';

describe('parseSize', () => {
  it.each([
    ['1KiB', 1024], ['512KiB', 524_288], ['1MiB', 1_048_576], ['64MiB', 67_108_864], ['2GiB', 2_147_483_648], [' 8MiB ', 8_388_608],
  ])('%s is %i bytes', (text, bytes) => {
    expect(parseSize(text)).toEqual({ ok: true, value: bytes });
  });

  const shape = 'is not a size; write a whole number and a unit (KiB, MiB, GiB), as in 64MiB';
  it.each([
    ['64MB', `"64MB" ${shape}`],
    ['64M', `"64M" ${shape}`],
    ['64mib', `"64mib" ${shape}`],
    ['1.5GiB', `"1.5GiB" ${shape}`],
    ['64 MiB', `"64 MiB" ${shape}`],
    ['1024', `"1024" ${shape}`],
    ['-1MiB', `"-1MiB" ${shape}`],
    ['1TiB', `"1TiB" ${shape}`],
    ['0KiB', '"0KiB" must be more than zero'],
    ['99999999999GiB', '"99999999999GiB" is too large'],
  ])('rejects %s', (text, error) => {
    expect(parseSize(text)).toEqual({ ok: false, error });
  });
});
