import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';

import { pino } from 'pino';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';

import { parseConfig } from '../../src/config/load.js';
import type { HostPort } from '../../src/config/types.js';
import { compileRoles } from '../../src/decide/role.js';
import { HttpListenError, startHttp, type HttpOptions, type HttpServer } from '../../src/http/index.js';
import { ClientTable } from '../../src/identify/clients.js';
import { Quarantine } from '../../src/quarantine/quarantine.js';
import { delay, waitFor } from '../helpers/wait-for.js';

const TOKEN = 'admin-t0ken-5c1d2e';
const LOOPBACK: HostPort = { host: '127.0.0.1', port: 0, family: 4, text: '127.0.0.1:0' };
const NOW = Date.UTC(2026, 10, 24, 10, 0);

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

interface Harness {
  server: HttpServer;
  port: number;
  logs: LogLine[];
  raw: string[];
  quarantine: Quarantine;
  readiness: { ready: boolean };
  listCalls: number[];
}

const CONFIG = parseConfig(`
version: 1
upstreams: { servers: ["127.0.0.1:5300"] }
clients:
  - { name: ci-runner-1, match: ["10.20.0.11/32"], role: coding }
  - { name: "analytics-{ip}", match: ["10.20.1.0/24", "fd00:20:1::/64"], role: coding }
roles: { coding: { unlisted: forward } }
`, 'http.yaml');
const CLIENTS = new ClientTable(CONFIG.clients, compileRoles(CONFIG.roles), CONFIG.mode);
const listed = (h: Harness): string[] => {
  const { agents, clients, cidrs } = h.quarantine.list();
  return [...agents, ...clients, ...cidrs];
};

