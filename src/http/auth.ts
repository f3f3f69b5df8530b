import { createHash, timingSafeEqual } from 'node:crypto';
import { IntentdnsError } from '../errors.js';

export type AuthResult = 'ok' | 'missing' | 'invalid';

/**
 * The admin token that guards `/v1/*` and the console. Only the token's
 * SHA-256 digest is kept; each request's token is hashed too and the two
 * digests compared with timingSafeEqual, so neither the content nor the
 * length of the token leaks through response timing. `null` means no token
 * is configured: open.
 *
 * It comes as `Authorization: Bearer <token>`, or as HTTP Basic with the
 * token as the password (any user name: a browser's own prompt asks for one),
 * or typed into the console's login form (matches()).
 */
export class AdminAuth {
  #digest: Buffer | null = null;

  constructor(token: string | null) {
    this.set(token);
  }

  get enabled(): boolean {
    return this.#digest !== null;
  }

  /**
   * Swaps the token (config reload). An empty string is a bug upstream, not "no token": refuse it.
   * @returns whether the token is another one now (the console's sessions end then).
   */
  set(token: string | null): boolean {
    if (token === '') throw new IntentdnsError('IDNS_ERR_HTTP_TOKEN', 'the admin token must not be empty (use null for none)');
    const before = this.#digest;
    this.#digest = token === null ? null : sha256(token);
    return before === null || this.#digest === null ? before !== this.#digest : !before.equals(this.#digest);
  }

  /** Checks an `Authorization` header value: Bearer, or Basic with the token as the password. */
  check(header: string | undefined): AuthResult {
    if (this.#digest === null) return 'ok';
    const presented = bearerToken(header) ?? basicPassword(header);
    if (presented === null) return 'missing';
    return this.matches(presented) ? 'ok' : 'invalid';
  }

  /** Whether `token` is the admin token (the login form's field); false when none is configured. */
  matches(token: string): boolean {
    return this.#digest !== null && timingSafeEqual(sha256(token), this.#digest);
  }
}

/** The token of `Bearer <token>` (scheme case-insensitive, RFC 7235), or null. */
function bearerToken(header: string | undefined): string | null {
  const m = header === undefined ? null : /^Bearer[ ]+(\S+)[ ]*$/i.exec(header);
  return m?.[1] ?? null;
}

/** The password of `Basic base64(user:password)` (RFC 7617), or null; the user name is not looked at. */
function basicPassword(header: string | undefined): string | null {
  const m = header === undefined ? null : /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(header);
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 || colon === decoded.length - 1 ? null : decoded.slice(colon + 1);
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
