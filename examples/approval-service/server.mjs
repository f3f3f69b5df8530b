#!/usr/bin/env node
/**
 * A reference approval service for intentdns, run from a terminal:
 *
 *   node examples/approval-service/server.mjs [--port 8080] [--token-file FILE] [--grant-ttl 10m]
 *
 * It implements the service side of the approval link (docs: approval-link.md):
 *   GET  /v1/dns/events   Server-Sent Events: command.approved, command.revoked, hold.decided,
 *                         agent.quarantined, agent.released
 *   POST /v1/dns/holds    intentdns announces a held query; a human decides here
 * with the v1.1 additions: a decision names its question (agent, qname, qtype), so
 * every intentdns replica applies it, and holds for an agent and name that is
 * already pending join that hold (the reviewer sees one request, not one per replica).
 * and a line-based terminal UI for the human. Plain Node, no dependencies,
 * everything in memory: a real service keeps its events in a database.
 *
 * The first line on stdout is the URL it listens on (scripts and tests read it).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { userInfo } from 'node:os';
import { clearLine, createInterface, cursorTo } from 'node:readline';
import { parseArgs } from 'node:util';

const USAGE = `usage: node server.mjs [options]
  --host ADDR         address to listen on (env APPROVAL_HOST, default 127.0.0.1)
  --port N            port, 0 for any free one (env APPROVAL_PORT, default 8080)
  --token-file FILE   require "Authorization: Bearer <token>" with the token in FILE
                      (env APPROVAL_TOKEN_FILE, default: no token)
  --grant-ttl D       lifetime of grants we hand out, e.g. 10m (env APPROVAL_GRANT_TTL,
                      default: leave it to intentdns's approval.grant_ttl)
  --hold-ttl D        how long an undecided hold stays pending here (env APPROVAL_HOLD_TTL,
                      default 10m): intentdns keeps an undecided hold open for its
                      approval.grant_ttl (default 10m) and then forgets it, so set the same value
  --ping D            interval of ": ping" comments on event streams (default 15s)`;

const HELP = `commands:
  a <hold>                allow the held name            ad <hold>  allow its whole domain
  d <hold>                deny the held name             dd <hold>  deny its whole domain
  run <agent> <command…>  approve a command for an agent (intentdns opens the names it uses)
  revoke <cmd>            revoke an approved command (its grants end at once)
  quarantine <agent> [reason…]   cut an agent off on every intentdns (agent.quarantined)
  release <agent>         lift that quarantine (agent.released)
  list                    pending holds and approved commands
  help, quit
  <hold> may be any unique prefix of a pending hold id, as in "a h_4b".`;

// ---- options -------------------------------------------------------------

let args;
try {
  args = parseArgs({
    options: {
      host: { type: 'string' }, port: { type: 'string' }, 'token-file': { type: 'string' },
      'grant-ttl': { type: 'string' }, 'hold-ttl': { type: 'string' }, ping: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (err) {
  fail(`${err.message}\n${USAGE}`);
}
if (args.help) {
  console.log(`${USAGE}\n\n${HELP}`);
  process.exit(0);
}
const env = process.env;
const host = args.host ?? env.APPROVAL_HOST ?? '127.0.0.1';
const port = Number(args.port ?? env.APPROVAL_PORT ?? 8080);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: not a port number: ${args.port ?? env.APPROVAL_PORT}`);
const tokenFile = args['token-file'] ?? env.APPROVAL_TOKEN_FILE;
const grantTtlText = args['grant-ttl'] ?? env.APPROVAL_GRANT_TTL;
const grantTtlS = grantTtlText === undefined ? null : Math.max(1, Math.ceil(duration('--grant-ttl', grantTtlText) / 1000));
const pingMs = duration('--ping', args.ping ?? '15s');
const holdTtlMs = duration('--hold-ttl', args['hold-ttl'] ?? env.APPROVAL_HOLD_TTL ?? '10m');
// Only a digest is kept, and the comparison is on digests, so timing reveals neither the token nor its length.
const tokenDigest = tokenFile === undefined ? null : sha256(readToken(tokenFile));
const operator = whoami();

// ---- state ---------------------------------------------------------------

// Event ids carry this run's start time: an id from an earlier run never
// matches ours by accident, so a proxy resuming with one gets everything we have.
const boot = Date.now().toString(36);
let eventSeq = 0;
let commandSeq = 0;
const MAX_EVENTS = 10_000;   // the replay window; older events are forgotten
const MAX_HOLDS = 1_000;    // remembered holds, pending or decided; the oldest goes first
const events = [];           // { id, type, data (JSON text), at (ms) }, oldest first
const holds = new Map();     // hold_id -> { hold: { agent, qname, qtype }, at (ms), decision: null | 'allow' | 'deny' | 'expired', joined: [hold_id…] | undefined, joinedTo: hold_id | undefined }
const pendingByQuestion = new Map(); // "agent\0qname" -> hold_id of the pending hold every later one joins
const commands = new Map();  // command id -> { agent, command, revoked }
const streams = new Set();   // open event-stream responses

/** Records an event and writes it to every open stream. */
function publish(type, payload) {
  const event = { id: `${boot}-${++eventSeq}`, type, data: JSON.stringify(payload), at: Date.now() };
  events.push(event);
  if (events.length > MAX_EVENTS) events.shift();
  for (const res of streams) writeEvent(res, event);
  return event;
}

