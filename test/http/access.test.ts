import { describe, expect, it } from 'vitest';
import { AccessGate } from '../../src/http/access.js';
import { AdminAuth } from '../../src/http/auth.js';
import { SessionStore } from '../../src/http/console/sessions.js';

const TOKEN = 'gate-token';
const NOW = Date.UTC(2026, 11, 2, 8, 0);

function gate(token: string | null = TOKEN): { gate: AccessGate; sessions: SessionStore } {
  const sessions = new SessionStore();
  return { gate: new AccessGate(new AdminAuth(token), sessions, () => NOW), sessions };
}

const status = (a: ReturnType<AccessGate['check']>): number => (a.kind === 'allowed' ? 200 : a.reply.status);

describe('AccessGate', () => {
  it('leaves the probes, the login form and the assets open, and guards /v1, /ui and /ui/logout', () => {
    const { gate: g } = gate();
    for (const path of ['/healthz', '/readyz', '/metrics', '/ui/login', '/ui/console.js', '/ui/console.css']) {
      expect(status(g.check({ method: 'GET', path, headers: {} })), path).toBe(200);
    }
    expect(status(g.check({ method: 'GET', path: '/v1/grants', headers: {} }))).toBe(401);
    expect(status(g.check({ method: 'GET', path: '/v1/nope', headers: {} }))).toBe(401);
    expect(status(g.check({ method: 'GET', path: '/ui', headers: {} }))).toBe(303);
    expect(status(g.check({ method: 'POST', path: '/ui/logout', headers: {} }))).toBe(401);
  });

  it('says when a presented token was wrong, so the server can warn', () => {
    const { gate: g } = gate();
    const wrong = g.check({ method: 'GET', path: '/v1/grants', headers: { authorization: 'Bearer nope' } });
    expect(wrong).toMatchObject({ kind: 'denied', wrongToken: true });
    expect(g.check({ method: 'GET', path: '/v1/grants', headers: {} })).toMatchObject({ kind: 'denied', wrongToken: false });
  });

  it('hands the cookie\'s session to the handler, and asks its CSRF token for POST and DELETE only', () => {
    const { gate: g, sessions } = gate();
    const { id, session } = sessions.create(NOW);
    const cookie = `other=1; intentdns_session=${id}`;
    expect(g.check({ method: 'GET', path: '/ui', headers: { cookie } })).toEqual({ kind: 'allowed', session });
    expect(status(g.check({ method: 'DELETE', path: '/v1/quarantine', headers: { cookie } }))).toBe(403);
    expect(g.check({ method: 'DELETE', path: '/v1/quarantine', headers: { cookie, 'x-csrf-token': session.csrf } })).toEqual({ kind: 'allowed', session });
  });

  it('without a token lets everything in but what a browser marks cross-site', () => {
    const { gate: g } = gate(null);
    expect(status(g.check({ method: 'POST', path: '/v1/quarantine', headers: {} }))).toBe(200);
    expect(status(g.check({ method: 'POST', path: '/v1/quarantine', headers: { 'sec-fetch-site': 'cross-site' } }))).toBe(403);
    expect(status(g.check({ method: 'GET', path: '/v1/grants', headers: { 'sec-fetch-site': 'cross-site' } }))).toBe(200);
  });
});