const running: HttpServer[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(opts: Partial<HttpOptions> = {}): Promise<Harness> {
  const raw: string[] = [];
  const logs: LogLine[] = [];
  const log = pino({ level: 'debug' }, {
    write: (line: string) => {
      raw.push(line);
      logs.push(JSON.parse(line) as LogLine);
    },
  });
  const quarantine = new Quarantine();
  quarantine.useNames(CLIENTS);
  const readiness = { ready: false };
  const listCalls: number[] = [];
  const server = await startHttp({
    address: LOOPBACK,
    log,
    ready: () => readiness.ready,
    adminToken: TOKEN,
    grants: { list: (now) => (listCalls.push(now), [{ id: 'cmd_812', agent: 'ci-runner-1', names: ['api.example.com'] }]) },
    holds: { list: (now) => (listCalls.push(now), [{ hold_id: 'h_4b1f0c', qname: 'uploads.untrusted.example' }]) },
    quarantine,
    now: () => NOW,
    ...opts,
  });
  running.push(server);
  return { server, port: server.address().port, logs, raw, quarantine, readiness, listCalls };
}

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request on its own connection, the path sent exactly as written (fetch would normalise it); `from` another loopback address is another source. */
function call(port: number, method: string, path: string, headers: OutgoingHttpHeaders = {}, body?: string, from = '127.0.0.1'): Promise<Res> {
  return new Promise((resolve, reject) => {
    // With a length, as curl and fetch send it: node frames no body of a DELETE by itself.
    const sized = body === undefined ? headers : { 'content-length': Buffer.byteLength(body), ...headers };
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: sized, agent: false, localAddress: from }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const admin = bearer(TOKEN);

describe('http: probes', () => {
  it('/healthz is 200 while the process runs, ready or not', async () => {
    const h = await start();
    const res = await call(h.port, 'GET', '/healthz');
    expect(res).toMatchObject({ status: 200, body: 'ok\n' });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('/readyz follows the ready() callback both ways', async () => {
    const h = await start();
    expect((await call(h.port, 'GET', '/readyz')).status).toBe(503);
    h.readiness.ready = true;
    expect(await call(h.port, 'GET', '/readyz')).toMatchObject({ status: 200, body: 'ready\n' });
    h.readiness.ready = false; // shutting down
    expect((await call(h.port, 'GET', '/readyz')).status).toBe(503);
  });

  it('/metrics serves the registry in Prometheus text format', async () => {
    const registry = new Registry();
    new Counter({ name: 'intentdns_test_total', help: 'A test counter.', registers: [registry] }).inc(3);
    const h = await start({ registry });
    const res = await call(h.port, 'GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(registry.contentType);
    expect(res.body).toContain('# HELP intentdns_test_total A test counter.');
    expect(res.body).toContain('intentdns_test_total 3');
  });

  it('/metrics is 404 without a registry', async () => {
    const h = await start();
    const res = await call(h.port, 'GET', '/metrics');
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toEqual({ error: 'metrics are not enabled' });
  });

  it('probes need no token even when the admin API has one', async () => {
    const h = await start({ registry: new Registry() });
    h.readiness.ready = true;
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await call(h.port, 'GET', path)).status).toBe(200);
  });

  it('HEAD is served wherever GET is, without a body', async () => {
    const h = await start();
    const res = await call(h.port, 'HEAD', '/healthz');
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe('3');
    expect(res.body).toBe('');
  });
});

describe('http: admin authentication', () => {
  it('no Authorization header: 401 with a Bearer challenge and a JSON error', async () => {
    const h = await start();
    const res = await call(h.port, 'GET', '/v1/grants');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="intentdns"');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(res.body)).toEqual({ error: 'unauthorized' });
    expect(h.listCalls).toEqual([]);
  });

  it('a wrong token of the same length: 401 invalid_token', async () => {
    const h = await start();
    const wrong = TOKEN.slice(0, -1) + (TOKEN.endsWith('e') ? 'f' : 'e');
    expect(wrong).toHaveLength(TOKEN.length);
    const res = await call(h.port, 'GET', '/v1/grants', bearer(wrong));
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="intentdns", error="invalid_token"');
  });

  it('tokens of other lengths are refused the same way (no length shortcut)', async () => {
    const h = await start();
    for (const wrong of ['x', `${TOKEN}x`, TOKEN.repeat(20)]) {
      expect((await call(h.port, 'GET', '/v1/grants', bearer(wrong))).status).toBe(401);
    }
  });

  it('other schemes and malformed headers are refused', async () => {
    const h = await start();
    for (const authorization of [`Basic ${TOKEN}`, TOKEN, 'Bearer', `Bearer ${TOKEN} extra`]) {
      expect((await call(h.port, 'GET', '/v1/grants', { authorization })).status).toBe(401);
    }
  });

  it('the right token is accepted, with the scheme in any case', async () => {
    const h = await start();
    expect((await call(h.port, 'GET', '/v1/grants', admin)).status).toBe(200);
    expect((await call(h.port, 'GET', '/v1/grants', { authorization: `bearer ${TOKEN}` })).status).toBe(200);
  });

  it('unknown /v1 paths are 401 without the token and 404 with it', async () => {
    const h = await start();
    expect((await call(h.port, 'GET', '/v1/nothing-here')).status).toBe(401);
    expect((await call(h.port, 'GET', '/v1/nothing-here', admin)).status).toBe(404);
  });

  it('no configured token leaves /v1 open', async () => {
    const h = await start({ adminToken: null });
    expect((await call(h.port, 'GET', '/v1/holds')).status).toBe(200);
  });

  it('setAdminToken swaps the token on a running server', async () => {
    const h = await start();
    h.server.setAdminToken('rotated-token');
    expect((await call(h.port, 'GET', '/v1/holds', admin)).status).toBe(401);
    expect((await call(h.port, 'GET', '/v1/holds', bearer('rotated-token'))).status).toBe(200);
    h.server.setAdminToken(null);
    expect((await call(h.port, 'GET', '/v1/holds')).status).toBe(200);
  });

  it('refuses an empty token rather than treating it as "none"', async () => {
    await expect(start({ adminToken: '' })).rejects.toMatchObject({ code: 'IDNS_ERR_HTTP_TOKEN' });
    const h = await start();
    expect(() => h.server.setAdminToken('')).toThrow(/must not be empty/);
  });

  it('no token, right or wrong, ever reaches the log', async () => {
    const h = await start();
    await call(h.port, 'GET', '/v1/grants', bearer('almost-the-t0ken'));
    await call(h.port, 'POST', '/v1/agents/ci-runner-1/quarantine', admin);
    await call(h.port, 'GET', '/v1/holds', admin);
    expect(h.logs.some((l) => l.msg === 'admin request with a wrong token')).toBe(true);
    const all = h.raw.join('');
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain('almost-the-t0ken');
  });
});

describe('http: token guessing', () => {
  const callFrom = (from: string, port: number, method: string, path: string, headers: OutgoingHttpHeaders = {}, body?: string): Promise<Res> =>
    call(port, method, path, headers, body, from);

  it('a source that keeps guessing is locked out (429, even with the right token) for a minute; others are not', async () => {
    let clock = NOW;
    const h = await start({ now: () => clock });
    for (let i = 0; i < 10; i += 1) {
      expect((await callFrom('127.0.0.1', h.port, 'GET', '/v1/grants', bearer(`guess-${i}`))).status).toBe(401);
    }
    const locked = await callFrom('127.0.0.1', h.port, 'GET', '/v1/grants', admin);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(locked.body)).toEqual({ error: expect.stringMatching(/too many wrong tokens/) });
    // The console's login form is the same door.
    expect((await callFrom('127.0.0.1', h.port, 'POST', '/ui/login', { 'content-type': 'application/x-www-form-urlencoded' }, `token=${TOKEN}`)).status).toBe(429);
    expect(h.logs.filter((l) => l.msg === 'admin token guessed wrong too often; this source is refused for a while')).toHaveLength(1);
    // Another source, and the probes, are untouched.
    expect((await callFrom('127.0.0.2', h.port, 'GET', '/v1/grants', admin)).status).toBe(200);
    expect((await callFrom('127.0.0.1', h.port, 'GET', '/healthz')).status).toBe(200);
    clock += 61_000;
    expect((await callFrom('127.0.0.1', h.port, 'GET', '/v1/grants', admin)).status).toBe(200);
  });

  it('wrong tokens at the login form count too; a few mistakes spread out in time lock nobody out', async () => {
    let clock = NOW;
    const h = await start({ now: () => clock });
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    for (let i = 0; i < 9; i += 1) {
      expect((await callFrom('127.0.0.3', h.port, 'POST', '/ui/login', form, `token=guess-${i}`)).status).toBe(401);
    }
    clock += 61_000;
    for (let i = 0; i < 9; i += 1) {
      expect((await callFrom('127.0.0.3', h.port, 'GET', '/v1/holds', bearer(`guess-${i}`))).status).toBe(401);
    }
    expect((await callFrom('127.0.0.3', h.port, 'GET', '/v1/holds', admin)).status).toBe(200);
    expect((await callFrom('127.0.0.3', h.port, 'POST', '/ui/login', form, 'token=one-more')).status).toBe(401);
    expect((await callFrom('127.0.0.3', h.port, 'GET', '/v1/holds', admin)).status).toBe(429);
  });
});

describe('http: grants and holds', () => {
  it('GET /v1/grants lists the store at the current time', async () => {
    const h = await start();
    const res = await call(h.port, 'GET', '/v1/grants', admin);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(res.body)).toEqual({ grants: [{ id: 'cmd_812', agent: 'ci-runner-1', names: ['api.example.com'] }] });
    expect(h.listCalls).toEqual([NOW]);
  });

  it('GET /v1/grants also lists the approvals that granted nothing, when given them', async () => {
    const noGrant = { id: 'cmd_9', agent: 'ci-1', command: 'ls', reason: 'no_host', at: '2026-01-01T00:00:00.000Z' };
    const h = await start({ noGrants: { list: () => [noGrant] } });
    const res = await call(h.port, 'GET', '/v1/grants', admin);
    expect(JSON.parse(res.body)).toEqual({ grants: [{ id: 'cmd_812', agent: 'ci-runner-1', names: ['api.example.com'] }], no_grant: [noGrant] });
  });

  it('GET /v1/holds lists the pending holds', async () => {
    const h = await start();
    const res = await call(h.port, 'GET', '/v1/holds?verbose=1', admin);
    expect(JSON.parse(res.body)).toEqual({ holds: [{ hold_id: 'h_4b1f0c', qname: 'uploads.untrusted.example' }] });
  });

  it('a store that throws gives 500 and a log line, and the server keeps serving', async () => {
    const h = await start({ grants: { list: () => { throw new Error('boom'); } } });
    const res = await call(h.port, 'GET', '/v1/grants', admin);
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body)).toEqual({ error: 'internal error' });
    expect(h.logs.find((l) => l.msg === 'http handler failed')).toMatchObject({ level: 50, path: '/v1/grants' });
    expect((await call(h.port, 'GET', '/healthz')).status).toBe(200);
  });
});

