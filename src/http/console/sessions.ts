import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A console login: what the cookie names, and the CSRF token the page was rendered with. */
export interface ConsoleSession {
  /** Sent to the page inside the HTML, and expected back in `X-CSRF-Token` on every POST and DELETE. */
  readonly csrf: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

export interface SessionLimits {
  /** Sessions kept at once; a new login beyond it drops the oldest. An operator or two, a few browsers. */
  readonly maxSessions: number;
  /** A session ends this long after its login, used or not: the token is asked again twice a day. */
  readonly lifetimeMs: number;
}

export const SESSION_DEFAULTS: SessionLimits = { maxSessions: 64, lifetimeMs: 12 * 60 * 60 * 1000 };

/**
 * The console's logins, in memory only (a restart logs everyone out, which
 * is what a restart after a token change should do anyway).
 *
 * The session id is 32 random bytes (crypto), the cookie's value. Only its
 * SHA-256 digest is kept as the key, so the map's lookup time says nothing
 * about any id and a heap dump holds no usable cookie. Bounded in count
 * (oldest dropped) and in time (lifetimeMs); clear() drops all, for when the
 * admin token changes.
 */
export class SessionStore {
  readonly #limits: SessionLimits;
  /** Insertion order is login order: the first key is the oldest session. */
  readonly #byDigest = new Map<string, ConsoleSession>();

  constructor(limits: Partial<SessionLimits> = {}) {
    this.#limits = { ...SESSION_DEFAULTS, ...limits };
  }

  get size(): number {
    return this.#byDigest.size;
  }

  get limits(): SessionLimits {
    return this.#limits;
  }

  /** A new session; returns its id (for the cookie) and the session. */
  create(now: number): { id: string; session: ConsoleSession } {
    const id = randomBytes(32).toString('base64url');
    const session: ConsoleSession = { csrf: randomBytes(24).toString('base64url'), createdAt: now, expiresAt: now + this.#limits.lifetimeMs };
    this.#byDigest.set(digest(id), session);
    while (this.#byDigest.size > this.#limits.maxSessions) {
      const oldest = this.#byDigest.keys().next().value as string;
      this.#byDigest.delete(oldest);
    }
    return { id, session };
  }

  /** The live session of a cookie value, or null (unknown, dropped or expired: an expired one is forgotten now). */
  find(id: string, now: number): ConsoleSession | null {
    const key = digest(id);
    const session = this.#byDigest.get(key);
    if (session === undefined) return null;
    if (session.expiresAt <= now) {
      this.#byDigest.delete(key);
      return null;
    }
    return session;
  }

  /** Logs a session out (there are at most maxSessions to look through). */
  end(session: ConsoleSession): void {
    for (const [key, s] of this.#byDigest) if (s === session) this.#byDigest.delete(key);
  }

  /** Every session ends: the admin token changed, so whoever logged in with the old one must not stay in. */
  clear(): void {
    this.#byDigest.clear();
  }
}

/** Whether `presented` (a header value, maybe absent) is the session's CSRF token; constant time in its content. */
export function csrfMatches(session: ConsoleSession, presented: string | undefined): boolean {
  if (presented === undefined || presented === '') return false;
  return timingSafeEqual(sha256(presented), sha256(session.csrf));
}

function digest(id: string): string {
  return sha256(id).toString('base64url');
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
