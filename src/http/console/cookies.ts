/** The console's session cookie: its name, how it is set and cleared, and how a Cookie header is read. */

export const SESSION_COOKIE = 'intentdns_session';

/**
 * HttpOnly: the page's script never sees it (an injected one could not steal it).
 * SameSite=Strict: no other site's page can make the browser send it, the first line against CSRF.
 * Path=/: the page and /v1 both get it (the EventSource of /v1/decisions cannot send a header).
 * No Secure: listen.http is plain HTTP (loopback by default); a browser would drop a Secure cookie there.
 */
export function sessionCookie(id: string, maxAgeS: number): string {
  return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeS}`;
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
}

/** The session cookie's value in a Cookie header, or null. Only our cookie is looked at; a malformed header is no cookie. */
export function sessionFromCookie(header: string | undefined): string | null {
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    // Ours are base64url; anything else cannot be one of ours.
    return /^[A-Za-z0-9_-]{1,128}$/.test(value) ? value : null;
  }
  return null;
}