describe('http: quarantine', () => {
  const audits = (h: Harness) => h.logs.filter((l) => l.audit === 'quarantine');

  it('POST, GET and DELETE round trip through the shared quarantine, with an audit line per change', async () => {
    const h = await start();
    const on = await call(h.port, 'POST', '/v1/agents/ci-runner-1/quarantine', admin);
    expect(on.status).toBe(200);
    expect(JSON.parse(on.body)).toEqual({ agent: 'ci-runner-1', known: true, quarantined: true, set_by: ['admin'] });
    expect(h.quarantine.list().agents).toEqual(['ci-runner-1']);
    expect(audits(h)).toEqual([
      expect.objectContaining({ level: 40, msg: 'agent quarantined', agent: 'ci-runner-1', known: true, quarantined: true, by: '127.0.0.1' }),
    ]);

    h.quarantine.set('agent', 'analytics-10.20.1.7', true); // added by someone else: the list shows the store as it is
    const list = await call(h.port, 'GET', '/v1/quarantine', admin);
    expect(JSON.parse(list.body)).toEqual({ agents: ['analytics-10.20.1.7', 'ci-runner-1'], clients: [], cidrs: [], unknown: [], service: [] });
    expect(JSON.parse((await call(h.port, 'GET', '/v1/agents/ci-runner-1/quarantine', admin)).body)).toEqual({
      agent: 'ci-runner-1',
      known: true,
      quarantined: true,
      set_by: ['admin'],
    });

    const off = await call(h.port, 'DELETE', '/v1/agents/ci-runner-1/quarantine', admin);
    expect(JSON.parse(off.body)).toEqual({ agent: 'ci-runner-1', known: true, quarantined: false });
    expect(h.quarantine.list().agents).toEqual(['analytics-10.20.1.7']);
    expect(audits(h)[1]).toMatchObject({ msg: 'agent quarantine lifted', agent: 'ci-runner-1', quarantined: false, by: '127.0.0.1' });
  });

  it('quarantining a name no client entry can produce answers known: false and warns, by either route', async () => {
    const h = await start();
    const byPath = await call(h.port, 'POST', '/v1/agents/no-such-agent/quarantine', admin);
    expect(JSON.parse(byPath.body)).toEqual({ agent: 'no-such-agent', known: false, quarantined: true, set_by: ['admin'] });
    const byBody = await call(h.port, 'POST', '/v1/quarantine', admin, JSON.stringify({ agent: 'ghost-7' }));
    expect(JSON.parse(byBody.body)).toEqual({ agent: 'ghost-7', known: false, quarantined: true, set_by: ['admin'] });
    // A known agent gets no such line.
    await call(h.port, 'POST', '/v1/agents/ci-runner-1/quarantine', admin);
    const warned = h.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('quarantined an agent no client entry can produce'));
    expect(warned.map((l) => [l.level, l.msg, l.agent])).toEqual([
      [40, 'quarantined an agent no client entry can produce: no-such-agent', 'no-such-agent'],
      [40, 'quarantined an agent no client entry can produce: ghost-7', 'ghost-7'],
    ]);
  });

  it('repeating a POST or DELETE answers the same and logs nothing new', async () => {
    const h = await start();
    await call(h.port, 'POST', '/v1/agents/a1/quarantine', admin);
    expect(JSON.parse((await call(h.port, 'POST', '/v1/agents/a1/quarantine', admin)).body)).toEqual({ agent: 'a1', known: false, quarantined: true, set_by: ['admin'] });
    await call(h.port, 'DELETE', '/v1/agents/a1/quarantine', admin);
    expect(JSON.parse((await call(h.port, 'DELETE', '/v1/agents/a1/quarantine', admin)).body)).toEqual({ agent: 'a1', known: false, quarantined: false });
    expect(audits(h).map((l) => l.quarantined)).toEqual([true, false]);
  });

  it('agent names are percent-decoded and canonicalised: any case, any spelling of the address', async () => {
    const h = await start();
    const res = await call(h.port, 'POST', `/v1/agents/${encodeURIComponent('Analytics-FD00:20:1::0:7')}/quarantine`, admin);
    expect(JSON.parse(res.body)).toEqual({ agent: 'analytics-fd00:20:1::7', known: true, quarantined: true, set_by: ['admin'] });
    expect(h.quarantine.list().agents).toEqual(['analytics-fd00:20:1::7']);
  });

  it('POST and DELETE /v1/quarantine take {"agent"}, {"client"} or {"cidr"}; an agent reached by another entry says which', async () => {
    const h = await start();
    const post = (body: unknown) => call(h.port, 'POST', '/v1/quarantine', admin, JSON.stringify(body));
    expect(JSON.parse((await post({ client: 'ANALYTICS-{IP}' })).body)).toEqual({ client: 'analytics-{ip}', known: true, quarantined: true });
    expect(JSON.parse((await post({ cidr: '10.20.0.0/16' })).body)).toEqual({ cidr: '10.20.0.0/16', known: true, quarantined: true });
    expect(JSON.parse((await post({ agent: 'ci-runner-1' })).body)).toEqual({
      agent: 'ci-runner-1', known: true, quarantined: true, set_by: ['admin'],
    });
    expect(JSON.parse((await call(h.port, 'GET', '/v1/agents/analytics-10.20.1.7/quarantine', admin)).body)).toEqual({
      agent: 'analytics-10.20.1.7', known: true, quarantined: true, covered_by: [{ client: 'analytics-{ip}' }, { cidr: '10.20.0.0/16' }],
    });
    expect(audits(h).map((l) => l.msg)).toEqual(['client entry quarantined', 'address range quarantined', 'agent quarantined']);
    expect(audits(h)[0]).toMatchObject({ client: 'analytics-{ip}', known: true });

    const lift = await call(h.port, 'DELETE', '/v1/quarantine', admin, JSON.stringify({ cidr: '10.20.0.0/16' }));
    expect(JSON.parse(lift.body)).toEqual({ cidr: '10.20.0.0/16', known: true, quarantined: false });
    expect(listed(h)).toEqual(['ci-runner-1', 'analytics-{ip}']);
  });

  it.each([
    ['empty', '', 'agent name is empty'],
    ['control character', 'ci%0Arunner', 'agent name contains control characters'],
    ['NUL', 'ci%00', 'agent name contains control characters'],
    ['bad percent-encoding', 'ci%E0%A4', 'agent name is not valid percent-encoding'],
    ['too long', 'a'.repeat(254), 'agent name is longer than 253 characters'],
  ])('rejects an agent name that is %s with 400 and changes nothing', async (_what, segment, error) => {
    const h = await start();
    const res = await call(h.port, 'POST', `/v1/agents/${segment}/quarantine`, admin);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ error });
    expect(listed(h)).toEqual([]);
    expect(audits(h)).toEqual([]);
  });

  it.each([
    ['no body', undefined, 'the body must be JSON: {"agent": ...}, {"client": ...} or {"cidr": ...}'],
    ['two keys', '{"agent":"a","client":"b"}', 'the body must be one of {"agent": ...}, {"client": ...} or {"cidr": ...}'],
    ['another key', '{"name":"a"}', 'the body must be one of {"agent": ...}, {"client": ...} or {"cidr": ...}'],
    ['a number', '{"cidr":10}', 'cidr must be a string'],
    ['a control character in a client name', '{"client":"a\\u0007"}', 'client entry name contains control characters'],
    ['a range with host bits', '{"cidr":"10.20.1.7/24"}', 'cidr: "10.20.1.7/24" has host bits set; did you mean "10.20.1.0/24"?'],
  ])('rejects a /v1/quarantine body with %s with 400 and changes nothing', async (_what, body, error) => {
    const h = await start();
    const res = await call(h.port, 'POST', '/v1/quarantine', admin, body);
    expect([res.status, JSON.parse(res.body)]).toEqual([400, { error }]);
    expect(listed(h)).toEqual([]);
  });

  it('accepts a name of exactly 253 characters', async () => {
    const h = await start();
    expect((await call(h.port, 'POST', `/v1/agents/${'a'.repeat(253)}/quarantine`, admin)).status).toBe(200);
  });

  it('needs the token like the rest of /v1', async () => {
    const h = await start();
    expect((await call(h.port, 'POST', '/v1/agents/ci-runner-1/quarantine')).status).toBe(401);
    expect((await call(h.port, 'POST', '/v1/quarantine', {}, '{"cidr":"10.0.0.0/8"}')).status).toBe(401);
    expect(listed(h)).toEqual([]);
  });
});

