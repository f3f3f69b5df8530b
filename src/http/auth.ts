import { createHash, timingSafeEqual } from 'node:crypto';
import { IntentdnsError } from '../errors.js';

export type AuthResult = 'ok' | 'missing' | 'invalid';

/**
 * The bearer token that guards `/v1/*`. Only the token's SHA-256 digest is
 * kept; each request's token is hashed too and the two digests compared with
 * timingSafeEqual, so neither the content nor the length of the token leaks
 * through response timing. `null` means no token is configured: open.
 */
export class AdminAuth {
  #digest: Buffer | null = null;

  constructor(token: string | null) {
    this.set(token);
  }

  get enabled(): boolean {
    return this.#digest !== null;
  }

  /** Swaps the token (config reload). An empty string is a bug upstream, not "no token": refuse it. */
  set(token: string | null): void {
    if (token === '') throw new IntentdnsError('IDNS_ERR_HTTP_TOKEN', 'the admin token must not be empty (use null for none)');
    this.#digest = token === null ? null : sha256(token);
  }

  /** Checks an `Authorization` header value. */
  check(header: string | undefined): AuthResult {
    if (this.#digest === null) return 'ok';
    const presented = bearerToken(header);
    if (presented === null) return 'missing';
    return timingSafeEqual(sha256(presented), this.#digest) ? 'ok' : 'invalid';
  }
}

/** The token of `Bearer <token>` (scheme case-insensitive, RFC 7235), or null. */
function bearerToken(header: string | undefined): string | null {
  const m = header === undefined ? null : /^Bearer[ ]+(\S+)[ ]*$/i.exec(header);
  return m?.[1] ?? null;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
