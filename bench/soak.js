// npm run soak [-- --minutes N] [--sample-seconds S] [--settle-seconds N] [--json FILE] [--qps N]
//
// intentdns under mixed load for a set time (default 10 minutes), watched for anything that grows
// without bound (issue 11, part 4). All on 127.0.0.1, real processes and sockets:
//
// - knotd serving soak.test (bench/harness.js startKnot, as the bench uses it);
// - the approval service fake (bench/approval.js): holds decided allow or deny (every 4th) after
//   50–600 ms, each with a grant of 60 s; commands approved and revoked when the soak says so; its
//   event stream flapped every 30–60 s: closed (ended or destroyed), refused for 3 s, or the
//   process stopped and started again;
// - intentdns (`node dist/main.js serve`), `log.queries: all` on stdout, piped to a slow reader
//   that reads for 2–5 s and pauses for 1.5–6 s, every 5th pause 15 s, so the log output's bound
//   is reached (lines dropped and counted, never memory);
// and, bounded in rate and stopped at the end:
// - bulk UDP (--qps, default 1500/s) over 32 sockets at a time, each retired after 400 queries and
//   replaced on the next of 200 source addresses (127.0.1.x, one agent each through an {ip}
//   client entry): 60 % hits (2,000 allowed names, cached), 20 % misses (a new name each time
//   under an allowed wildcard, so the cache fills to max_entries and evicts), 10 % denied, 10 %
//   unlisted (sinkholed);
// - TCP churn: 4 connections a second from 127.0.2.x (at most 8 open), 1–4 queries each, closed
//   politely, reset after or before the answers, cut mid-frame, or left idle for the server to close;
// - holds: 4 fresh names a second in a holding role (every 4th asked A and AAAA together), and
//   retries of approved ones, which the grant the approval made must answer;
// - grants: a command approved every 10 s for *.g<k>.granted.soak.test (expires in 60 s), the
//   one three before it revoked; 5 queries a second under live and revoked ones;
// - config reloads every 30 s (the file rewritten by rename: the allowed *.g<gen>.dyn.soak.test moves
//   on, 50–450 exact names come and go; every 3rd good one also by SIGHUP; SIGHUP as well when the
//   file watch did not reload within 5 s), each checked by a query; every 4th a bad config (an
//   unknown key, or broken YAML) that must be rejected with the running one kept.
// Shorter runs scale the periods down so each of these happens a few times. Before the clock
// starts, the cache is filled to max_entries and the load (not the reloads and flaps) runs for
// --settle-seconds (default 10) unsampled; the judge's warm-up (the first 20 % of the run) comes on top.
//
// Every second it scrapes /metrics and reads /proc/PID/status and /proc/PID/fd; every S seconds
// (--sample-seconds, default 10) it makes one row: RSS (median of VmRSS; process_resident_memory
// as a cross-check), heap used right after a full GC (intentdns runs with --expose-gc and
// bench/lists-gc.cjs, which collects on SIGUSR2: the live heap, not the GC sawtooth), active handles and
// open fds (medians), pending holds (maximum), answers and errors per second on the client side
// (timeouts, SERVFAIL, a TCP connection failing; wrong answers apart), log lines read, lines the
// proxy dropped, cache entries, grants, link up. At the end it prints the table (one row per
// sample, or per minute when there are more than 30), what load was driven, and the verdict of
// bench/soak-judge.js per series; it exits 1 when any grows without bound, the error rate rose, or an
// error that must never happen did (a wrong answer, a reload not applied, a bad config accepted, a
// reason such as hold_error or rate_limit, intentdns exiting). Writes --json FILE, or else
// bench/results/<date>-soak.json. Every process is stopped by its PID at the end, on failure and
// on SIGINT / SIGTERM (the first one ends the run early and still reports; a second one stops at once).
import { spawnSync } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { freePort, procCpuTicks, procFds, procStatusMiB, ROOT, start, startKnot, stop, stopAll, waitForDns, which } from './harness.js';
import { judgeSoak, median, WARMUP } from './soak-judge.js';
import { GrantUser, Holds, NOERROR, NXDOMAIN, query, SERVFAIL, SlowReader, TcpChurn, totals, UdpMix } from './soak-load.js';

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
};
const MINUTES = Number(option('minutes', 10));
const SAMPLE_S = Number(option('sample-seconds', 10));
const QPS = Number(option('qps', 1500));
const SETTLE_S = Number(option('settle-seconds', 10));
const JSON_FILE = option('json', null);
if (!(MINUTES > 0 && MINUTES <= 24 * 60) || !(SAMPLE_S >= 1 && SAMPLE_S <= 600) || !(QPS >= 10 && QPS <= 20_000) || !(SETTLE_S >= 0 && SETTLE_S <= 600)) {
  console.error('soak: --minutes 0..1440 (fractions allowed), --sample-seconds 1..600, --qps 10..20000, --settle-seconds 0..600');
  process.exit(2);
}
const RUN_MS = MINUTES * 60_000;
const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));
// Periods: the issue's for long runs, scaled down for short ones so each event happens a few times.
const RELOAD_MS = clamp(RUN_MS / 6, 5000, 30_000);
const FLAP_MS = [clamp(RUN_MS / 4, 8000, 30_000), clamp(RUN_MS / 4, 8000, 60_000)];
const GRANT_MS = clamp(RUN_MS / 8, 4000, 10_000);
const LONG_PAUSE_MS = clamp(RUN_MS / 8, 2000, 15_000);
const PAUSE_MS = [1500, clamp(RUN_MS / 15, 2000, 6000)];

const SUFFIXES = 20;        // allowed: *.s<i>.soak.test
const HIT_SHARE = 0.6;
const MISS_SHARE = 0.2;
// h<j>.s<j % SUFFIXES>.soak.test: each asked about every 2 s, cached before the run.
const HIT_NAMES = Math.round(clamp(HIT_SHARE * QPS * 2, 200, 2000));
// Room for the hits and 10 s of misses: the hits stay cached, the misses evict each other. The
// cache is filled to this before the run starts, so the run sees its bound, not its filling.
const CACHE_ENTRIES = HIT_NAMES + Math.round(Math.max(200, MISS_SHARE * QPS * 10));
const HOLD_TTL_S = 60;      // the fake service's ttl_seconds for approved holds
const GRANT_LIFE_MS = 60_000;
const UNEXPECTED_REASONS = ['hold_error', 'hold_capacity', 'rate_limit', 'qtype', 'unknown_client', 'quarantine', 'rebinding', 'denylist_cname', 'firewall_error', 'tunneling'];
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