describe('http: routing and the wire', () => {
  it('unknown paths are 404 with a JSON error', async () => {
    const h = await start();
    const res = await call(h.port, 'GET', '/nope');
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toEqual({ error: 'not found' });
  });

  it('a known path with the wrong method is 405 with Allow', async () => {
    const h = await start();
    const post = await call(h.port, 'POST', '/healthz');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect(JSON.parse(post.body)).toEqual({ error: 'method not allowed' });
    const put = await call(h.port, 'PUT', '/v1/agents/x/quarantine', admin);
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe('GET, HEAD, POST, DELETE');
  });

  it('a small request body is drained and ignored', async () => {
    const h = await start();
    const res = await call(h.port, 'POST', '/v1/agents/a1/quarantine', { ...admin, 'content-type': 'application/json' }, '{"reason":"x"}');
    expect(res.status).toBe(200);
  });

  it('a body over the cap gets 413 and a closed connection', async () => {
    const h = await start({ limits: { maxBodyBytes: 64 } });
    const res = await call(h.port, 'POST', '/v1/agents/a1/quarantine', admin, 'x'.repeat(1000));
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe('close');
    expect(h.quarantine.size).toBe(0);
  });

  it('a client that never finishes its headers is cut off (slowloris)', async () => {
    const h = await start({ limits: { headersTimeoutMs: 150, requestTimeoutMs: 300, timeoutCheckIntervalMs: 50 } });
    const socket = connect(h.port, '127.0.0.1');
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString()));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // and never the blank line
    const started = Date.now();
    await closed;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(received).toMatch(/^HTTP\/1\.1 408/);
  });

  it('a second server on a taken port fails with HttpListenError', async () => {
    const h = await start();
    const taken: HostPort = { host: '127.0.0.1', port: h.port, family: 4, text: `127.0.0.1:${h.port}` };
    const err = await start({ address: taken }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpListenError);
    expect(err).toMatchObject({ code: 'IDNS_ERR_HTTP_LISTEN', address: taken.text, systemCode: 'EADDRINUSE' });
    expect((err as Error).message).toBe(`cannot listen on ${taken.text} (http): EADDRINUSE`);
  });

  it('address() reports the real port for port 0', async () => {
    const h = await start();
    expect(h.server.address()).toEqual({ host: '127.0.0.1', port: h.port, family: 4, text: `127.0.0.1:${h.port}` });
    expect(h.port).toBeGreaterThan(0);
  });
});

