// npm run bench -- --quick: queries per second and memory of the proxy on loopback, in process.
//
// The proxy runs in this process (one core); the load comes from a child
// process (the other core), so the two do not share an event loop. Every
// scenario is bounded in count and in time. Only 127.0.0.1 is ever used.
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import dnsPacket from 'dns-packet';
import { pino } from 'pino';
import { parseConfig } from '../dist/config/load.js';
import { Server } from '../dist/server.js';
import { Metrics } from '../dist/telemetry/metrics.js';

const QUERIES = Number(process.env.BENCH_QUERIES ?? 300_000);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 64);
const MAX_SECONDS = Number(process.env.BENCH_MAX_SECONDS ?? 30);

if (process.argv[2] === "load") await load();
else await main();

async function main() {
  const upstream = await startUpstream();
  const config = parseConfig(`
version: 1
listen: { dns: ["127.0.0.1:5399"], http: null }
upstreams: { servers: ["127.0.0.1:${upstream.address().port}"], timeout: 1s }
log: { level: warn, queries: none }
clients:
  - { name: bench, match: ["127.0.0.0/8"], role: bench }
roles:
  bench:
    allow: [cached.bench.example]
    deny: [blocked.bench.example]
    unlisted: sinkhole
`, 'bench.yaml');
  const server = new Server(config, pino({ level: 'warn' }));
  await server.listen();
  const port = server.addresses()[0].port;

  console.log(`intentdns bench: ${QUERIES} queries per scenario, ${WINDOW} in flight, node ${process.version}`);
  for (const [label, name] of [['cache hit (allowed, cached)', 'cached.bench.example'], ['blocked (deny list, NXDOMAIN)', 'blocked.bench.example'], ['unlisted (sinkhole)', 'other.bench.example']]) {
    const rssBefore = process.memoryUsage().rss;
    const result = await runLoad(port, name);
    const rssAfter = process.memoryUsage().rss;
    console.log(
      `${label.padEnd(32)} ${String(Math.round(result.qps)).padStart(7)} q/s  p50 ${result.p50.toFixed(2)} ms  p99 ${result.p99.toFixed(2)} ms  ` +
      `answered ${result.answered}/${result.sent}  rss ${(rssBefore / 2 ** 20).toFixed(0)}→${(rssAfter / 2 ** 20).toFixed(0)} MiB`,
    );
  }
  await server.close();
  upstream.close();
  metricsCost();
}

/**
 * What recording a query's metrics costs, on its own: the count and the
 * duration of one finished query, as the observe stage records them.
 */
function metricsCost() {
  const metrics = new Metrics({ perAgent: false, version: 'bench' });
  const query = { qtype: 1, agent: { name: 'bench', role: { name: 'bench' } } };
  const answers = ['allowlist', 'denylist', 'unlisted'].map((reason) => ({ action: reason === 'allowlist' ? 'forward' : 'sinkhole', reason }));
  const rounds = 1_000_000;
  for (let i = 0; i < 10_000; i++) metrics.observeQuery(query, answers[i % 3], 0.0001);
  const started = performance.now();
  for (let i = 0; i < rounds; i++) metrics.observeQuery(query, answers[i % 3], 0.0001);
  const ns = ((performance.now() - started) * 1e6) / rounds;
  console.log(`${'metrics per query'.padEnd(32)} ${ns.toFixed(0)} ns (queries_total + query_duration_seconds, ${rounds} rounds)`);
}

function runLoad(port, name) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['load'], { env: { ...process.env, BENCH_PORT: String(port), BENCH_NAME: name } });
    child.once('message', resolve);
    child.once('error', reject);
  });
}

/** The load generator: WINDOW queries in flight, QUERIES in all, MAX_SECONDS at most. */
async function load() {
  const port = Number(process.env.BENCH_PORT);
  const template = dnsPacket.encode({ type: 'query', id: 0, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: process.env.BENCH_NAME }] });
  const socket = dgram.createSocket('udp4');
  await new Promise((r) => socket.bind(0, '127.0.0.1', r));
  socket.connect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const sentAt = new Float64Array(65536);
  const latencies = [];
  let sent = 0;
  let answered = 0;
  const started = performance.now();
  const deadline = started + MAX_SECONDS * 1000;
  const send = () => {
    if (sent >= QUERIES || performance.now() > deadline) return;
    const id = sent & 0xffff;
    const q = Buffer.from(template);
    q.writeUInt16BE(id, 0);
    sentAt[id] = performance.now();
    sent++;
    socket.send(q);
  };
  await new Promise((resolve) => {
    let idle = setTimeout(resolve, 2000);
    socket.on('message', (msg) => {
      answered++;
      latencies.push(performance.now() - sentAt[msg.readUInt16BE(0)]);
      clearTimeout(idle);
      if (answered >= sent && (sent >= QUERIES || performance.now() > deadline)) return resolve();
      idle = setTimeout(resolve, 2000);   // lost packets must not hang the run
      send();
    });
    for (let i = 0; i < WINDOW; i++) send();
  });
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN;
  process.send({ sent, answered, qps: answered / seconds, p50: pct(0.5), p99: pct(0.99) });
  socket.close();
  process.disconnect();
}

/** A one-name authoritative upstream for the cache-hit scenario (asked once; then the cache answers). */
async function startUpstream() {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    const q = dnsPacket.decode(msg);
    const answer = dnsPacket.encode({
      type: 'response', id: q.id, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: q.questions,
      answers: [{ type: 'A', name: q.questions[0].name, ttl: 3600, data: '192.0.2.10' }],
    });
    socket.send(answer, rinfo.port, rinfo.address);
  });
  await new Promise((r) => socket.bind(0, '127.0.0.1', r));
  return socket;
}
