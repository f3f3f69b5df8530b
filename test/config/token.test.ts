import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { readTokenFile, TokenFileError } from '../../src/config/token.js';

const dir = mkdtempSync(join(tmpdir(), 'intentdns-token-'));
const file = (name: string, content: string): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

describe('readTokenFile', () => {
  it('returns the content with surrounding white space trimmed', () => {
    expect(readTokenFile(file('plain', '  s3cret-token\n\n'))).toBe('s3cret-token');
  });

  it('names the file when it cannot be read', () => {
    const missing = join(dir, 'missing');
    const err = (() => {
      try {
        readTokenFile(missing);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(TokenFileError);
    expect(err).toMatchObject({ code: 'IDNS_ERR_TOKEN_FILE', file: missing, message: `token file ${missing}: cannot read it (ENOENT)` });
  });

  it('refuses an empty or blank file', () => {
    const blank = file('blank', ' \n\t\n');
    expect(() => readTokenFile(blank)).toThrow(`token file ${blank}: is empty`);
  });

  it('refuses a token with a line break inside, without quoting it', () => {
    const two = file('two-lines', 'first-secret\nsecond-secret\n');
    expect(() => readTokenFile(two)).toThrow(/control characters or line breaks/);
    try {
      readTokenFile(two);
    } catch (e) {
      expect(String((e as Error).message)).not.toContain('secret');
    }
  });
});