/** A connection that sends a request line and never finishes its headers; `closed` settles when the server cuts it. */
async function stuck(port: number, from = '127.0.0.1'): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = connect({ port, host: '127.0.0.1', localAddress: from });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
  opened.push(socket);
  return { socket, closed };
}

const opened: Socket[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.destroy();
});

describe('http: connection floods (slowloris)', () => {
  it('at the cap, a new connection is served and the longest-waiting unfinished one is closed', async () => {
    const shed: string[] = [];
    const h = await start({ limits: { maxConnections: 3, maxConnectionsPerClient: 10 }, onShed: (r) => shed.push(r) });
    const first = await stuck(h.port, '127.0.0.2');
    const second = await stuck(h.port, '127.0.0.3');
    const third = await stuck(h.port, '127.0.0.4');
    expect((await call(h.port, 'GET', '/healthz')).status).toBe(200);
    await first.closed;
    expect(shed).toEqual(['global_limit']);
    expect([second.socket.destroyed, third.socket.destroyed]).toEqual([false, false]);
  });

  it('a source over its own cap loses its own oldest connection, not anyone else\'s', async () => {
    const h = await start({ limits: { maxConnections: 10, maxConnectionsPerClient: 2 } });
    const other = await stuck(h.port, '127.0.0.3');
    const a1 = await stuck(h.port, '127.0.0.2');
    const a2 = await stuck(h.port, '127.0.0.2');
    await stuck(h.port, '127.0.0.2');
    await a1.closed;
    expect([other.socket.destroyed, a2.socket.destroyed]).toEqual([false, false]);
  });

  it('a connection with a reply in progress is never the one closed; with every one busy the newcomer is', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const registry = { contentType: 'text/plain', metrics: async () => (await gate, 'slow 1\n') } as unknown as Registry;
    const h = await start({ registry, limits: { maxConnections: 1, maxConnectionsPerClient: 10 } });
    const slow = call(h.port, 'GET', '/metrics');
    await delay(50); // the /metrics request is being answered now
    await expect(call(h.port, 'GET', '/healthz')).rejects.toMatchObject({ code: 'ECONNRESET' });
    release();
    expect(await slow).toMatchObject({ status: 200, body: 'slow 1\n' });
  });

  it('a body dripped after the headers does not protect its connection', async () => {
    const h = await start({ limits: { maxConnections: 1, maxConnectionsPerClient: 10 } });
    const socket = connect({ port: h.port, host: '127.0.0.1' });
    socket.on('error', () => {});
    opened.push(socket);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('POST /v1/agents/a1/quarantine HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{');
    await delay(50);
    expect((await call(h.port, 'GET', '/healthz')).status).toBe(200);
    await closed;
  });
});

describe('http: close', () => {
  it('closes with an idle keep-alive connection open, then refuses connections; twice is fine', async () => {
    const h = await start();
    const socket = connect(h.port, '127.0.0.1');
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString()));
    const socketClosed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => received.includes('ok\n'), { what: 'keep-alive reply' });

    const started = Date.now();
    await Promise.all([h.server.close(), h.server.close()]);
    expect(Date.now() - started).toBeLessThan(1000);
    await socketClosed;
    await expect(call(h.port, 'GET', '/healthz')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('cuts a connection stuck mid-request after the grace period', async () => {
    const h = await start({ limits: { closeGraceMs: 100 } });
    const socket = connect(h.port, '127.0.0.1');
    socket.on('error', () => {});
    const socketClosed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n'); // the body never comes
    await delay(50); // let the server read the headers
    await h.server.close();
    await socketClosed;
  });
});
