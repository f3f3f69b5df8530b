// The approval service of the bench's held and granted scenarios and of the soak
// (/work/shared/spec/approval-link.md, v1 and the v1.1 question fields), as little of it as they
// need: `node bench/approval.js PORT TOKEN_FILE [GRANT] [--decide-ms MIN[-MAX]] [--deny-every N]
// [--hold-ttl S]` on 127.0.0.1 only.
//
// - GET /v1/dns/events: an SSE stream kept open, `: ping` every 10 s (intentdns drops a link
//   silent for 45 s). With GRANT (JSON { agent, domains }), each new stream first gets one
//   `command.approved` for it, approved now. A stream that comes back with `Last-Event-ID` first
//   gets the events it missed (the last 2,000 events are kept), as a real service would resume it.
// - POST /v1/dns/holds: 202, then `hold.decided` (scope name, with the question) on every open
//   stream: at once by default (a reviewer who always says yes at once, so the bench measures
//   intentdns and the link); after a random MIN–MAX ms with --decide-ms; every Nth hold `deny`
//   with --deny-every N; `ttl_seconds` S with --hold-ttl.
// - GET /bench/stats: what it counted, for the bench's and the soak's reports.
// - For the soak, which drives it: POST /bench/approve { id, agent, domains, command?, expires_at? }
//   sends `command.approved`; POST /bench/revoke { id } sends `command.revoked`; POST /bench/flap
//   { down_ms, abrupt } closes every open stream (`abrupt`: destroys the sockets instead of ending
//   the responses) and answers new streams 503 for `down_ms`.
//
// Every request needs `Authorization: Bearer <token>` (the token file intentdns reads too); 401 else.
import fs from 'node:fs';
import http from 'node:http';

const positional = [];
const flags = {};
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a.startsWith('--')) flags[a.slice(2)] = process.argv[++i];
  else positional.push(a);
}
const [port, tokenFile, grantJson] = positional;
const token = fs.readFileSync(tokenFile, 'utf8').trim();
const grant = grantJson ? JSON.parse(grantJson) : null;
const [decideMin, decideMax] = (flags['decide-ms'] ?? '0').split('-').map(Number).concat([NaN]);
const decideSpan = Number.isFinite(decideMax) ? [decideMin, decideMax] : [decideMin, decideMin];
const denyEvery = Number(flags['deny-every'] ?? 0);
const holdTtl = flags['hold-ttl'] !== undefined ? Number(flags['hold-ttl']) : undefined;
const MAX_BODY = 64 * 1024;   // a hold POST is a few hundred bytes
const HISTORY = 2000;         // events kept for a stream that resumes with Last-Event-ID

const streams = new Set();
const stats = {
  streams: 0, resumed: 0, replayed: 0, refusedDown: 0, flaps: 0,
  holds: 0, duplicateHolds: 0, decisions: 0, allowed: 0, denied: 0, undelivered: 0,
  unauthorized: 0, badRequests: 0, approvals: 0, revocations: 0,
};
const holdIds = new Set();    // bounded by the scenario's query file, not by time; trimmed below for the soak
const history = [];           // [seq, text], oldest first, at most HISTORY
// Ids go up across restarts of this process (the soak restarts it), so a resumed stream never skips new ones.
let seq = Date.now();
let downUntil = 0;
const decisionTimers = new Set();

function event(type, data) {
  const id = ++seq;
  const text = `id: e${id}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
  history.push([id, text]);
  if (history.length > HISTORY) history.shift();
  return text;
}

function broadcast(text) {
  for (const res of streams) res.write(text);
  return streams.size;
}

function events(req, res) {
  if (Date.now() < downUntil) {
    stats.refusedDown++;
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' }).end('{"error":"down"}');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
  streams.add(res);
  stats.streams++;
  res.on('close', () => streams.delete(res));
  const last = /^e(\d+)$/.exec(String(req.headers['last-event-id'] ?? ''));
  if (last) {
    stats.resumed++;
    const after = Number(last[1]);
    for (const [id, text] of history) if (id > after) { res.write(text); stats.replayed++; }
  }
  if (grant) {
    stats.approvals++;
    // `domains` is what intentdns grants; the command is only logged beside it.
    res.write(event('command.approved', {
      id: 'cmd_bench', agent: grant.agent, command: `curl https://${grant.domains[0].replace(/^\*\./, '')}/`, approved_by: 'bench',
      approved_at: new Date().toISOString(), domains: grant.domains,
    }));
  }
}

