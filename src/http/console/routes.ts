import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AdminAuth } from '../auth.js';
import { json, text, type HttpRequest, type Reply, type Route } from '../routes.js';
import type { ConsoleAssets } from './assets.js';
import { clearedSessionCookie, sessionCookie } from './cookies.js';
import { consolePage, loginPage, PAGE_HEADERS } from './page.js';
import type { SessionStore } from './sessions.js';

export interface ConsoleDeps {
  readonly auth: AdminAuth;
  readonly sessions: SessionStore;
  readonly assets: ConsoleAssets;
  readonly log: Logger;
  readonly now: () => number;
  /** Told of every wrong token at the form: guessing there counts as on /v1 (guesses.ts). */
  readonly wrongToken: (client: string) => void;
}

const HTML = 'text/html; charset=utf-8';

/**
 * GET /ui (the console), GET and POST /ui/login, POST /ui/logout, and the
 * page's script and style. access.ts has let the request in: /ui and
 * /ui/logout only with the token (or a session, and for the logout its CSRF
 * token); the login form and the assets are open.
 */
export function consoleRoutes(deps: ConsoleDeps): Route[] {
  const { auth, sessions, assets, log, now, wrongToken } = deps;
  // Without a token file there is no session, but the page still sends a token (the server does not check it then).
  const openCsrf = randomBytes(24).toString('base64url');
  const page = (status: number, body: string, headers: Record<string, string> = {}): Reply =>
    ({ status, contentType: HTML, body, headers: { ...PAGE_HEADERS, ...headers } });
  const seeOther = (location: string, headers: Record<string, string> = {}): Reply =>
    ({ ...text(303, `see ${location}\n`), headers: { location, ...headers } });

  const login = (req: HttpRequest): Reply => {
    if (!auth.enabled) return seeOther('/ui');
    const token = new URLSearchParams(req.body).get('token') ?? '';
    if (!auth.matches(token.trim())) {
      // Never the token itself, right or wrong.
      log.warn({ client: req.client }, 'console login with a wrong token');
      wrongToken(req.client);
      return page(401, loginPage(true));
    }
    const { id } = sessions.create(now());
    log.info({ client: req.client }, 'console login');
    return seeOther('/ui', { 'set-cookie': sessionCookie(id, Math.floor(sessions.limits.lifetimeMs / 1000)) });
  };

  return [
    {
      path: /^\/ui\/?$/,
      methods: {
        GET: (req) => page(200, consolePage({ csrf: req.session?.csrf ?? openCsrf, loggedIn: auth.enabled })),
      },
    },
    {
      path: /^\/ui\/login$/,
      methods: {
        GET: () => (auth.enabled ? page(200, loginPage(false)) : seeOther('/ui')),
        POST: login,
      },
    },
    {
      path: /^\/ui\/logout$/,
      methods: {
        POST: (req) => {
          // access.ts checked the CSRF token of a cookie session; a Basic or Bearer caller has no session to end.
          if (req.session) sessions.end(req.session);
          return { ...json(200, { logged_out: req.session != null }), headers: { 'set-cookie': clearedSessionCookie() } };
        },
      },
    },
    { path: /^\/ui\/console\.js$/, methods: { GET: () => text(200, assets.script, 'text/javascript; charset=utf-8') } },
    { path: /^\/ui\/console\.css$/, methods: { GET: () => text(200, assets.style, 'text/css; charset=utf-8') } },
  ];
}