const sources = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}.${i + 1}`);
const BULK_SOURCES = sources('127.0.1', 200);
const TCP_SOURCES = sources('127.0.2', 50);
const HOLDER = '127.0.0.4';
const GRANTEE = '127.0.0.5';

/** Resolves after `ms`, or at once when `signal` aborts. */
const sleep = (ms, signal) => new Promise((resolve) => {
  if (signal?.aborted) { resolve(); return; }
  const done = () => { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); };
  const t = setTimeout(done, ms);
  signal?.addEventListener('abort', done, { once: true });
});

// --- zone and config ---------------------------------------------------------------------------

function zone() {
  return [
    '$ORIGIN soak.test.', '$TTL 300',
    '@ SOA ns.soak.test. hostmaster.soak.test. 1 3600 600 86400 300', '@ NS ns', 'ns A 198.51.100.1',
    ...Array.from({ length: SUFFIXES }, (_, i) => [`s${i} A 198.51.100.${i + 2}`, `*.s${i} A 198.51.100.${i + 2}`]).flat(),
    // Each of these answers NOERROR upstream: a sinkhole the proxy failed to apply would show.
    '*.deny A 198.51.100.200', '*.unlisted A 198.51.100.201', '*.held A 198.51.100.202',
    '*.granted A 198.51.100.203', '*.dyn A 198.51.100.204',
  ];
}

/** The config of generation `gen`; `bad` 1 adds an unknown key, 2 breaks the YAML. */
function intentdnsConfig({ port, httpPort, knotPort, approvalUrl, tokenFile }, gen, bad = 0) {
  const q = JSON.stringify;
  const exact = 50 + (gen % 5) * 100;   // 50–450 exact names that come and go with the generation
  const allow = [
    ...Array.from({ length: SUFFIXES }, (_, i) => `*.s${i}.soak.test`),
    `*.g${gen}.dyn.soak.test`,
    ...Array.from({ length: exact }, (_, j) => `e${j}.g${gen}.dyn.soak.test`),
  ];
  return `# intentdns soak, generation ${gen}${bad ? ' (bad on purpose)' : ''}
version: 1
listen: { dns: ["127.0.0.1:${port}"], http: "127.0.0.1:${httpPort}" }
upstreams: { servers: ["127.0.0.1:${knotPort}"], timeout: 1500ms }
cache: { max_entries: ${CACHE_ENTRIES} }
answers: { max_ttl: 30s }
sinkhole: { response: nxdomain, ttl: 5s }
# Per-source buckets and idle TCP closes are exercised; no soak client comes near the rate.
limits: { client_qps: 2000, tcp_idle_timeout: 5s }
log: { level: info, queries: all }
clients:
  - { name: soak, match: ["127.0.0.1/32"], role: coding }
  - { name: "bulk-{ip}", match: ["127.0.1.0/24"], role: coding }
  - { name: "tcp-{ip}", match: ["127.0.2.0/24"], role: coding }
  - { name: holder, match: ["${HOLDER}/32"], role: holding }
  - { name: granted, match: ["${GRANTEE}/32"], role: granting }
roles:
  coding:
    unlisted: sinkhole
    deny: ["*.deny.soak.test"]
${bad === 1 ? '    allw: ["typo.soak.test"]\n' : ''}    allow:
${allow.map((p) => `      - ${q(p)}`).join('\n')}
  holding:
    unlisted: hold
    allow: ["*.s0.soak.test"]
  granting:
    unlisted: sinkhole
approval:
  url: ${q(approvalUrl)}
  token_file: ${q(tokenFile)}
  grant_ttl: 2m
  hold_timeout: 2s
  on_hold_timeout: sinkhole
  on_link_down: sinkhole
  max_pending_holds: 500
${bad === 2 ? 'log: [unclosed\n' : ''}`;
}

function writeAtomic(file, text) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

// --- /metrics ------------------------------------------------------------------------------------

/** The series the soak reads, from the Prometheus text. */
function parseMetrics(text) {
  const m = { queries: {}, reloads: {}, holdsEnded: {} };
  let handles = 0; let resources = 0; let malformed = 0; let dropped = 0;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    const key = line.slice(0, sp);
    const value = Number(line.slice(sp + 1));
    const brace = key.indexOf('{');
    const name = brace < 0 ? key : key.slice(0, brace);
    const label = (l) => key.match(new RegExp(`[{,]${l}="([^"]*)"`))?.[1];
    switch (name) {
      case 'process_resident_memory_bytes': m.rssMiB = value / 2 ** 20; break;
      case 'nodejs_heap_size_used_bytes': m.heapMiB = value / 2 ** 20; break;
      case 'nodejs_heap_size_total_bytes': m.heapTotalMiB = value / 2 ** 20; break;
      case 'nodejs_external_memory_bytes': m.externalMiB = value / 2 ** 20; break;
      case 'nodejs_active_handles': handles += value; break;
      case 'nodejs_active_resources': resources += value; break;
      case 'process_open_fds': m.fds = value; break;
      case 'nodejs_eventloop_lag_p99_seconds': m.lagP99Ms = value * 1000; break;
      case 'nodejs_eventloop_lag_max_seconds': m.lagMaxMs = value * 1000; break;
      case 'intentdns_holds_pending': m.holdsPending = value; break;
      case 'intentdns_holds_late': m.holdsLate = value; break;
      case 'intentdns_grants_active': m.grantsActive = value; break;
      case 'intentdns_approval_link_up': m.linkUp = value; break;
      case 'intentdns_cache_entries': m.cacheEntries = value; break;
      case 'intentdns_cache_hits_total': m.cacheHits = value; break;
      case 'intentdns_cache_misses_total': m.cacheMisses = value; break;
      case 'intentdns_log_lines_dropped_total': m.logDropped = value; break;
      case 'intentdns_config_reloads_total': m.reloads[label('result')] = value; break;
      case 'intentdns_holds_total': m.holdsEnded[label('outcome')] = value; break;
      case 'intentdns_malformed_packets_total': malformed += value; break;
      case 'intentdns_dropped_packets_total': dropped += value; break;
      case 'intentdns_kernel_udp_receive_errors_total': if (label('kind') === 'rcvbuf') m.rcvbufErrors = (m.rcvbufErrors ?? 0) + value; break;
      case 'intentdns_queries_total': {
        const r = label('reason');
        m.queries[r] = (m.queries[r] ?? 0) + value;
        break;
      }
      default:
    }
  }
  Object.assign(m, { handles, resources, malformed, droppedPackets: dropped });
  return m;
}

