// The approval service of the held and granted scenarios (/work/shared/spec/approval-link.md, v1),
// as little of it as they need: `node bench/approval.js PORT TOKEN_FILE [GRANT]` on 127.0.0.1 only.
//
// - GET /v1/dns/events: an SSE stream kept open, `: ping` every 10 s (intentdns drops a link
//   silent for 45 s). With GRANT (JSON { agent, domains }), each new stream first gets one
//   `command.approved` for it, approved now.
// - POST /v1/dns/holds: 202, then at once `hold.decided` allow (scope name) on every open stream:
//   a reviewer who always says yes at once, so the scenario measures intentdns and the link.
// - GET /bench/stats: what it counted, for the bench's report.
//
// Every request needs `Authorization: Bearer <token>` (the token file intentdns reads too); 401 else.
import fs from 'node:fs';
import http from 'node:http';

const [port, tokenFile, grantJson] = process.argv.slice(2);
const token = fs.readFileSync(tokenFile, 'utf8').trim();
const grant = grantJson ? JSON.parse(grantJson) : null;
const MAX_BODY = 64 * 1024;   // a hold POST is a few hundred bytes

const streams = new Set();
const stats = { streams: 0, holds: 0, duplicateHolds: 0, decisions: 0, undelivered: 0, unauthorized: 0, badRequests: 0, approvals: 0 };
const holdIds = new Set();    // bounded by the scenario's query file, not by time
let eventId = 0;

const event = (type, data) => `id: e${++eventId}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;

function broadcast(text) {
  for (const res of streams) res.write(text);
  return streams.size;
}

function events(req, res) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
  streams.add(res);
  stats.streams++;
  res.on('close', () => streams.delete(res));
  if (grant) {
    stats.approvals++;
    // `domains` is what intentdns grants; the command is only logged beside it.
    res.write(event('command.approved', {
      id: 'cmd_bench', agent: grant.agent, command: `curl https://${grant.domains[0].replace(/^\*\./, '')}/`, approved_by: 'bench',
      approved_at: new Date().toISOString(), domains: grant.domains,
    }));
  }
}

function hold(req, res) {
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
    if (typeof body?.hold_id !== 'string' || body.hold_id === '') {
      stats.badRequests++;
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"hold_id"}');
      return;
    }
    // The same id twice is allowed (spec); decided again, intentdns ignores what is no longer pending.
    if (holdIds.has(body.hold_id)) stats.duplicateHolds++;
    else { holdIds.add(body.hold_id); stats.holds++; }
    res.writeHead(202, { 'content-length': '0' }).end();
    const sent = broadcast(event('hold.decided', { hold_id: body.hold_id, decision: 'allow', scope: 'name', decided_by: 'bench' }));
    if (sent > 0) stats.decisions++;
    else stats.undelivered++;
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
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
