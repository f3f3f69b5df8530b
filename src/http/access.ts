import type { IncomingHttpHeaders } from 'node:http';
import type { AdminAuth } from './auth.js';
import { sessionFromCookie } from './console/cookies.js';
import { csrfMatches, type ConsoleSession, type SessionStore } from './console/sessions.js';
import { jsonError, text, type Reply } from './routes.js';

/** What server.ts asks before routing a request. */
export interface AccessRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
}

export type Access =
  /** `session`: the console login the request came with, when that is what let it in (the page is rendered with its CSRF token). */
  | { readonly kind: 'allowed'; readonly session: ConsoleSession | null }
  /** `wrongToken`: a token was presented and was not the admin token (worth a warning line). */
  | { readonly kind: 'denied'; readonly reply: Reply; readonly wrongToken: boolean };

/** The header a cookie-authenticated POST or DELETE must carry, equal to its session's token. */
export const CSRF_HEADER = 'x-csrf-token';

/**
 * Who may do what on listen.http, decided before routing (so that without a
 * token even a 404 says nothing about /v1):
 *
 * - `/v1/*` and the console (`/ui`, `/ui/logout`) need the admin token when
 *   one is set: `Authorization: Bearer`, HTTP Basic with the token as the
 *   password, or the console's session cookie. The probes, the login form
 *   and the console's script and style are open.
 * - A request let in by the cookie alone must, if it changes anything (POST,
 *   DELETE), carry the session's CSRF token in `X-CSRF-Token`: the browser
 *   sends the cookie by itself, the token only the page we rendered knows.
 *   A header-authenticated one needs none: no other site can make a browser
 *   add an Authorization header it chose.
 * - Whatever the token, a POST or DELETE that a browser says comes from
 *   another site (Sec-Fetch-Site, or an Origin that is not this host) is
 *   refused: that covers a browser that remembers Basic credentials, and an
 *   open listen.http (no token file) reached from a page on the internet.
 */
export class AccessGate {
  constructor(
    private readonly auth: AdminAuth,
    private readonly sessions: SessionStore,
    private readonly now: () => number,
  ) {}

  check(req: AccessRequest): Access {
    const changes = req.method === 'POST' || req.method === 'DELETE';
    if (changes && crossSite(req.headers)) return denied(jsonError(403, 'cross-site request refused'));
    const kind = guarded(req.path);
    if (kind === null || !this.auth.enabled) return { kind: 'allowed', session: null };

    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      const result = this.auth.check(authorization);
      if (result === 'ok') return { kind: 'allowed', session: null };
      return denied(unauthorized(kind, result === 'invalid'), result === 'invalid');
    }
    const id = sessionFromCookie(req.headers.cookie);
    const session = id === null ? null : this.sessions.find(id, this.now());
    if (session === null) {
      // A browser that opens the console is sent to the form; a script gets the usual 401.
      if (kind === 'page' && !changes) return denied({ ...text(303, 'log in at /ui/login\n'), headers: { location: '/ui/login' } });
      return denied(unauthorized(kind, false));
    }
    if (changes && !csrfMatches(session, headerValue(req.headers[CSRF_HEADER]))) {
      return denied(jsonError(403, 'missing or wrong CSRF token (X-CSRF-Token): reload the console'));
    }
    return { kind: 'allowed', session };
  }
}

/** Whether a request to `path` may present the admin token: what token guessing is counted and refused on (guesses.ts). */
export function takesToken(path: string): boolean {
  return guarded(path) !== null || path === '/ui/login';
}

/** Which paths need the token: the admin API, the console page (and its logout); null for the rest. */
function guarded(path: string): 'api' | 'page' | null {
  if (path === '/v1' || path.startsWith('/v1/')) return 'api';
  if (path === '/ui' || path === '/ui/' || path === '/ui/logout') return 'page';
  return null;
}

function unauthorized(kind: 'api' | 'page', wrong: boolean): Reply {
  // The API has always said Bearer; the console says Basic, which a browser's own prompt can answer.
  const scheme = kind === 'api' ? 'Bearer' : 'Basic';
  const challenge = `${scheme} realm="intentdns"${wrong && kind === 'api' ? ', error="invalid_token"' : ''}`;
  return jsonError(401, 'unauthorized', { 'www-authenticate': challenge });
}

function denied(reply: Reply, wrongToken = false): Access {
  return { kind: 'denied', reply, wrongToken };
}

/**
 * What a browser tells of where a request comes from; curl and scripts send
 * neither header. Sec-Fetch-Site first (every current browser sends it, and
 * it is right where Origin is "null", e.g. under a no-referrer policy); an
 * Origin that is not this host where it is absent.
 */
function crossSite(headers: IncomingHttpHeaders): boolean {
  const site = headerValue(headers['sec-fetch-site']);
  if (site !== undefined) return site !== 'same-origin' && site !== 'none';
  const origin = headerValue(headers.origin);
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== headers.host;
  } catch {
    return true;    // "null" (a sandboxed frame, a file: page) or garbage: not our page
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