async function scrape(httpPort) {
  const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(3000) });
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  return parseMetrics(await res.text());
}

// --- the approval service fake -------------------------------------------------------------------

class Approval {
  constructor(dir) {
    this.tokenFile = path.join(dir, 'approval.token');
    this.token = crypto.randomBytes(16).toString('hex');
    fs.writeFileSync(this.tokenFile, `${this.token}\n`, { mode: 0o600 });
    this.past = {};        // stats of the processes stopped before (restarts), summed
    this.restarts = 0;
  }

  async start() {
    this.port ??= await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.proc = start('approval service', process.execPath, [path.join(ROOT, 'bench/approval.js'), String(this.port), this.tokenFile,
      '--decide-ms', '50-600', '--deny-every', '4', '--hold-ttl', String(HOLD_TTL_S)]);
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (this.proc.exited) throw new Error(`approval service exited: ${this.proc.stderr.trim().slice(-2000)}`);
      try { await this.stats(); return; } catch { /* not listening yet */ }
      if (Date.now() > deadline) throw new Error(`approval service did not answer on ${this.url}`);
      await sleep(50);
    }
  }

  async call(pathname, body) {
    const res = await fetch(`${this.url}${pathname}`, {
      method: body ? 'POST' : 'GET', headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      ...(body && { body: JSON.stringify(body) }), signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) throw new Error(`approval service ${pathname}: ${res.status}`);
    return res.status === 204 ? null : res.json();
  }

  stats() { return this.call('/bench/stats'); }

  /** Every count so far, over the restarts. */
  async totals() {
    const now = this.proc.exited ? {} : await this.stats().catch(() => ({}));
    const all = { ...this.past };
    for (const [k, v] of Object.entries(now)) if (typeof v === 'number' && k !== 'openStreams') all[k] = (all[k] ?? 0) + v;
    return all;
  }

  /** Stream closed and refused, the process stopped by its PID, then started again on the same port. */
  async restart() {
    await this.call('/bench/flap', { down_ms: 3_600_000 });
    await sleep(1000);
    const s = await this.stats();
    for (const [k, v] of Object.entries(s)) if (typeof v === 'number' && k !== 'openStreams') this.past[k] = (this.past[k] ?? 0) + v;
    await stop(this.proc);
    await sleep(1000);
    this.restarts++;
    await this.start();
  }
}

/** The full GCs of bench/lists-gc.cjs in intentdns: collect() signals one and resolves with its process.memoryUsage(), or null. */
class GcProbe {
  constructor(proc) {
    this.proc = proc;
    this.waiters = [];
    this.count = 0;
    let rest = '';
    proc.child.stderr.on('data', (d) => {
      const lines = (rest + d).split('\n');
      rest = lines.pop().slice(-10_000);
      for (const line of lines) {
        const m = /^lists-gc \d+ (\{.*\})$/.exec(line);
        if (!m) continue;
        this.count++;
        const usage = JSON.parse(m[1]);
        for (const w of this.waiters.splice(0)) w(usage);
      }
    });
  }

  collect(timeoutMs = 3000) {
    if (this.proc.exited) return Promise.resolve(null);
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.waiters.splice(this.waiters.indexOf(done), 1); resolve(null); }, timeoutMs);
      const done = (usage) => { clearTimeout(t); resolve(usage); };
      this.waiters.push(done);
      try { process.kill(this.proc.pid, 'SIGUSR2'); } catch { /* exited */ }
    });
  }
}

// --- the run -------------------------------------------------------------------------------------

const run = new AbortController();
let interrupted = false;
let workDir = null;

async function main() {
  const knotd = which('knotd');
  if (!knotd) {
    console.error('soak: knotd not found: apt-get install -y --no-install-recommends knot (the upstream the bench uses too)');
    process.exit(2);
  }
  if (!fs.existsSync(path.join(ROOT, 'dist/main.js'))) throw new Error('dist/main.js is missing: npm run build (npm run soak does it)');
  let signals = 0;
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, async () => {
      if (++signals === 1) { interrupted = true; console.error(`\nsoak: ${sig}: ending the run early (again to stop at once)`); run.abort(); return; }
      await stopAll();
      if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
      process.exit(130);
    });
  }
  const started = new Date();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intentdns-soak-'));
  workDir = dir;
  try {
    return await soak({ dir, started, knotd });
  } finally {
    await stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
    workDir = null;
  }
}

