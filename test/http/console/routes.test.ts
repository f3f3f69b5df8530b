/**
 * The console over real loopback sockets: the login form and its session
 * cookie, the cookie on /v1 (and on the decision stream, which a browser's
 * EventSource opens without headers), CSRF on everything the cookie changes,
 * HTTP Basic, the session bound, sessions ending with the admin token, the
 * page's headers, and the page, script and style fetching nothing from
 * anywhere else.
 */
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import type { HostPort } from '../../../src/config/types.js';
import { compileRoles } from '../../../src/decide/role.js';
import { DecisionStream, startHttp, type HttpOptions, type HttpServer } from '../../../src/http/index.js';
import { ClientTable } from '../../../src/identify/clients.js';
import { TopCounter } from '../../../src/observe/top.js';
import { Quarantine } from '../../../src/quarantine/quarantine.js';

const TOKEN = 'console-t0ken-9f8e7d';
const LOOPBACK: HostPort = { host: '127.0.0.1', port: 0, family: 4, text: '127.0.0.1:0' };

const CONFIG = parseConfig(`
version: 1
upstreams: { servers: ["127.0.0.1:5300"] }
clients:
  - { name: ci-runner-1, match: ["10.20.0.11/32"], role: coding }
roles: { coding: { unlisted: forward } }
`, 'console.yaml');
const CLIENTS = new ClientTable(CONFIG.clients, compileRoles(CONFIG.roles), CONFIG.mode);

interface Harness {
  server: HttpServer;
  port: number;
  quarantine: Quarantine;
  decisions: DecisionStream;
  logs: Array<Record<string, unknown>>;
}

const running: HttpServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(opts: Partial<HttpOptions> = {}): Promise<Harness> {
  const logs: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const quarantine = new Quarantine();
  quarantine.useNames(CLIENTS);
  const decisions = new DecisionStream();
  const top = new TopCounter();
  top.record('ci-runner-1', 'evil.example', 'uncovered');
  const server = await startHttp({
    address: LOOPBACK, log, ready: () => true, adminToken: TOKEN,
    grants: { list: () => [] }, holds: { list: () => [] }, quarantine, decisions, top: () => top.snapshot(),
    ...opts,
  });
  running.push(server);
  return { server, port: server.address().port, quarantine, decisions, logs };
}

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request on its own connection; `untilFirstChunk` for a stream that never ends. */
function call(port: number, method: string, path: string, headers: OutgoingHttpHeaders = {}, body?: string, untilFirstChunk = false): Promise<Res> {
  return new Promise((resolve, reject) => {
    const sized = body === undefined ? headers : { 'content-length': Buffer.byteLength(body), ...headers };
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: sized, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      const done = (): void => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        if (untilFirstChunk) {
          done();
          res.destroy();
        }
      });
      res.on('end', done);
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const form = { 'content-type': 'application/x-www-form-urlencoded' };

/** Logs in through the form; returns the Cookie header to send and the CSRF token the page was rendered with. */
async function login(h: Harness, token = TOKEN): Promise<{ cookie: string; csrf: string }> {
  const res = await call(h.port, 'POST', '/ui/login', form, `token=${encodeURIComponent(token)}`);
  expect(res.status).toBe(303);
  const setCookie = String(res.headers['set-cookie']);
  const cookie = setCookie.split(';')[0]!;
  const page = await call(h.port, 'GET', '/ui', { cookie });
  expect(page.status).toBe(200);
  const csrf = /<meta name="intentdns-csrf" content="([^"]+)">/.exec(page.body)?.[1];
  if (csrf === undefined) throw new Error('no CSRF token in the page');
  return { cookie, csrf };
}

const json = (extra: OutgoingHttpHeaders = {}): OutgoingHttpHeaders => ({ 'content-type': 'application/json', ...extra });

describe('console: login', () => {
  it('GET /ui without a token or session redirects (303) to the login form, which is open', async () => {
    const h = await start();
    const res = await call(h.port, 'GET', '/ui');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/ui/login');
    const form = await call(h.port, 'GET', '/ui/login');
    expect(form.status).toBe(200);
    expect(form.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(form.body).toContain('<form method="post" action="/ui/login"');
  });

  it('the right token sets an HttpOnly, SameSite=Strict session cookie on Path=/ and sends the browser to /ui', async () => {
    const h = await start();
    const res = await call(h.port, 'POST', '/ui/login', form, `token=${TOKEN}`);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/ui');
    const cookie = res.headers['set-cookie'];
    expect(cookie).toHaveLength(1);
    const attributes = String(cookie).split(';').map((a) => a.trim());
    expect(attributes[0]).toMatch(/^intentdns_session=[A-Za-z0-9_-]{43}$/);
    expect(attributes).toEqual(expect.arrayContaining(['HttpOnly', 'SameSite=Strict', 'Path=/', 'Max-Age=43200']));
    expect(h.logs.some((l) => l.msg === 'console login')).toBe(true);
  });

  it('a wrong token is 401 with the form again, no cookie, and a warning that does not carry the token', async () => {
    const h = await start();
    const res = await call(h.port, 'POST', '/ui/login', form, 'token=not-the-token');
    expect(res.status).toBe(401);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.body).toContain('That is not the admin token.');
    const warned = h.logs.find((l) => l.msg === 'console login with a wrong token');
    expect(warned).toBeDefined();
    expect(JSON.stringify(h.logs)).not.toContain('not-the-token');
  });

  it('gives every login its own random session and CSRF token', async () => {
    const h = await start();
    const a = await login(h);
    const b = await login(h);
    expect(a.cookie).not.toBe(b.cookie);
    expect(a.csrf).not.toBe(b.csrf);
  });
});