function readJson(req, res, then) {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) { req.destroy(); return; }
    chunks.push(c);
  });
  req.on('end', () => {
    let body;
    try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { body = null; }
    if (body === null || typeof body !== 'object') {
      stats.badRequests++;
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"json"}');
      return;
    }
    then(body);
  });
}

function decide(body) {
  const deny = denyEvery > 0 && stats.decisions % denyEvery === denyEvery - 1;
  const sent = broadcast(event('hold.decided', {
    hold_id: body.hold_id, decision: deny ? 'deny' : 'allow', scope: 'name', decided_by: 'bench',
    ...(holdTtl !== undefined && { ttl_seconds: holdTtl }),
    ...(typeof body.agent === 'string' && typeof body.qname === 'string' && { agent: body.agent, qname: body.qname, qtype: body.qtype }),
  }));
  stats.decisions++;
  if (deny) stats.denied++; else stats.allowed++;
  if (sent === 0) stats.undelivered++;   // kept in the history: a stream that resumes gets it
}

function hold(req, res) {
  readJson(req, res, (body) => {
    if (typeof body.hold_id !== 'string' || body.hold_id === '') {
      stats.badRequests++;
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"hold_id"}');
      return;
    }
    // The same id twice is allowed (spec); decided again, intentdns ignores what is no longer pending.
    if (holdIds.has(body.hold_id)) stats.duplicateHolds++;
    else { holdIds.add(body.hold_id); stats.holds++; }
    // The soak runs for hours at most at a few holds a second; forget the oldest beyond 100k.
    if (holdIds.size > 100_000) holdIds.delete(holdIds.values().next().value);
    res.writeHead(202, { 'content-length': '0' }).end();
    const [min, max] = decideSpan;
    const ms = min + Math.random() * (max - min);
    if (!(ms > 0)) { decide(body); return; }
    const t = setTimeout(() => { decisionTimers.delete(t); decide(body); }, ms);
    decisionTimers.add(t);
  });
}

function approve(req, res) {
  readJson(req, res, (body) => {
    stats.approvals++;
    broadcast(event('command.approved', {
      id: body.id, agent: body.agent, command: body.command ?? `curl https://${String(body.domains?.[0] ?? '').replace(/^\*\./, '')}/`,
      approved_by: 'soak', approved_at: new Date().toISOString(),
      ...(body.expires_at && { expires_at: body.expires_at }), ...(body.domains && { domains: body.domains }),
    }));
    res.writeHead(204).end();
  });
}

function revoke(req, res) {
  readJson(req, res, (body) => {
    stats.revocations++;
    broadcast(event('command.revoked', { id: body.id }));
    res.writeHead(204).end();
  });
}

function flap(req, res) {
  readJson(req, res, (body) => {
    stats.flaps++;
    downUntil = Date.now() + (Number(body.down_ms) || 0);
    for (const s of [...streams]) {
      streams.delete(s);
      if (body.abrupt) s.destroy(); else s.end();
    }
    res.writeHead(204).end();
  });
}

const server = http.createServer((req, res) => {
  if (req.headers.authorization !== `Bearer ${token}`) {
    stats.unauthorized++;
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
    return;
  }
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (req.method === 'GET' && url.pathname === '/v1/dns/events') return events(req, res);
  if (req.method === 'POST' && url.pathname === '/v1/dns/holds') return hold(req, res);
  if (req.method === 'POST' && url.pathname === '/bench/approve') return approve(req, res);
  if (req.method === 'POST' && url.pathname === '/bench/revoke') return revoke(req, res);
  if (req.method === 'POST' && url.pathname === '/bench/flap') return flap(req, res);
  if (req.method === 'GET' && url.pathname === '/bench/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...stats, openStreams: streams.size }));
    return;
  }
  res.writeHead(404).end();
});
// Longer than the client's idle keep-alive: intentdns never posts on a socket we are closing.
server.keepAliveTimeout = 65_000;
const pinger = setInterval(() => broadcast(': ping\n\n'), 10_000);
server.listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => {
  clearInterval(pinger);
  for (const t of decisionTimers) clearTimeout(t);
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