async function soak({ dir, started, knotd }) {
  console.log(`intentdns soak: ${MINUTES} min after ${SETTLE_S} s of settling, a row every ${SAMPLE_S} s, bulk UDP ${QPS} q/s; reloads every ${RELOAD_MS / 1000} s, ` +
    `link flaps every ${[...new Set(FLAP_MS)].map((x) => x / 1000).join('–')} s, a command approved every ${GRANT_MS / 1000} s; cache.max_entries ${CACHE_ENTRIES}`);
  const knot = await startKnot(dir, { knotd }, null, [{ domain: 'soak.test', records: zone() }], 's0.soak.test');
  const approval = new Approval(dir);
  await approval.start();
  const ports = { port: await freePort(), httpPort: await freePort(), knotPort: knot.port, approvalUrl: approval.url, tokenFile: approval.tokenFile };
  const configFile = path.join(dir, 'intentdns.yaml');
  let gen = 0;
  writeAtomic(configFile, intentdnsConfig(ports, gen));
  // bench/lists-gc.cjs: a full GC on SIGUSR2 and a line with process.memoryUsage() on stderr, for the heap's live size.
  const proxy = start('intentdns', process.execPath, ['--expose-gc', '--require', path.join(ROOT, 'bench/lists-gc.cjs'),
    path.join(ROOT, 'dist/main.js'), 'serve', '--config', configFile], { stdout: 'pipe', cwd: dir });
  const gc = new GcProbe(proxy);
  const reader = new SlowReader(proxy.child.stdout, { pauseMs: PAUSE_MS, longPauseMs: LONG_PAUSE_MS });
  let exitedEarly = null;
  void proxy.exit.then((e) => { if (!run.signal.aborted) { exitedEarly = e; run.abort(); } });
  await waitForDns(ports.port, 'h0.s0.soak.test', proxy);
  for (const deadline = Date.now() + 15_000; ;) {
    const m = await scrape(ports.httpPort).catch(() => null);
    if (m?.linkUp === 1) break;
    if (Date.now() > deadline) throw new Error(`approval link not up within 15 s: ${proxy.stderr.slice(-2000)}`);
    await sleep(100);
  }
  // The cache is filled before the clock starts: the hit names, then other allowed names up to
  // max_entries (50 at a time: the per-client in-flight bound is 100).
  const fill = [...Array.from({ length: HIT_NAMES }, (_, j) => `h${j}.s${j % SUFFIXES}.soak.test`),
    ...Array.from({ length: CACHE_ENTRIES - HIT_NAMES }, (_, j) => `w${j}.s${j % SUFFIXES}.soak.test`)];
  for (let j = 0; j < fill.length; j += 50) await Promise.all(fill.slice(j, j + 50).map((name) => query(ports.port, name)));
  const filled = (await scrape(ports.httpPort)).cacheEntries;

  // --- the load ---
  const hitName = (j) => `h${j}.s${j % SUFFIXES}.soak.test`;
  const mix = new UdpMix({
    port: ports.port, qps: QPS, sources: BULK_SOURCES, sockets: 32, perSocket: 400,
    pick: (n) => {
      const slot = n % 10;
      if (slot < 6) return { kind: 'hit', name: hitName((n * 7) % HIT_NAMES), expect: NOERROR };
      if (slot < 8) return { kind: 'miss', name: `m${n}.s${n % SUFFIXES}.soak.test`, expect: NOERROR };
      if (slot === 8) return { kind: 'deny', name: `b${n % 5000}.deny.soak.test`, expect: NXDOMAIN };
      return { kind: 'unlisted', name: `u${n % 5000}.unlisted.soak.test`, expect: NXDOMAIN };
    },
  });
  const churn = new TcpChurn({
    port: ports.port, sources: TCP_SOURCES, perSecond: 4, maxOpen: 8,
    pick: (q) => (q % 4 === 3 ? { kind: 'miss', name: `t${q}.s${q % SUFFIXES}.soak.test`, expect: NOERROR } : { kind: 'hit', name: hitName(q % HIT_NAMES), expect: NOERROR }),
  });
  const holds = new Holds({ port: ports.port, source: HOLDER, suffix: 'held.soak.test', perSecond: 4 });
  const gens = [];   // command approvals: { k, suffix, approvedAt, expiresAt, revokedAt }
  const grants = new GrantUser({
    port: ports.port, source: GRANTEE, perSecond: 5,
    live: () => { const now = Date.now(); return gens.filter((g) => !g.revokedAt && now - g.approvedAt > 1500 && g.expiresAt - now > 3000).map((g) => g.suffix); },
    revoked: () => { const now = Date.now(); return gens.filter((g) => g.revokedAt && now - g.revokedAt > 1500).map((g) => g.suffix); },
  });
  // The upstream asked directly (not through intentdns), 20 a second with intentdns's 1.5 s timeout:
  // a row in which it did not answer is one whose upstream errors are the upstream's (or the machine's).
  const direct = new UdpMix({ port: knot.port, qps: 20, sources: ['127.0.0.9'], sockets: 2, perSocket: 1000, timeoutMs: 1500,
    pick: (n) => ({ kind: 'direct', name: `d${n}.s0.soak.test`, expect: NOERROR }) });
  const checks = { sent: 0, answered: 0, timeout: 0 };
  const check = async (name) => {
    for (let attempt = 0; attempt < 2; attempt++) {
      checks.sent++;
      const rcode = await query(ports.port, name, { timeoutMs: 2000 });
      if (rcode !== null) { checks.answered++; return rcode; }
      checks.timeout++;
    }
    return null;
  };

  // --- the sampler: a probe every second, a row every SAMPLE_S seconds ---
  let scrapeFailures = 0;
  let last = await scrape(ports.httpPort);
  let first = last;
  let probes = [];
  let cpuBefore = procCpuTicks(proxy.pid);
  // The soak's own event loop: a row in which it was not run for a while (a loaded machine) is marked.
  const ownLag = monitorEventLoopDelay({ resolution: 20 });
  ownLag.enable();
  const pressure = () => Number(fs.readFileSync('/proc/pressure/cpu', 'utf8').match(/total=(\d+)/)?.[1] ?? NaN);
  let pressureBefore = (() => { try { return pressure(); } catch { return NaN; } })();
  const clientCounts = () => {
    const udp = totals(mix.counts.kinds); const tcp = totals(churn.counts.kinds);
    const h = holds.counts; const g = grants.counts;
    return {
      answered: udp.answered + tcp.answered + h.noerror + h.nxdomain + h.servfail + h.other
        + g.granted + g.notGranted + g.revokedBlocked + g.revokedAnswered + g.servfail + checks.answered,
      timeouts: udp.timeouts + tcp.timeouts + h.timeout + g.timeout + checks.timeout,
      servfail: udp.servfail + tcp.servfail + h.servfail + g.servfail,
      wrong: udp.wrong + tcp.wrong + h.other,
      tcpErrors: churn.errors,
      logLines: reader.lines,
      upstreamTimeouts: direct.counts.of('direct').timeout,
    };
  };
  let countsBefore = clientCounts();
  const samples = [];
  let tStart = performance.now();
  // What the soak did when, for reading the rows against (at most 5,000; t from the clock's start).
  const events = [];
  const event = (kind, detail = {}) => { if (events.length < 5000) events.push({ at: performance.now(), kind, ...detail }); };
  let rowStart = tStart;
  const makeRow = (afterGc) => {
    const now = performance.now();
    const seconds = (now - rowStart) / 1000;
    const c = clientCounts();
    const d = Object.fromEntries(Object.keys(c).map((k) => [k, c[k] - countsBefore[k]]));
    countsBefore = c;
    const ms = probes.map((p) => p.m).filter(Boolean);
    const end = ms.at(-1) ?? last;
    const start = samples.length > 0 ? samples.at(-1).end : first;
    const cpu = procCpuTicks(proxy.pid);
    const reasons = {};
    for (const [r, v] of Object.entries(end.queries)) if (v - (start.queries[r] ?? 0) > 0) reasons[r] = v - (start.queries[r] ?? 0);
    const errors = d.timeouts + d.servfail + d.tcpErrors + d.wrong;
    const row = {
      t: Math.round((now - tStart) / 100) / 10,
      rssMiB: median(probes.map((p) => p.vmRss)),
      rssMetricMiB: median(ms.map((m) => m.rssMiB)),
      heapTotalMiB: median(ms.map((m) => m.heapTotalMiB)),
      externalMiB: median(ms.map((m) => m.externalMiB)),
      heapMiB: afterGc ? afterGc.heapUsed / 2 ** 20 : NaN,
      heapMinMiB: Math.min(...ms.map((m) => m.heapMiB)),
      heapMaxMiB: Math.max(...ms.map((m) => m.heapMiB)),
      rssAfterGcMiB: afterGc ? afterGc.rss / 2 ** 20 : NaN,
      handles: median(ms.map((m) => m.handles)),
      resources: median(ms.map((m) => m.resources)),
      fds: median(ms.map((m) => m.fds)),
      procFds: median(probes.map((p) => p.procFds)),
      holdsPending: Math.max(...ms.map((m) => m.holdsPending)),
      holdsLate: end.holdsLate,
      answersPerS: d.answered / seconds,
      errorsPerS: errors / seconds,
      queries: d.answered + d.timeouts,
      errors: errors - d.wrong,     // rate-judged; wrong answers are judged apart (never allowed)
      timeouts: d.timeouts, servfail: d.servfail, tcpErrors: d.tcpErrors, wrong: d.wrong,
      logLines: d.logLines,
      logLinesPerS: d.logLines / seconds,
      logDropped: (end.logDropped ?? 0) - (start.logDropped ?? 0),
      cacheEntries: end.cacheEntries, grantsActive: end.grantsActive,
      linkUp: Math.min(...ms.map((m) => m.linkUp)),
      lagP99Ms: median(ms.map((m) => m.lagP99Ms)),
      lagMaxMs: Math.max(...ms.map((m) => m.lagMaxMs)),
      soakLagMaxMs: ownLag.max / 1e6,
      cpuPressurePct: (() => { try { const p = pressure(); const v = (p - pressureBefore) / 1e4 / seconds; pressureBefore = p; return v; } catch { return NaN; } })(),
      cpuPct: (100 * (cpu - cpuBefore)) / CLK_TCK / seconds,
      reasons,
      probes: probes.length, scrapeFailures: probes.filter((p) => !p.m).length,
      upstreamTimeouts: d.upstreamTimeouts,
      rcvbufErrors: (end.rcvbufErrors ?? 0) - (start.rcvbufErrors ?? 0),
    };
    // Not intentdns's doing: the soak itself not run for over a second, or the upstream not answering it directly.
    row.excluded = row.soakLagMaxMs > 1000 ? 'soak stalled' : row.upstreamTimeouts > 0 ? 'upstream stalled' : null;
    cpuBefore = cpu;
    ownLag.reset();
    Object.defineProperty(row, 'end', { value: end, enumerable: false });
    samples.push(row);
    probes = [];
    rowStart = now;
  };
  let startClock;
  const clockStarted = new Promise((resolve) => { startClock = resolve; });
  const sampler = (async () => {
    await clockStarted;
    let next = performance.now();
    while (!run.signal.aborted) {
      const at = performance.now();
      const p = { at, vmRss: procStatusMiB(proxy.pid, 'VmRSS'), procFds: procFds(proxy.pid), m: null };
      try { p.m = await scrape(ports.httpPort); last = p.m; } catch { scrapeFailures++; }
      probes.push(p);
      if (at - rowStart >= SAMPLE_S * 1000 - 500) makeRow(await gc.collect());
      next += 1000;
      await sleep(Math.max(0, next - performance.now()), run.signal);
    }
  })();

  // --- reloads, flaps, approvals ---
  const reloads = { good: 0, bySignal: 0, sighupFallback: 0, applied: 0, verified: 0, notApplied: 0, unchecked: 0, bad: 0, badRejected: 0, badKept: 0, badApplied: 0, timeouts: 0 };
  const waitReload = async (result, before, ms) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && !run.signal.aborted) {
      if ((last.reloads[result] ?? 0) > before) return true;
      const m = await scrape(ports.httpPort).catch(() => null);
      if (m && (m.reloads[result] ?? 0) > before) return true;
      await sleep(200, run.signal);
    }
    return false;
  };
  // A name's policy outcome: allowed is NOERROR from upstream (SERVFAIL: the upstream failed, no
  // verdict; asked again under a fresh name), sinkholed is NXDOMAIN; no answer twice is null.
  const outcome = async (name) => {
    let rcode = await check(name);
    if (rcode === SERVFAIL) rcode = await check(`r.${name}`);
    return rcode === NOERROR || rcode === NXDOMAIN ? rcode : null;
  };
  const reloadOnce = async (i) => {
    const bad = i % 4 === 2 ? 1 + (reloads.bad % 2) : 0;
    const result = bad ? 'failure' : 'success';
    const counts = (await scrape(ports.httpPort)).reloads;
    const before = counts[result] ?? 0;
    const successes = counts.success ?? 0;
    // A bad config carries the next generation's names: had it been applied, they would answer.
    if (bad) reloads.bad++;
    else { gen++; reloads.good++; }
    writeAtomic(configFile, intentdnsConfig(ports, bad ? gen + 1 : gen, bad));
    const bySignal = !bad && reloads.good % 3 === 0;
    if (bySignal) { reloads.bySignal++; process.kill(proxy.pid, 'SIGHUP'); }
    event(bad ? 'reload-bad' : 'reload', { gen: bad ? gen + 1 : gen, ...(bad && { what: bad === 1 ? 'unknown key' : 'broken YAML' }), ...(bySignal && { sighup: true }) });
    let ok = await waitReload(result, before, 5000);
    if (!ok && !run.signal.aborted) { reloads.sighupFallback++; process.kill(proxy.pid, 'SIGHUP'); ok = await waitReload(result, before, 5000); }
    if (run.signal.aborted) return;
    if (!ok) { reloads.timeouts++; event('reload-not-seen', { gen }); return; }
    if (bad) {
      reloads.badRejected++;
      const kept = await outcome(`k${i}.g${gen}.dyn.soak.test`);
      const notTaken = await outcome(`k${i}.g${gen + 1}.dyn.soak.test`);
      const applied = ((await scrape(ports.httpPort)).reloads.success ?? 0) > successes;
      if (applied || kept === NXDOMAIN || notTaken === NOERROR) { reloads.badApplied++; event('bad-config-applied', { gen, kept, notTaken, applied }); }
      else if (kept === null || notTaken === null) reloads.unchecked++;
      else reloads.badKept++;
    } else {
      reloads.applied++;
      const added = await outcome(`k${i}.g${gen}.dyn.soak.test`);
      const removed = await outcome(`k${i}.g${gen - 1}.dyn.soak.test`);
      if (added === NXDOMAIN || removed === NOERROR) { reloads.notApplied++; event('reload-not-applied', { gen, added, removed }); }
      else if (added === null || removed === null) { reloads.unchecked++; event('reload-unchecked', { gen, added, removed }); }
      else reloads.verified++;
    }
  };
  const flaps = { close: 0, closeAbrupt: 0, down: 0, restart: 0, failed: 0 };
  const flapOnce = async (i) => {
    const kind = ['close', 'down', 'restart'][i % 3];
    event('flap', { what: kind });
    try {
      if (kind === 'restart') { await approval.restart(); flaps.restart++; }
      else if (kind === 'down') { await approval.call('/bench/flap', { down_ms: 3000 }); flaps.down++; }
      else { const abrupt = i % 2 === 1; await approval.call('/bench/flap', { down_ms: 0, abrupt }); flaps[abrupt ? 'closeAbrupt' : 'close']++; }
    } catch (err) {
      flaps.failed++;
      console.error(`soak: flap ${kind}: ${err.message}`);
      if (approval.proc.exited && !run.signal.aborted) await approval.start().catch(() => {});
    }
  };
  const approvals = { approved: 0, revoked: 0, failed: 0 };
  const approveOnce = async (k) => {
    const approvedAt = Date.now();
    const g = { k, suffix: `g${k}.granted.soak.test`, approvedAt, expiresAt: approvedAt + GRANT_LIFE_MS, revokedAt: 0 };
    try {
      await approval.call('/bench/approve', { id: `cmd_g${k}`, agent: 'granted', domains: [`*.${g.suffix}`], expires_at: new Date(g.expiresAt).toISOString() });
      approvals.approved++;
      event('approve', { k });
      gens.push(g);
      const old = gens.find((x) => x.k === k - 3);
      if (old) { await approval.call('/bench/revoke', { id: `cmd_g${old.k}` }); old.revokedAt = Date.now(); approvals.revoked++; }
      while (gens.length > 12) gens.shift();
    } catch {
      approvals.failed++;   // the service restarting: the next one goes through
    }
  };
  const stepFailures = [];
  const every = (msOf, action) => (async () => {
    for (let i = 0; ; i++) {
      await sleep(msOf(), run.signal);
      if (run.signal.aborted) return;
      try {
        await action(i);
      } catch (err) {
        if (run.signal.aborted) return;
        stepFailures.push(String(err.message ?? err));
        console.error(`soak: ${action.name || 'step'} ${i}: ${err.message ?? err}`);
      }
    }
  })();

  await mix.start();
  await direct.start();
  churn.start();
  holds.start();
  grants.start();
  reader.start();
  await approveOnce(0);
  // Settling: the load runs before the clock starts, unsampled, while V8 sizes its heap and the
  // pools and buffers reach their working size (the judge's warm-up comes on top).
  await sleep(SETTLE_S * 1000, run.signal);
  last = first = await scrape(ports.httpPort);
  cpuBefore = procCpuTicks(proxy.pid);
  ownLag.reset();
  try { pressureBefore = pressure(); } catch { /* no PSI */ }
  countsBefore = clientCounts();
  tStart = performance.now();
  rowStart = tStart;
  startClock();
  const loops = [
    every(() => RELOAD_MS, reloadOnce),
    every(() => FLAP_MS[0] + Math.random() * (FLAP_MS[1] - FLAP_MS[0]), flapOnce),
    every(() => GRANT_MS, (i) => approveOnce(i + 1)),
  ];
  const timer = setTimeout(() => run.abort(), RUN_MS);
  await new Promise((resolve) => run.signal.addEventListener('abort', resolve, { once: true }));
  clearTimeout(timer);
  const ranMs = performance.now() - tStart;

  // --- the end ---
  await Promise.all([mix.stop(), direct.stop(), churn.stop(), holds.stop(), grants.stop(), ...loops]);
  await sampler;
  if (!exitedEarly && performance.now() - rowStart >= SAMPLE_S * 500 && probes.length > 0) makeRow(await gc.collect());
  const final = exitedEarly ? last : await scrape(ports.httpPort).catch(() => last);
  const service = await approval.totals();
  const peakRssMiB = procStatusMiB(proxy.pid, 'VmHWM');
  reader.stop();
  let exit = exitedEarly;
  if (!exit) {
    await stop(proxy);
    exit = await proxy.exit;
  }

  const udp = totals(mix.counts.kinds);
  const tcp = totals(churn.counts.kinds);
  const reasonTotal = (r) => (final.queries[r] ?? 0) - (first.queries[r] ?? 0);
  const unexpected = {
    wrong_answer: udp.wrong + tcp.wrong + holds.counts.other,
    hold_grant_lost: holds.counts.lost,
    reload_not_applied: reloads.notApplied,
    bad_config_applied: reloads.badApplied,
    reload_timeout: reloads.timeouts,
    metrics_scrape_failed: scrapeFailures,
    gc_probe_unanswered: samples.filter((x) => !Number.isFinite(x.heapMiB)).length,
    intentdns_exited: exitedEarly ? 1 : 0,
    intentdns_exit_not_clean: !exitedEarly && exit?.code !== 0 ? 1 : 0,
    soak_step_failed: stepFailures.length,
    approval_unauthorized: service.unauthorized ?? 0,
    approval_bad_requests: service.badRequests ?? 0,
    ...Object.fromEntries(UNEXPECTED_REASONS.map((r) => [`reason_${r}`, reasonTotal(r)])),
  };
  const judged = judgeSoak({ samples, unexpected });
  const load = {
    ranSeconds: ranMs / 1000,
    udp: { ...mix.counts.kinds, socketsOpened: mix.socketsOpened, sources: BULK_SOURCES.length },
    tcp: { ...churn.counts.kinds, connections: churn.connections, modes: churn.modes, errors: churn.errors, idleClosedByServer: churn.idleClosedByServer, idleNotClosed: churn.idleNotClosed },
    holds: holds.counts,
    grants: { ...grants.counts, ...approvals },
    reloads,
    flaps: { ...flaps, reconnects: Math.max(0, (service.streams ?? 0) - 1), resumed: service.resumed ?? 0, replayed: service.replayed ?? 0, refusedWhileDown: service.refusedDown ?? 0 },
    log: { linesRead: reader.lines, bytesRead: reader.bytes, pauses: reader.pauses, longPauses: reader.longPauses, pausedSeconds: reader.pausedMs / 1000, stallNotices: reader.stallNotices, droppedByProxy: (final.logDropped ?? 0) - (first.logDropped ?? 0) },
    checks,
    upstreamDirect: direct.counts.of('direct'),
    rowsLeftOut: { soakStalled: samples.filter((x) => x.excluded === 'soak stalled').length, upstreamStalled: samples.filter((x) => x.excluded === 'upstream stalled').length },
    stepFailures: stepFailures.slice(0, 20),
    events: events.map(({ at, ...e }) => ({ t: Math.round((at - tStart) / 100) / 10, ...e })),
    service,
  };
  const server = {
    reasons: Object.fromEntries(Object.keys(final.queries).map((r) => [r, reasonTotal(r)]).filter(([, v]) => v > 0)),
    cacheHits: final.cacheHits - first.cacheHits, cacheMisses: final.cacheMisses - first.cacheMisses,
    holdsEnded: Object.fromEntries(Object.entries(final.holdsEnded).map(([k, v]) => [k, v - (first.holdsEnded[k] ?? 0)])),
    reloads: Object.fromEntries(Object.entries(final.reloads).map(([k, v]) => [k, v - (first.reloads[k] ?? 0)])),
    malformed: final.malformed - first.malformed, droppedPackets: final.droppedPackets - first.droppedPackets,
    peakRssMiB,
    exit,
  };

  printReport({ samples, load, server, judged, exit, interrupted });
  const doc = {
    date: started.toISOString(),
    command: `npm run soak -- ${argv.join(' ')}`.trim(),
    commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() || null,
    machine: { nproc: os.availableParallelism?.() ?? os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', kernel: os.release(), loadavg: os.loadavg(), node: process.version },
    options: { minutes: MINUTES, sampleSeconds: SAMPLE_S, settleSeconds: SETTLE_S, qps: QPS, reloadSeconds: RELOAD_MS / 1000, flapSeconds: FLAP_MS.map((x) => x / 1000), grantSeconds: GRANT_MS / 1000, hitNames: HIT_NAMES, cacheEntries: CACHE_ENTRIES, cacheFilled: filled, warmup: WARMUP },
    interrupted,
    pass: judged.pass && !interrupted,
    verdicts: judged.verdicts,
    unexpected,
    load,
    server,
    samples,
  };
  const out = JSON_FILE ? path.resolve(JSON_FILE)
    : path.join(ROOT, 'bench/results', `${started.toISOString().replace(/:\d\d\.\d+Z$/, 'Z').replace(/:/g, '-')}-soak.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(doc, null, 2) + '\n');
  console.log(`\nresults: ${path.relative(process.cwd(), out)}`);
  if (interrupted) return 130;
  return judged.pass ? 0 : 1;
}

// --- report --------------------------------------------------------------------------------------

const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '—');

/** Rows of a minute each (when there are more than 30 samples): medians, sums and means. */
function perMinute(samples) {
  if (samples.length <= 30) return samples;
  const groups = new Map();
  for (const s of samples) {
    const k = Math.ceil(s.t / 60 - 1e-9);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(s);
  }
  return [...groups.values()].map((g) => {
    const mean = (key) => g.reduce((a, s) => a + s[key], 0) / g.length;
    const sum = (key) => g.reduce((a, s) => a + s[key], 0);
    const at = g[g.length - 1];
    return {
      t: at.t, rssMiB: median(g.map((s) => s.rssMiB)), heapMiB: median(g.map((s) => s.heapMiB)), handles: median(g.map((s) => s.handles)),
      fds: median(g.map((s) => s.fds)), answersPerS: mean('answersPerS'), errorsPerS: mean('errorsPerS'), holdsPending: Math.max(...g.map((s) => s.holdsPending)),
      logLinesPerS: mean('logLinesPerS'), logDropped: sum('logDropped'), cacheEntries: at.cacheEntries, grantsActive: at.grantsActive,
      linkUp: Math.min(...g.map((s) => s.linkUp)), cpuPct: mean('cpuPct'),
      lagMaxMs: Math.max(...g.map((s) => s.lagMaxMs)), soakLagMaxMs: Math.max(...g.map((s) => s.soakLagMaxMs)),
      upstreamTimeouts: g.reduce((x, s) => x + s.upstreamTimeouts, 0),
    };
  });
}

function printReport({ samples, load, server, judged, exit, interrupted: early }) {
  const rows = perMinute(samples);
  const cols = [
    ['t s', (r) => `${f(r.t)}${r.soakLagMaxMs > 1000 ? '*' : r.upstreamTimeouts > 0 ? '+' : ''}`], ['RSS MiB', (r) => f(r.rssMiB, 1)], ['heap MiB', (r) => f(r.heapMiB, 1)], ['handles', (r) => f(r.handles)],
    ['fds', (r) => f(r.fds)], ['answers/s', (r) => f(r.answersPerS)], ['errors/s', (r) => f(r.errorsPerS, 2)], ['holds', (r) => f(r.holdsPending)],
    ['log lines/s', (r) => f(r.logLinesPerS)], ['log dropped', (r) => f(r.logDropped)], ['cache', (r) => f(r.cacheEntries)],
    ['grants', (r) => f(r.grantsActive)], ['link', (r) => (r.linkUp === 1 ? 'up' : 'flap')], ['cpu %', (r) => f(r.cpuPct, 1)], ['lag ms', (r) => f(r.lagMaxMs)],
  ];
  console.log(`\n${rows === samples ? `one row per ${SAMPLE_S} s sample` : 'one row per minute'} (RSS: median of VmRSS; heap: heap used right after a full GC; handles, fds: medians; holds: most pending; link: down at some probe = flap; cpu, lag: intentdns's CPU and longest event-loop delay; * the soak itself was not run for over 1 s, + the upstream did not answer the soak directly: rows left out of the error verdict)`);
  console.log(cols.map(([h]) => h.padStart(Math.max(7, h.length + 1))).join(''));
  for (const r of rows) console.log(cols.map(([h, fn]) => fn(r).padStart(Math.max(7, h.length + 1))).join(''));

  const k = load.udp;
  const kind = (x) => (x ? `${x.sent} sent, ${x.ok} right, ${x.timeout} timed out, ${x.servfail} SERVFAIL, ${x.wrong} wrong` : '—');
  console.log(`\nload over ${f(load.ranSeconds)} s (and the ${SETTLE_S} s of settling before):`);
  console.log(`  UDP hits      ${kind(k.hit)}`);
  console.log(`  UDP misses    ${kind(k.miss)}`);
  console.log(`  UDP denied    ${kind(k.deny)}`);
  console.log(`  UDP unlisted  ${kind(k.unlisted)}`);
  console.log(`  UDP sockets   ${k.socketsOpened} opened over ${k.sources} source addresses`);
  const t = load.tcp;
  console.log(`  TCP           ${t.connections} connections (${Object.entries(t.modes).map(([m, n]) => `${m} ${n}`).join(', ')}); queries: hits ${kind(t.hit)}; misses ${kind(t.miss)}; ` +
    `${t.errors} connection errors, ${t.idleClosedByServer} idle ones closed by intentdns`);
  const h = load.holds;
  console.log(`  holds         ${h.sent} asked: ${h.noerror} NOERROR, ${h.nxdomain} NXDOMAIN, ${h.servfail} SERVFAIL, ${h.timeout} timed out; ${h.retries} retries, ${h.retryOk} of the approved answered by their grant, ${h.lost} not`);
  console.log(`                intentdns: ${Object.entries(server.holdsEnded).map(([o, n]) => `${o} ${n}`).join(', ')}`);
  const g = load.grants;
  console.log(`  grants        ${g.approved} commands approved, ${g.revoked} revoked; ${g.granted} answers by grant, ${g.notGranted} sinkholed (not yet or no longer granted), ` +
    `revoked names ${g.revokedBlocked} sinkholed / ${g.revokedAnswered} answered; ${g.timeout} timed out`);
  const r = load.reloads;
  console.log(`  reloads       ${r.applied} applied of ${r.good} (${r.verified} checked by query, ${r.notApplied} not applied, ${r.bySignal} by SIGHUP, ${r.sighupFallback} SIGHUP after the watch missed), ` +
    `${r.badRejected} bad configs rejected of ${r.bad} (${r.badKept} checked: old config kept; ${r.badApplied} applied), ${r.unchecked} checks without an answer, ${r.timeouts} reloads not seen; ` +
    `intentdns: ${Object.entries(server.reloads).map(([o, n]) => `${o} ${n}`).join(', ')}`);
  const fl = load.flaps;
  console.log(`  link flaps    ${fl.close + fl.closeAbrupt} closed (${fl.closeAbrupt} abruptly), ${fl.down} refused for 3 s, ${fl.restart} restarts of the service; ` +
    `${fl.reconnects} reconnects (${fl.resumed} resumed with Last-Event-ID, ${fl.replayed} events replayed, ${fl.refusedWhileDown} refused while down)`);
  const l = load.log;
  console.log(`  log reader    ${l.linesRead} lines (${f(l.bytesRead / 2 ** 20, 1)} MiB) read, ${l.pauses} pauses (${l.longPauses} long) for ${f(l.pausedSeconds)} s; ` +
    `intentdns dropped ${l.droppedByProxy} lines, ${l.stallNotices} "not keeping up" notices read`);
  const u = load.upstreamDirect;
  console.log(`  upstream      asked directly ${u.sent} times, ${u.timeout} unanswered in 1.5 s; rows left out of the error verdict: ${load.rowsLeftOut.soakStalled} soak stalled, ${load.rowsLeftOut.upstreamStalled} upstream stalled`);
  console.log(`  intentdns     reasons: ${Object.entries(server.reasons).map(([x, n]) => `${x} ${n}`).join(', ')}; cache hits ${server.cacheHits}, misses ${server.cacheMisses}; ` +
    `malformed ${server.malformed}, dropped ${server.droppedPackets}; peak RSS ${f(server.peakRssMiB)} MiB; exit ${exit?.code ?? exit?.signal}`);

  console.log(`\nverdicts (after a warm-up of the first ${WARMUP * 100} % of the run):`);
  for (const [name, v] of Object.entries(judged.verdicts)) console.log(`  ${name.padEnd(13)} ${v.verdict.toUpperCase().padEnd(5)} ${v.reason}`);
  console.log(`\nsoak: ${early ? 'INTERRUPTED' : judged.pass ? 'PASS' : 'FAIL'}`);
}

main().then((code) => process.exit(code)).catch(async (err) => {
  console.error(`soak: ${err.stack ?? err}`);
  await stopAll();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  process.exit(1);
});