function writeEvent(res, e) {
  res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${e.data}\n\n`);
}

// ---- HTTP ----------------------------------------------------------------

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://service.invalid');
  const route = `${req.method} ${url.pathname}`;
  if (url.pathname !== '/v1/dns/events' && url.pathname !== '/v1/dns/holds') return sendJson(res, 404, { error: 'not found' });
  if (!authorized(req)) return sendJson(res, 401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer' });
  if (route === 'GET /v1/dns/events') return openStream(req, res, url);
  if (route === 'POST /v1/dns/holds') return receiveHold(req, res);
  const allow = url.pathname === '/v1/dns/events' ? 'GET' : 'POST';
  sendJson(res, 405, { error: 'method not allowed' }, { allow });
});

function authorized(req) {
  if (tokenDigest === null) return true;
  const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
  return m !== null && timingSafeEqual(sha256(m[1]), tokenDigest);
}

/**
 * The event stream. Where it starts: after `Last-Event-ID` when the proxy
 * resumes; at `since` on a cold start (so approvals made while it was down
 * still count); otherwise live events only.
 */
function openStream(req, res, url) {
  const lastId = req.headers['last-event-id'] || undefined; // an empty header means none
  const sinceText = url.searchParams.get('since');
  const since = sinceText === null ? null : Date.parse(sinceText);
  if (Number.isNaN(since)) return sendJson(res, 400, { error: 'since is not an RFC 3339 time' });
  let backlog = [];
  if (lastId !== undefined) {
    const i = events.findIndex((e) => e.id === lastId);
    // An id we do not know comes from an earlier run or fell out of the window: all we have is news to it.
    backlog = i >= 0 ? events.slice(i + 1) : events.filter((e) => since === null || e.at >= since);
  } else if (since !== null) {
    backlog = events.filter((e) => e.at >= since);
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.write(': connected\n\n'); // sends the headers now, and shows curl users something
  for (const e of backlog) writeEvent(res, e);
  streams.add(res);
  const peer = req.socket.remoteAddress;
  say(`* proxy connected from ${peer}${lastId ? ` (resuming after ${clean(lastId)})` : ''}, ${backlog.length} event(s) replayed`);
  res.on('close', () => {
    streams.delete(res);
    if (!shuttingDown) say(`* proxy at ${peer} disconnected`);
  });
}

async function receiveHold(req, res) {
  let hold;
  try {
    hold = JSON.parse(await readBody(req, 64 * 1024));
  } catch (err) {
    return sendJson(res, 400, { error: `unusable body: ${err.message}` });
  }
  const missing = ['hold_id', 'agent', 'qname', 'qtype'].filter((k) => typeof hold?.[k] !== 'string' || hold[k] === '');
  if (missing.length > 0) return sendJson(res, 400, { error: `missing or empty: ${missing.join(', ')}` });
  // intentdns may post the same hold again (a retry): accept it, announce it once.
  if (holds.has(hold.hold_id)) return sendJson(res, 202, { hold_id: hold.hold_id });
  // One hold per agent and name: another replica (or a retry after intentdns forgot) asking the same
  // question joins the pending hold, and the one decision answers both.
  const question = questionKey(hold.agent, hold.qname);
  expireHolds();
  const first = pendingByQuestion.get(question);
  const entry = { hold: { agent: hold.agent, qname: hold.qname, qtype: hold.qtype }, at: Date.now(), decision: null };
  if (first !== undefined && holds.get(first)?.decision === null) {
    holds.set(hold.hold_id, { ...entry, joinedTo: first });
    holds.get(first).joined.push(hold.hold_id);
    forgetOldest();
    say(`[${clean(hold.hold_id)}] joins [${clean(first)}]: ${clean(hold.agent)} wants ${clean(hold.qname)} ${clean(hold.qtype)} (from ${clean(hold.client ?? '?')})`);
    return sendJson(res, 201, { hold_id: hold.hold_id });
  }
  holds.set(hold.hold_id, { ...entry, joined: [] });
  pendingByQuestion.set(question, hold.hold_id);
  forgetOldest();
  const recent = Array.isArray(hold.recent_commands) && hold.recent_commands.length > 0
    ? ` — recent: ${hold.recent_commands.map(clean).join(', ')}` : '';
  const role = typeof hold.role === 'string' ? ` (${clean(hold.role)})` : '';
  say(`[${clean(hold.hold_id)}] ${clean(hold.agent)}${role} wants ${clean(hold.qname)} ${clean(hold.qtype)}${recent}`);
  sendJson(res, 201, { hold_id: hold.hold_id });
}

/**
 * Undecided holds older than --hold-ttl leave the pending list: intentdns has answered their
 * queries (hold_timeout) and, after its grant_ttl, forgotten the hold, so a decision would
 * answer nobody. A first hold takes the holds that joined it along; the agent's next query
 * for that name opens a new one.
 */
function expireHolds(now = Date.now()) {
  for (const [id, entry] of holds) {
    if (entry.decision !== null || entry.joinedTo !== undefined || now - entry.at < holdTtlMs) continue;
    entry.decision = 'expired';
    for (const joined of entry.joined) holds.get(joined).decision = 'expired';
    const key = questionKey(entry.hold.agent, entry.hold.qname);
    if (pendingByQuestion.get(key) === id) pendingByQuestion.delete(key);
    say(`[${clean(id)}] expired undecided: ${clean(entry.hold.agent)} wanted ${clean(entry.hold.qname)} ${clean(entry.hold.qtype)}`);
  }
}

function questionKey(agent, qname) {
  return `${agent}\0${qname.toLowerCase().replace(/\.$/, '')}`;
}

function forgetOldest() {
  if (holds.size <= MAX_HOLDS) return;
  const [id, entry] = holds.entries().next().value;
  holds.delete(id);
  const key = questionKey(entry.hold.agent, entry.hold.qname);
  if (pendingByQuestion.get(key) === id) pendingByQuestion.delete(key);
}

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > limit) return req.destroy(new Error(`over ${limit} bytes`));
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(`${JSON.stringify(body)}\n`);
}

// Comments keep idle streams alive through proxies and tell intentdns the link is up.
const pinger = setInterval(() => {
  for (const res of streams) res.write(': ping\n\n');
}, pingMs);
const expirer = setInterval(expireHolds, Math.min(holdTtlMs, 5_000));

// ---- terminal UI ---------------------------------------------------------

const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
let rl = null; // created once listening, so no typed line is read before the service can act on it

/** Prints a line without tearing the operator's half-typed command apart. */
function say(line) {
  if (tty) {
    clearLine(process.stdout, 0);
    cursorTo(process.stdout, 0);
  }
  process.stdout.write(`${line}\n`);
  if (tty) rl?.prompt(true);
}

const DECISIONS = { a: ['allow', 'name'], ad: ['allow', 'domain'], d: ['deny', 'name'], dd: ['deny', 'domain'] };

function command(line) {
  const [verb = '', arg = ''] = line.trim().split(/\s+/);
  if (verb === '') return;
  if (Object.hasOwn(DECISIONS, verb)) return decide(arg, ...DECISIONS[verb]);
  switch (verb) {
    case 'run': {
      const m = /^run\s+(\S+)\s+(\S.*)$/.exec(line.trim());
      if (m === null) return say('usage: run <agent> <command…>');
      return approve(m[1], m[2]);
    }
    case 'revoke':
      return arg === '' ? say('usage: revoke <cmd>') : revoke(arg);
    case 'quarantine': {
      const m = /^quarantine\s+(\S+)(?:\s+(\S.*))?$/.exec(line.trim());
      if (m === null) return say('usage: quarantine <agent> [reason…]');
      return quarantine(m[1], m[2]);
    }
    case 'release':
      return arg === '' ? say('usage: release <agent>') : release(arg);
    case 'list':
      return list();
    case 'help':
      return say(HELP);
    case 'quit':
    case 'exit':
      return shutdown();
    default:
      say(`unknown command "${clean(verb)}"; type "help"`);
  }
}

function decide(prefix, decision, scope) {
  expireHolds();
  if (prefix === '') return say(`usage: ${decision === 'allow' ? 'a' : 'd'}${scope === 'domain' ? 'd' : ''} <hold>`);
  // A full id names any hold; a prefix only the pending ones, so old decided holds never make it ambiguous.
  // A hold that joined another is decided with it, so a prefix names only the first.
  const found = [...holds].filter(([id, h]) => h.decision === null && h.joinedTo === undefined && id.startsWith(prefix)).map(([id]) => id);
  const id = holds.has(prefix) ? prefix : found.length === 1 ? found[0] : null;
  if (id === null) return say(found.length === 0 ? `no pending hold ${clean(prefix)}` : `"${clean(prefix)}" matches ${found.length} pending holds; type more of the id`);
  let entry = holds.get(id);
  if (entry.decision !== null) return say(`${clean(id)} was already ${entry.decision === 'expired' ? 'expired' : `decided: ${entry.decision}`}`);
  const firstId = entry.joinedTo ?? id;
  entry = holds.get(firstId) ?? entry;
  entry.decision = decision;
  for (const joined of entry.joined ?? []) holds.get(joined).decision = decision;
  const key = questionKey(entry.hold.agent, entry.hold.qname);
  if (pendingByQuestion.get(key) === firstId) pendingByQuestion.delete(key);
  // One event with the question answers every joined hold on every intentdns (v1.1): each applies it
  // to its own holds for that agent and name, whatever their ids.
  publish('hold.decided', {
    hold_id: firstId, decision, scope, decided_by: operator, ...(grantTtlS !== null && { ttl_seconds: grantTtlS }),
    agent: entry.hold.agent, qname: entry.hold.qname, qtype: entry.hold.qtype,
  });
  const joined = entry.joined?.length ? ` and ${entry.joined.length} joined` : '';
  say(`${decision === 'allow' ? 'allowed' : 'denied'} ${clean(entry.hold.qname)}${scope === 'domain' ? ' and its domain' : ''} for ${clean(entry.hold.agent)} (${clean(firstId)}${joined})`);
}

function approve(agent, commandLine) {
  // Ids restart with this in-memory service; a real one uses its database ids.
  const id = `cmd_${++commandSeq}`;
  const now = Date.now();
  commands.set(id, { agent, command: commandLine, revoked: false });
  // No `domains`: intentdns reads the names out of the command itself.
  publish('command.approved', {
    id, agent, command: commandLine, approved_by: operator, approved_at: new Date(now).toISOString(),
    ...(grantTtlS !== null && { expires_at: new Date(now + grantTtlS * 1000).toISOString() }),
  });
  say(`${id} approved for ${agent}: ${commandLine}`);
}

function revoke(id) {
  const entry = commands.get(id);
  if (entry !== undefined) entry.revoked = true;
  publish('command.revoked', { id });
  say(`${clean(id)} revoked${entry === undefined ? ' (not approved in this session; sent anyway)' : ''}`);
}

const quarantined = new Map(); // agent -> reason (or null)

function quarantine(agent, reason) {
  quarantined.set(agent, reason ?? null);
  publish('agent.quarantined', { agent, ...(reason !== undefined && { reason }), by: operator });
  say(`${agent} quarantined on every intentdns${reason === undefined ? '' : `: ${reason}`}`);
}

function release(agent) {
  const known = quarantined.delete(agent);
  publish('agent.released', { agent, by: operator });
  say(`${agent} released${known ? '' : ' (not quarantined in this session; sent anyway)'}`);
}

function list() {
  expireHolds();
  const pending = [...holds].filter(([, h]) => h.decision === null);
  const live = [...commands].filter(([, c]) => !c.revoked);
  say(`${streams.size} proxy stream(s) open`);
  say(pending.length === 0 ? 'no pending holds' : 'pending holds:');
  for (const [id, { hold, joinedTo }] of pending) {
    say(`  [${clean(id)}] ${clean(hold.agent)} wants ${clean(hold.qname)} ${clean(hold.qtype)}${joinedTo === undefined ? '' : ` (joins [${clean(joinedTo)}])`}`);
  }
  say(live.length === 0 ? 'no approved commands' : 'approved commands:');
  for (const [id, c] of live) say(`  ${id} ${c.agent}: ${c.command}`);
  if (quarantined.size > 0) say('quarantined agents:');
  for (const [agent, reason] of quarantined) say(`  ${agent}${reason === null ? '' : `: ${reason}`}`);
}

// ---- start and stop ------------------------------------------------------

let shuttingDown = false;
function shutdown() {
  if (shuttingDown) return;
  shuttingDown = true;
  clearInterval(pinger);
  clearInterval(expirer);
  for (const res of streams) res.end(); // a clean end: intentdns reconnects to whoever listens next
  rl?.close();
  server.close(() => process.exit(0));
  server.closeAllConnections();
}

server.on('error', (err) => fail(`cannot listen on ${host}:${port}: ${err.code ?? err.message}`));
server.listen(port, host, () => {
  const { port: bound } = server.address();
  say(`approval service listening on http://${host.includes(':') ? `[${host}]` : host}:${bound}`);
  say(`${tokenDigest === null ? 'no token required' : `bearer token from ${tokenFile}`}; type "help" for commands`);
  rl = createInterface({ input: process.stdin, output: process.stdout, terminal: tty, prompt: '> ' });
  rl.on('line', (line) => {
    command(line);
    if (tty && !shuttingDown) rl.prompt(); // also after a line that printed nothing
  });
  // Ctrl-D at a terminal means quit. Without a terminal (stdin from /dev/null,
  // a service manager) stdin ends at once, and the service keeps serving.
  rl.on('close', () => (tty ? shutdown() : undefined));
  if (tty) rl.prompt();
});
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);

// ---- helpers -------------------------------------------------------------

/** "500ms", "15s", "10m", "1h", or bare seconds, in milliseconds. */
function duration(flag, text) {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(text.trim());
  if (m === null || Number(m[1]) === 0) fail(`${flag}: not a duration like 30s or 10m: ${text}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'];
}

function readToken(file) {
  let token;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (err) {
    fail(`cannot read token file ${file}: ${err.code ?? err.message}`);
  }
  if (token === '') fail(`token file ${file} is empty`);
  return token;
}

function sha256(text) {
  return createHash('sha256').update(text).digest();
}

function whoami() {
  try {
    return userInfo().username;
  } catch {
    return env.USER ?? 'operator'; // no passwd entry (some containers)
  }
}

/** Text from the network goes to a terminal: no control characters, so no escape sequences. */
function clean(text) {
  return String(text).replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
}

function fail(message) {
  console.error(message);
  process.exit(2);
}
