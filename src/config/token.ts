import { readFileSync } from 'node:fs';
import { IntentdnsError, errnoCode } from '../errors.js';

/**
 * A bearer token file (admin.token_file, approval.token_file) is unusable:
 * unreadable, empty, or holding characters no HTTP header may carry. The
 * message names the file and the problem, never the file's content.
 */
export class TokenFileError extends IntentdnsError {
  static readonly CODE = 'IDNS_ERR_TOKEN_FILE';
  readonly file: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(TokenFileError.CODE, `token file ${file}: ${problem}`, options);
    this.file = file;
  }
}

/**
 * Reads a bearer token file: the whole file, surrounding white space trimmed
 * (the spec's rule, so `echo secret > file` works). Shared by the admin API
 * (admin.token_file) and the approval link (approval.token_file).
 *
 * Throws TokenFileError naming the file when it cannot be read, is empty, or
 * holds control characters inside the token (a second line, a stray tab):
 * such a token cannot travel in an Authorization header, and failing here, at
 * startup or reload, beats a 401 loop later. The token itself never appears
 * in the error.
 */
export function readTokenFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = errnoCode(err) ?? 'read failed';
    throw new TokenFileError(file, `cannot read it (${code})`, { cause: err });
  }
  const token = text.trim();
  if (token === '') throw new TokenFileError(file, 'is empty');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(token)) throw new TokenFileError(file, 'the token contains control characters or line breaks');
  return token;
}

/** The token of an optional token file (admin.token_file, approval.token_file): null when none is set. */
export function readOptionalToken(file: string | null | undefined): string | null {
  return file ? readTokenFile(file) : null;
}