describe('console: the session cookie on /v1', () => {
  it('lets GET requests in, the decision stream included', async () => {
    const h = await start();
    const { cookie } = await login(h);
    expect((await call(h.port, 'GET', '/v1/quarantine', { cookie })).status).toBe(200);
    const top = await call(h.port, 'GET', '/v1/top', { cookie });
    expect(top.status).toBe(200);
    expect(JSON.parse(top.body)).toMatchObject({ top_blocked: [{ name: 'evil.example', count: 1, allow: '- evil.example  # 1 query' }] });
    const stream = await call(h.port, 'GET', '/v1/decisions', { cookie }, undefined, true);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(stream.body).toContain(': intentdns decisions');
    // A made-up cookie is no session.
    expect((await call(h.port, 'GET', '/v1/quarantine', { cookie: 'intentdns_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })).status).toBe(401);
  });

  it('refuses a POST or DELETE without the CSRF token (403, nothing changed), and takes it with the token', async () => {
    const h = await start();
    const { cookie, csrf } = await login(h);
    const body = JSON.stringify({ agent: 'ci-runner-1' });
    for (const headers of [{ cookie }, { cookie, 'x-csrf-token': 'wrong' }, { cookie, 'x-csrf-token': '' }]) {
      const res = await call(h.port, 'POST', '/v1/quarantine', json(headers), body);
      expect(res.status).toBe(403);
      expect(JSON.parse(res.body)).toEqual({ error: 'missing or wrong CSRF token (X-CSRF-Token): reload the console' });
    }
    expect(h.quarantine.list().agents).toEqual([]);
    const ok = await call(h.port, 'POST', '/v1/quarantine', json({ cookie, 'x-csrf-token': csrf }), body);
    expect(ok.status).toBe(200);
    expect(h.quarantine.list().agents).toEqual(['ci-runner-1']);
    expect((await call(h.port, 'DELETE', '/v1/quarantine', json({ cookie }), body)).status).toBe(403);
    expect(h.quarantine.list().agents).toEqual(['ci-runner-1']);
    expect((await call(h.port, 'DELETE', '/v1/quarantine', json({ cookie, 'x-csrf-token': csrf }), body)).status).toBe(200);
    expect(h.quarantine.list().agents).toEqual([]);
  });

  it('another session\'s CSRF token does not do', async () => {
    const h = await start();
    const a = await login(h);
    const b = await login(h);
    const res = await call(h.port, 'POST', '/v1/agents/ci-runner-1/quarantine', { cookie: a.cookie, 'x-csrf-token': b.csrf });
    expect(res.status).toBe(403);
    expect(h.quarantine.list().agents).toEqual([]);
  });

  it('logout needs the CSRF token too, then ends the session and clears the cookie', async () => {
    const h = await start();
    const { cookie, csrf } = await login(h);
    expect((await call(h.port, 'POST', '/ui/logout', { cookie })).status).toBe(403);
    expect((await call(h.port, 'GET', '/v1/grants', { cookie })).status).toBe(200);
    const out = await call(h.port, 'POST', '/ui/logout', { cookie, 'x-csrf-token': csrf });
    expect(out.status).toBe(200);
    expect(String(out.headers['set-cookie'])).toContain('intentdns_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0');
    expect((await call(h.port, 'GET', '/v1/grants', { cookie })).status).toBe(401);
    expect((await call(h.port, 'GET', '/ui', { cookie })).status).toBe(303);
  });

  it('refuses a state-changing request a browser marks as cross-site, whatever authenticates it', async () => {
    const h = await start();
    const body = JSON.stringify({ agent: 'ci-runner-1' });
    const basic = { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` };
    for (const from of [{ origin: 'https://evil.example' }, { origin: 'null' }, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site', origin: `http://127.0.0.1:${h.port}` }]) {
      const res = await call(h.port, 'POST', '/v1/quarantine', json({ ...basic, ...from }), body);
      expect(res.status, JSON.stringify(from)).toBe(403);
    }
    expect(h.quarantine.list().agents).toEqual([]);
    // The page's own origin is fine.
    const own = await call(h.port, 'POST', '/v1/quarantine', json({ ...basic, origin: `http://127.0.0.1:${h.port}`, 'sec-fetch-site': 'same-origin' }), body);
    expect(own.status).toBe(200);
  });
});

describe('console: HTTP Basic and Bearer', () => {
  it('Basic with the token as the password opens the page and /v1 (any user name), and needs no CSRF token', async () => {
    const h = await start();
    const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
    expect((await call(h.port, 'GET', '/ui', basic('admin', TOKEN))).status).toBe(200);
    expect((await call(h.port, 'GET', '/v1/grants', basic('', TOKEN))).status).toBe(200);
    const wrong = await call(h.port, 'GET', '/ui', basic('admin', 'nope'));
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toBe('Basic realm="intentdns"');
    const res = await call(h.port, 'POST', '/v1/agents/ci-runner-1/quarantine', basic('admin', TOKEN));
    expect(res.status).toBe(200);
  });

  it('Bearer needs no CSRF token, and the API still challenges with Bearer', async () => {
    const h = await start();
    expect((await call(h.port, 'POST', '/v1/agents/ci-runner-1/quarantine', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    const none = await call(h.port, 'GET', '/v1/grants');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="intentdns"');
  });
});

describe('console: sessions', () => {
  it('a changed admin token ends every session; a reload with the same token keeps them', async () => {
    const h = await start();
    const { cookie } = await login(h);
    h.server.setAdminToken(TOKEN);
    expect((await call(h.port, 'GET', '/v1/grants', { cookie })).status).toBe(200);
    h.server.setAdminToken('a-new-token-42');
    expect((await call(h.port, 'GET', '/v1/grants', { cookie })).status).toBe(401);
    // The old token no longer logs in; the new one does.
    expect((await call(h.port, 'POST', '/ui/login', form, `token=${TOKEN}`)).status).toBe(401);
    expect((await call(h.port, 'POST', '/ui/login', form, 'token=a-new-token-42')).status).toBe(303);
  });

  it('keeps at most maxSessions: a login beyond it ends the oldest', async () => {
    const h = await start({ sessions: { maxSessions: 2 } });
    const first = await login(h);
    const second = await login(h);
    const third = await login(h);
    expect((await call(h.port, 'GET', '/v1/grants', { cookie: first.cookie })).status).toBe(401);
    expect((await call(h.port, 'GET', '/v1/grants', { cookie: second.cookie })).status).toBe(200);
    expect((await call(h.port, 'GET', '/v1/grants', { cookie: third.cookie })).status).toBe(200);
  });

  it('ends a session after its lifetime', async () => {
    let now = Date.UTC(2026, 11, 2, 8, 0);
    const h = await start({ now: () => now, sessions: { lifetimeMs: 60_000 } });
    const { cookie } = await login(h);
    now += 59_000;
    expect((await call(h.port, 'GET', '/v1/grants', { cookie })).status).toBe(200);
    now += 1_000;
    expect((await call(h.port, 'GET', '/v1/grants', { cookie })).status).toBe(401);
  });
});

describe('console: the page', () => {
  it('is served with a strict Content-Security-Policy, no framing and no referrer to other sites', async () => {
    const h = await start();
    const { cookie } = await login(h);
    for (const path of ['/ui', '/ui/login']) {
      const res = await call(h.port, 'GET', path, { cookie });
      expect(res.headers['content-security-policy'], path).toBe(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
      );
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('same-origin');
    }
  });

  it('page, login form, script and style name no other host: no http://, https:// or protocol-relative //', async () => {
    const h = await start();
    const { cookie } = await login(h);
    const texts: Array<[string, string]> = [];
    for (const path of ['/ui', '/ui/login', '/ui/console.js', '/ui/console.css']) {
      const res = await call(h.port, 'GET', path, { cookie });
      expect(res.status, path).toBe(200);
      texts.push([path, res.body]);
    }
    for (const [path, body] of texts) {
      expect(body, path).not.toMatch(/https?:\/\//i);
      // src="//host", href='//host', url(//host), import from "//host"
      expect(body, path).not.toMatch(/(?:src|href|action)\s*=\s*["']?\/\//i);
      expect(body, path).not.toMatch(/url\(\s*["']?\/\//i);
      expect(body, path).not.toMatch(/@import/i);
    }
    const page = texts[0]![1];
    // Every src and href is one of our own paths.
    for (const [, ref] of page.matchAll(/(?:src|href)="([^"]*)"/g)) expect(ref).toMatch(/^\/ui\//);
    // No inline script or style: the CSP would refuse it anyway.
    expect(page).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  });

  it('serves the script and style with their types, open (the login form needs the style)', async () => {
    const h = await start();
    const js = await call(h.port, 'GET', '/ui/console.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    const css = await call(h.port, 'GET', '/ui/console.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['x-content-type-options']).toBe('nosniff');
  });
});

describe('console: without a token file', () => {
  it('is open like the rest of listen.http: the page without login, /ui/login sends to /ui, and the page still carries a CSRF token', async () => {
    const h = await start({ adminToken: null });
    const page = await call(h.port, 'GET', '/ui');
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/<meta name="intentdns-csrf" content="[A-Za-z0-9_-]{32}">/);
    expect(page.body).toContain('open: no admin token');
    expect(page.body).not.toContain('id="logout"');
    expect((await call(h.port, 'GET', '/ui/login')).headers.location).toBe('/ui');
    expect((await call(h.port, 'POST', '/v1/agents/ci-runner-1/quarantine')).status).toBe(200);
  });
});
