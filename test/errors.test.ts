import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { IntentdnsError, errnoCode } from '../src/errors.js';

describe('errnoCode', () => {
  it("gives a system error's errno name", () => {
    let thrown: unknown;
    try {
      readFileSync('/nonexistent/intentdns-errno-test');
    } catch (err) {
      thrown = err;
    }
    expect(errnoCode(thrown)).toBe('ENOENT');
  });

  it('gives any string code, ours included', () => {
    expect(errnoCode(Object.assign(new TypeError('bad option'), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }))).toBe('ERR_PARSE_ARGS_UNKNOWN_OPTION');
    expect(errnoCode(new IntentdnsError('IDNS_ERR_X', 'x'))).toBe('IDNS_ERR_X');
  });

  it('gives undefined for anything without a string code', () => {
    for (const err of [new Error('plain'), { code: 42 }, 'EACCES', null, undefined]) expect(errnoCode(err)).toBeUndefined();
  });
});
