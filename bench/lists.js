// npm run bench -- --lists [--sizes 10000,100000,1000000] [--reload-sizes N,…] [--cpu-prof DIR]
//
// Allowlists at scale and memory (issue 10), run from bench/run.js's main() with its helpers:
//
// - For allowlists of 10k, 100k and 1M names (half exact `h<i>.lists.test`, half wildcards
//   `*.w<i>.lists.test`) and, as the baseline, the same config with `allow: []`: one fresh
//   `node dist/main.js serve` each, pinned like run.js's targets. Load time = spawn to first answer
//   (run.js's waitForDns, 100 ms polls). Memory = VmRSS 1 s after the first answer, VmHWM, and
//   VmRSS after a full GC (bench/lists-gc.cjs, preloaded with --expose-gc, does one on SIGUSR2);
//   bytes per name = (RSS − the empty list's RSS) ÷ N. Lookup cost = core µs per query
//   (utime + stime from /proc/PID/stat ÷ answers) over 5 s of dnsperf at maximum rate on 10,000
//   allowed names spread over the whole list, all cached by one pass before.
// - Reload stall, at every size (--reload-sizes to choose): a probe in this process (one socket,
//   2,000 q/s of those cached names) records each answer's arrival (process.hrtime.bigint());
//   after 3 s the config is replaced by rename with the same list plus `added.lists.test` (written
//   beforehand, so this process does not pause to write 30 MB); serve's file watch reloads it (SIGHUP only if the server has not
//   started working on it within 5 s). Reported: the longest gap between consecutive answers from
//   the rename to the `config reloaded` line, in the 3 s before, and in the 5 s after; whether it
//   applied (the log line, and added.lists.test NXDOMAIN before, NOERROR after). When the largest
//   list's is over 50 ms, that reload runs again under `node --cpu-prof` and says where the samples
//   of its longest gap went (the main thread's: the parse worker runs without the profiler).
// - Memory goal: a 100k-name list and 200,000 distinct cached answers (`c<j>.w<i>.lists.test`,
//   each asked once by dnsperf, Knot answering from `*.lists.test`), cache.max_entries 200000 and
//   cache.max_bytes 256MiB (the defaults, 50,000 and 64 MiB, hold about 50k such answers); peak RSS
//   (VmHWM) against 250 MiB.
//
// Knot serves one more zone for this, lists.test, whose `*` answers every name below it. Writes
// bench/results/<date>-lists.json. Every process is started through run.js's start() (stopped by
// PID, also on failure and SIGINT); every load is bounded in count and time.
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DEFAULT_SIZES = '10000,100000,1000000';   // --sizes; --reload-sizes (default: all of them) reload; the profile uses the largest
const MEMORY_N = 100_000;
const CACHED = 200_000;
const MEMORY_CACHE = '{ max_entries: 200000, max_bytes: 256MiB }';
const LOOKUP_NAMES = 10_000;
const LOOKUP_SECONDS = 5;
const PROBE_QPS = 2000;
const QUIET_MS = 3000;
const AFTER_MS = 5000;
const STALL_GOAL_MS = 50;
const RSS_GOAL_MIB = 250;
const LOAD_TIMEOUT_MS = 240_000;     // a 1M list takes ≈ 45 s on the 2 shared cores this was written on
const RELOAD_TIMEOUT_MS = 240_000;
const ADDED = 'added.lists.test';
const GC_PRELOAD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lists-gc.cjs');
const ZONE = {
  domain: 'lists.test',
  records: ['$ORIGIN lists.test.', '$TTL 3600', '@ SOA ns.lists.test. hostmaster.lists.test. 1 3600 600 86400 3600',
    '@ NS ns', 'ns A 198.51.100.1', '* A 198.51.100.7'],
};

const MiB = 2 ** 20;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const nsToMs = (ns) => Number(ns) / 1e6;
const kName = (n) => (n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}k` : String(n));

/** Rule i of a list: even i an exact name, odd i a wildcard. */
const ruleOf = (i) => (i % 2 === 0 ? `h${i}.lists.test` : `*.w${i}.lists.test`);

/** The j-th of m allowed names asked, spread over the whole list of n (n even): even j an exact rule's name, odd j a name below a wildcard. */
function askedName(j, m, n) {
  const i = Math.floor((j * n) / m);
  return j % 2 === 0 ? `h${i - (i % 2)}.lists.test` : `q${j}.w${i | 1}.lists.test`;
}

function listsConfig({ port, httpPort, knotPort, n, extra = [], cache }) {
  const lines = new Array(n + extra.length);
  for (let i = 0; i < n; i++) lines[i] = `      - "${ruleOf(i)}"`;
  extra.forEach((x, k) => { lines[n + k] = `      - "${x}"`; });
  return `version: 1
listen: { dns: ["127.0.0.1:${port}"], http: "127.0.0.1:${httpPort}" }
upstreams: { servers: ["127.0.0.1:${knotPort}"], timeout: 1500ms }
${cache ? `cache: ${cache}\n` : ''}log: { level: info, queries: none }
# dnsperf keeps -q 100 queries in flight from one address: the default of 100 would be the limit.
limits: { in_flight_per_client: 1000 }
clients:
  - { name: bench, match: ["127.0.0.0/8"], role: bench }
roles:
  bench:
    unlisted: sinkhole
    allow:${lines.length === 0 ? ' []' : `\n${lines.join('\n')}`}
`;
}

function procStatus(pid) {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(text.match(new RegExp(`${key}:\\s+(\\d+) kB`))?.[1]) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

export async function listsBench({ dir, tools, pin, started, helpers: h }) {
  const SIZES = h.option('sizes', DEFAULT_SIZES).split(',').map(Number);
  if (!SIZES.every((n) => Number.isInteger(n) && n >= 2 && n % 2 === 0 && n <= 2_000_000)) throw new Error('--sizes: even numbers of names, 2..2000000');
  const RELOAD_N = Math.max(...SIZES);
  const RELOADS = h.option('reload-sizes', SIZES.join(',')).split(',').map(Number);
  if (!RELOADS.every((n) => SIZES.includes(n))) throw new Error('--reload-sizes: some of --sizes');
  const nproc = os.availableParallelism?.() ?? os.cpus().length;   // before this process is pinned to one core
  const t0 = Date.now();
  const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
  // This process (the probe) beside dnsperf and Knot, off the server's core, as run.js --firewall does.
  if (pin) spawnSync('taskset', ['-a', '-pc', pin.load, String(process.pid)]);
  console.log(`intentdns lists bench: allowlists of ${SIZES.map(kName).join(', ')} names; ` +
    (pin ? `server on core ${pin.server}, dnsperf, Knot and the probe on core ${pin.load}` : 'one core: nothing pinned'));
  const knot = await h.startKnot(dir, tools, pin, [ZONE]);
  const ctx = { dir, tools, pin, h, knotPort: knot.port };

  const rows = [];
  const baseline = await measureList(ctx, 0);
  rows.push(baseline);
  printRow(baseline, baseline, elapsed());
  const reloads = [];
  let profile = null;
  for (const n of SIZES) {
    const row = await measureList(ctx, n, RELOADS.includes(n) ? async (srv, names) => { reloads.push(await reloadStall(ctx, srv, n, names)); } : null);
    rows.push(row);
    printRow(row, baseline, elapsed());
    if (reloads.at(-1)?.n === n) printReload(reloads.at(-1), elapsed());
  }
  // The largest list's: what the docs and the profile are about.
  const reload = reloads.find((r) => r.n === RELOAD_N) ?? null;
  if (reload && !(reload.longestGapMs <= STALL_GOAL_MS)) {
    console.log(`  the longest gap is over ${STALL_GOAL_MS} ms: the ${kName(RELOAD_N)} reload again, under node --cpu-prof`);
    profile = await profiledReload(ctx, RELOAD_N);
    printProfile(profile, elapsed());
  }
  const memory = await memoryGoal(ctx);
  printMemory(memory, elapsed());

  printTable(rows, baseline, reloads, profile, memory);
  const out = writeListsResults({ started, nproc, tools, pin, h, rows, baseline, reload, reloads, profile, memory, seconds: (Date.now() - t0) / 1000 });
  console.log(`\nresults: ${path.relative(process.cwd(), out)}`);
}

// --- one server ------------------------------------------------------------------------------

async function startServer(ctx, { label, n, cache, prof }) {
  const { h, pin, dir } = ctx;
  const port = await h.freePort();
  const httpPort = await h.freePort();
  const tdir = fs.mkdtempSync(path.join(dir, 'lists-'));
  const config = path.join(tdir, 'intentdns.yaml');
  const text = listsConfig({ port, httpPort, knotPort: ctx.knotPort, n, cache });
  fs.writeFileSync(config, text);
  const logFile = path.join(tdir, 'intentdns.ndjson');
  const stdout = fs.openSync(logFile, 'w');
  const nodeArgs = ['--expose-gc', '--require', GC_PRELOAD,
    ...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof.dir, '--cpu-prof-name', prof.name] : []),
    path.join(h.ROOT, 'dist/main.js'), 'serve', '--config', config];
  const [cmd, args] = h.pinned(pin, pin?.server, process.execPath, nodeArgs);
  const spawnedAt = process.hrtime.bigint();
  const proc = h.start(`intentdns (${label})`, cmd, args, { stdout, cwd: tdir });
  fs.closeSync(stdout);
  await h.waitForDns(port, 'h0.lists.test', proc, LOAD_TIMEOUT_MS);
  return { port, httpPort, proc, tdir, config, logFile, cache, n, configBytes: Buffer.byteLength(text),
    loadMs: nsToMs(process.hrtime.bigint() - spawnedAt) };
}

async function stopServer(ctx, srv, graceMs = 3000) {
  if (graceMs <= 3000) await ctx.h.stop(srv.proc);
  else {
    // The profiled process writes its profile as it exits: more time before SIGKILL than run.js's stop() gives.
    try { process.kill(srv.proc.pid, 'SIGTERM'); } catch { /* gone */ }
    const t = setTimeout(() => { try { process.kill(srv.proc.pid, 'SIGKILL'); } catch { /* gone */ } }, graceMs);
    await srv.proc.exit;
    clearTimeout(t);
  }
  fs.rmSync(srv.tdir, { recursive: true, force: true });
}

/** A full GC in the server (bench/lists-gc.cjs), then its RSS once V8 has had time to hand freed pages back. */
async function afterFullGc(srv) {
  const count = () => (srv.proc.stderr.match(/^lists-gc \d+ .*$/gm) ?? []);
  const before = count().length;
  process.kill(srv.proc.pid, 'SIGUSR2');
  const deadline = Date.now() + 60_000;
  while (count().length <= before) {
    if (srv.proc.exited || Date.now() > deadline) throw new Error(`${srv.proc.name}: no answer to SIGUSR2 (full GC): ${srv.proc.stderr.slice(-500)}`);
    await sleep(50);
  }
  const usage = JSON.parse(count().at(-1).replace(/^lists-gc \d+ /, ''));
  await sleep(1000);
  return { rss: procStatus(srv.proc.pid).rss, heapUsed: usage.heapUsed, external: usage.external + usage.arrayBuffers };
}

async function scrape(httpPort) {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const one = (name) => Number(text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm'))?.[1]);
  const gc = (kind) => Number(text.match(new RegExp(`^nodejs_gc_duration_seconds_sum\\{kind="${kind}"\\} (\\S+)$`, 'm'))?.[1] ?? 0);
  return {
    cacheEntries: one('intentdns_cache_entries'), cacheBytes: one('intentdns_cache_bytes'),
    heapUsed: one('nodejs_heap_size_used_bytes'),
    // monitorEventLoopDelay's max since the last scrape (prom-client resets it on each one).
    eventLoopLagMaxMs: one('nodejs_eventloop_lag_max_seconds') * 1000,
    gcSeconds: { major: gc('major'), minor: gc('minor'), incremental: gc('incremental'), weakcb: gc('weakcb') },
  };
}

/** One query, its rcode (or null after 2 s). */
async function ask(h, port, name) {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  try {
    return await new Promise((resolve) => {
      const t = setTimeout(() => resolve(null), 2000);
      sock.once('message', (msg) => { clearTimeout(t); resolve(['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'][msg[3] & 0xf] ?? String(msg[3] & 0xf)); });
      sock.send(h.encodeQuery(0x4242, name), port, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}

// --- lists at 10k / 100k / 1M --------------------------------------------------------------

async function measureList(ctx, n, during) {
  const { h, tools, pin } = ctx;
  const srv = await startServer(ctx, { label: `${kName(n)} names`, n });
  try {
    await sleep(1000);
    const afterLoad = procStatus(srv.proc.pid);
    const gc = await afterFullGc(srv);
    const row = { n, configBytes: srv.configBytes, loadMs: srv.loadMs, rssAfterLoad: afterLoad.rss, hwmAfterLoad: afterLoad.hwm,
      rssAfterGc: gc.rss, heapUsedAfterGc: gc.heapUsed };
    if (n > 0) {
      const names = Array.from({ length: LOOKUP_NAMES }, (_, j) => askedName(j, LOOKUP_NAMES, n));
      const file = path.join(srv.tdir, 'names.txt');
      fs.writeFileSync(file, names.map((x) => `${x} A`).join('\n') + '\n');
      const common = { tools, pin, port: srv.port, tdir: srv.tdir, file };
      const warm = await h.dnsperf({ ...common, seconds: 30, maxRuns: 1 });   // each name once: all cached
      const before = h.procCpuTicks(srv.proc.pid);
      const r = await h.dnsperf({ ...common, seconds: LOOKUP_SECONDS });
      const after = h.procCpuTicks(srv.proc.pid);
      const m = await scrape(srv.httpPort);
      row.lookup = {
        qps: r.qps, completed: r.completed, lost: r.lost, rcodes: r.rcodes, warmRcodes: warm.rcodes, command: r.command,
        cpuSeconds: (after - before) / h.CLK_TCK, coreUsPerQuery: (((after - before) / h.CLK_TCK) * 1e6) / r.completed,
        cacheEntries: m.cacheEntries,
      };
      if (!r.rcodes.startsWith('NOERROR') || r.rcodes.includes(',')) console.warn(`  warning: ${kName(n)}: lookups answered ${r.rcodes}`);
      if (during) await during(srv, names);
    }
    row.hwmAtEnd = procStatus(srv.proc.pid).hwm;
    return row;
  } finally {
    await stopServer(ctx, srv);
  }
}

// --- reload stall ------------------------------------------------------------------------------

/**
 * A probe at `rate` q/s from one socket, cycling over `names`, recording when each answer arrives;
 * it stops by itself after `maxMs`.
 */
async function startProbe(h, { port, names, rate, maxMs }) {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const arrivals = [];   // process.hrtime.bigint() of each answer
  let notNoerror = 0;
  let sent = 0;
  sock.on('message', (msg) => {
    arrivals.push(process.hrtime.bigint());
    if ((msg[3] & 0xf) !== 0) notNoerror++;
  });
  const t0 = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - t0 > maxMs) { clearInterval(timer); return; }
    while (sent < ((now - t0) / 1000) * rate) {
      sock.send(h.encodeQuery(sent & 0xffff, names[sent % names.length]), port, '127.0.0.1');
      sent++;
    }
  }, 1);
  return {
    async stop() {
      clearInterval(timer);
      const end = process.hrtime.bigint();
      await sleep(500);   // answers still on their way
      sock.close();
      return { arrivals, sent, notNoerror, end };
    },
  };
}

/** The longest interval between consecutive answers that overlaps [from, to] (a silence running past the last answer counts up to `end`). */
function longestGap(arrivals, from, to, end) {
  let best = { ms: 0, startNs: null, endNs: null };
  let answers = 0;
  for (let k = 1; k < arrivals.length; k++) {
    const a = arrivals[k - 1]; const b = arrivals[k];
    if (b < from) continue;
    if (a > to) break;
    if (b <= to) answers++;
    const ms = nsToMs(b - a);
    if (ms > best.ms) best = { ms, startNs: a, endNs: b };
  }
  const last = arrivals.at(-1);
  if (last !== undefined && last < to && nsToMs(end - last) > best.ms) best = { ms: nsToMs(end - last), startNs: last, endNs: end, open: true };
  return { ...best, answers };
}

function reloadLine(logFile) {
  for (const line of fs.readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.includes('config reload')) continue;
    try {
      const j = JSON.parse(line);
      if (j.msg === 'config reloaded' || j.msg?.startsWith('config reload failed')) return j;
    } catch { /* a line being written */ }
  }
  return null;
}

async function reloadStall(ctx, srv, n, names) {
  const { h } = ctx;
  // Written before the probe starts: 30 MB written from this process would pause the probe's own loop.
  const nextFile = `${srv.config}.next`;
  fs.writeFileSync(nextFile, listsConfig({ port: srv.port, httpPort: srv.httpPort, knotPort: ctx.knotPort, n, extra: [ADDED], cache: srv.cache }));
  const addedBefore = await ask(h, srv.port, ADDED);
  await scrape(srv.httpPort);   // resets the server's event-loop delay histogram
  const probe = await startProbe(h, { port: srv.port, names, rate: PROBE_QPS, maxMs: QUIET_MS + RELOAD_TIMEOUT_MS + AFTER_MS + 10_000 });
  await sleep(QUIET_MS);
  const triggerWall = Date.now();
  const trigger = process.hrtime.bigint();
  const cpuAtTrigger = h.procCpuTicks(srv.proc.pid);
  fs.renameSync(nextFile, srv.config);   // serve's watch sees the directory entry change
  let line = null;
  let sighup = false;
  while (line === null && nsToMs(process.hrtime.bigint() - trigger) < RELOAD_TIMEOUT_MS) {
    await sleep(20);
    line = reloadLine(srv.logFile);
    if (line === null && !sighup && nsToMs(process.hrtime.bigint() - trigger) > 5000 &&
        (h.procCpuTicks(srv.proc.pid) - cpuAtTrigger) / h.CLK_TCK < 0.5) {
      // Not working on it after 5 s: the watch missed the rename.
      sighup = true;
      process.kill(srv.proc.pid, 'SIGHUP');
    }
  }
  const seen = process.hrtime.bigint();
  await sleep(AFTER_MS);
  const p = await probe.stop();
  const addedAfter = await ask(h, srv.port, ADDED);
  const m = await scrape(srv.httpPort);
  const rel = (ns) => (ns === null ? null : nsToMs(ns - trigger));
  const during = longestGap(p.arrivals, trigger, seen, p.end);
  const quiet = longestGap(p.arrivals, trigger - BigInt(QUIET_MS - 200) * 1_000_000n, trigger, p.end);
  const after = longestGap(p.arrivals, seen, seen + BigInt(AFTER_MS) * 1_000_000n, p.end);
  return {
    n, added: ADDED, probeQps: PROBE_QPS, sent: p.sent, answered: p.arrivals.length, notNoerror: p.notNoerror,
    applied: line?.msg === 'config reloaded', logLine: line, sighupFallback: sighup,
    // The server's own clock: rename → its `config reloaded` line (the watch's 250 ms debounce included).
    serverReloadMs: line?.time ? line.time - triggerWall : null,
    seenAfterMs: nsToMs(seen - trigger),
    addedBefore, addedAfter,
    longestGapMs: during.ms, gapFromMs: rel(during.startNs), gapToMs: rel(during.endNs),
    answersDuring: during.answers, quietLongestGapMs: quiet.ms, afterLongestGapMs: after.ms,
    afterGapFromMs: rel(after.startNs),
    serverEventLoopLagMaxMs: m.eventLoopLagMaxMs, gcSecondsTotal: m.gcSeconds, heapUsedAfter: m.heapUsed,
    hwmAfter: procStatus(srv.proc.pid).hwm,
    window: { startNs: during.startNs, endNs: during.endNs, triggerNs: trigger, seenNs: seen },
  };
}

async function profiledReload(ctx, RELOAD_N) {
  const { h, tools, pin } = ctx;
  const keep = h.option('cpu-prof', null);
  const profDir = keep ? path.resolve(keep) : fs.mkdtempSync(path.join(ctx.dir, 'prof-'));
  fs.mkdirSync(profDir, { recursive: true });
  const name = `lists-reload-${process.pid}.cpuprofile`;
  const srv = await startServer(ctx, { label: `${kName(RELOAD_N)} names, --cpu-prof`, n: RELOAD_N, prof: { dir: profDir, name } });
  let r;
  try {
    const names = Array.from({ length: LOOKUP_NAMES }, (_, j) => askedName(j, LOOKUP_NAMES, RELOAD_N));
    const file = path.join(srv.tdir, 'names.txt');
    fs.writeFileSync(file, names.map((x) => `${x} A`).join('\n') + '\n');
    await h.dnsperf({ tools, pin, port: srv.port, tdir: srv.tdir, file, seconds: 30, maxRuns: 1 });
    r = await reloadStall(ctx, srv, RELOAD_N, names);
  } finally {
    await stopServer(ctx, srv, 60_000);
  }
  const file = path.join(profDir, name);
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
  // V8's profile clock and process.hrtime are both CLOCK_MONOTONIC (µs and ns).
  const fromUs = Number(r.window.startNs / 1000n); const toUs = Number(r.window.endNs / 1000n);
  const summary = profileSummary(prof, fromUs, toUs, h.ROOT);
  if (!keep) fs.rmSync(profDir, { recursive: true, force: true });
  return { longestGapMs: r.longestGapMs, applied: r.applied, serverReloadMs: r.serverReloadMs, kept: keep ? file : null, ...summary };
}

/** Where the samples between fromUs and toUs went: by phase of the reload (exclusive) and by function (self time). */
function profileSummary(prof, fromUs, toUs, root) {
  const nodes = new Map(prof.nodes.map((x) => [x.id, x]));
  const parent = new Map();
  for (const x of prof.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const times = [];
  let t = prof.startTime;
  for (const d of prof.timeDeltas) { t += d; times.push(t); }
  // "functionName file" per frame, leaf first.
  const stackNames = (id) => {
    const out = [];
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const { functionName, url } = nodes.get(at).callFrame;
      out.push(`${functionName} ${url.slice(url.lastIndexOf('/') + 1)}`);
    }
    return out;
  };
  const has = (s, fn, file = '') => s.some((x) => x.startsWith(`${fn} `) && x.endsWith(file));
  // Exclusive phases, first match wins: what the sampled stack is inside. A reload parses in a
  // worker thread (not profiled); what runs on the main thread resumes from awaits, so each of
  // its phases is named by the function a slice runs in.
  const PHASES = [
    ['yaml parseDocument (Reader.parse)', (s) => has(s, 'parseDocument')],
    ['readRoles: allow list nodes → patterns', (s) => has(s, 'readRoles')],
    ['parseConfig: the other sections', (s) => has(s, 'parseConfig')],
    ['unpackConfig: the worker\'s answer → Config (sliced)', (s) => has(s, 'unpackPatterns') || has(s, 'unpackConfig')],
    ['compileRolesAsync: NameSet.build (sliced)', (s) => has(s, 'build', 'names.js') || has(s, 'compileRolesAsync')],
    ['buildPipeline: compileRoles / NameSet', (s) => has(s, 'buildPipeline')],
    ['readConfigBytes / readConfigText: read + sha256', (s) => has(s, 'readConfigBytes') || has(s, 'readConfigText')],
    ['the parse worker: start, answer, exit', (s) => has(s, 'runWorker') || s.some((x) => x.includes('worker'))],
  ];
  const phases = new Map(); const self = new Map();
  let total = 0;
  for (let k = 0; k < prof.samples.length; k++) {
    if (times[k] < fromUs || times[k] > toUs) continue;
    const w = (times[k + 1] ?? times[k]) - times[k];
    total += w;
    const leaf = nodes.get(prof.samples[k]);
    const fn = leaf.callFrame.functionName;
    const s = stackNames(leaf.id);
    const phase = ['(garbage collector)', '(idle)', '(program)'].includes(fn) ? fn : PHASES.find(([, test]) => test(s))?.[0] ?? 'other JS';
    phases.set(phase, (phases.get(phase) ?? 0) + w);
    const url = leaf.callFrame.url.replace(`file://${root}/`, '').replace(/^.*node_modules\//, '');
    const key = `${fn || '(anonymous)'}${url ? ` ${url}:${leaf.callFrame.lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + w);
  }
  const sorted = (m, k) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, us]) => ({ name, ms: us / 1000, pct: (100 * us) / total }));
  return {
    windowMs: (toUs - fromUs) / 1000, sampledMs: total / 1000,
    inProfile: fromUs >= prof.startTime && toUs <= prof.endTime,
    phases: sorted(phases, 20), selfTop: sorted(self, 15),
  };
}

// --- memory goal -------------------------------------------------------------------------------

async function memoryGoal(ctx) {
  const { h, tools, pin } = ctx;
  const srv = await startServer(ctx, { label: `${kName(MEMORY_N)} names, ${kName(CACHED)} cached`, n: MEMORY_N, cache: MEMORY_CACHE });
  try {
    await sleep(1000);
    const afterLoad = procStatus(srv.proc.pid);
    const file = path.join(srv.tdir, 'fill.txt');
    const wildcards = MEMORY_N / 2;
    fs.writeFileSync(file, Array.from({ length: CACHED }, (_, j) => `c${j}.w${2 * (j % wildcards) + 1}.lists.test A`).join('\n') + '\n');
    const fills = [];
    let m;
    for (let pass = 1; pass <= 2; pass++) {   // a second pass only for answers a first one lost
      const r = await h.dnsperf({ tools, pin, port: srv.port, tdir: srv.tdir, file, seconds: 90, maxRuns: 1 });
      fills.push({ pass, completed: r.completed, lost: r.lost, qps: r.qps, runTime: r.runTime, rcodes: r.rcodes, command: r.command });
      m = await scrape(srv.httpPort);
      if (m.cacheEntries >= CACHED) break;
    }
    const end = procStatus(srv.proc.pid);
    const gc = await afterFullGc(srv);
    return {
      n: MEMORY_N, cached: CACHED, cacheConfig: MEMORY_CACHE, configBytes: srv.configBytes, loadMs: srv.loadMs,
      hwmAfterLoad: afterLoad.hwm, rssAfterLoad: afterLoad.rss, fills,
      cacheEntries: m.cacheEntries, cacheBytes: m.cacheBytes, heapUsed: m.heapUsed,
      peakRss: end.hwm, rssAtEnd: end.rss, rssAfterGc: gc.rss, heapUsedAfterGc: gc.heapUsed,
      goalMiB: RSS_GOAL_MIB, met: end.hwm <= RSS_GOAL_MIB * MiB,
    };
  } finally {
    await stopServer(ctx, srv);
  }
}

// --- report ------------------------------------------------------------------------------------

const mib = (b) => (Number.isFinite(b) ? (b / MiB).toFixed(0) : '—');
const perName = (row, base, key) => (row.n > 0 ? (row[key] - base[key]) / row.n : NaN);
const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : '—');
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '—');

function printRow(r, base, at) {
  console.log(`  ${kName(r.n).padStart(5)} names: load ${(r.loadMs / 1000).toFixed(2)} s, RSS ${mib(r.rssAfterLoad)} MiB after load ` +
    `(peak ${mib(r.hwmAfterLoad)}), ${mib(r.rssAfterGc)} MiB after a full GC` +
    (r.n > 0 ? `; ${f0(perName(r, base, 'rssAfterLoad'))} / ${f0(perName(r, base, 'rssAfterGc'))} B/name of RSS, ${f0(perName(r, base, 'heapUsedAfterGc'))} of heap` : '') +
    (r.lookup ? `; cached hits ${f1(r.lookup.coreUsPerQuery)} µs/q at ${(r.lookup.qps / 1000).toFixed(1)}k q/s (${r.lookup.rcodes})` : '') + `  [${at}]`);
}

function printReload(r, at) {
  console.log(`  reload of ${kName(r.n)} (+ ${r.added}): ${r.applied ? 'applied' : 'NOT applied'} (${r.logLine ? `"${r.logLine.msg}", reason ${r.logLine.reason}` : 'no reload line'}` +
    `${r.sighupFallback ? ', after a SIGHUP fallback' : ''}), server log ${f0(r.serverReloadMs)} ms after the rename; ` +
    `longest gap ${f0(r.longestGapMs)} ms (from +${f0(r.gapFromMs)} to +${f0(r.gapToMs)} ms), quiet ${f1(r.quietLongestGapMs)} ms, ` +
    `after the swap ${f1(r.afterLongestGapMs)} ms; ${r.added} ${r.addedBefore} → ${r.addedAfter}; ` +
    `server event-loop max ${f0(r.serverEventLoopLagMaxMs)} ms; ${r.answered}/${r.sent} answered, ${r.notNoerror} not NOERROR  [${at}]`);
}

function printProfile(p, at) {
  console.log(`  profiled: longest gap ${f0(p.longestGapMs)} ms (profiler on), ${f0(p.sampledMs)} ms sampled in it${p.inProfile ? '' : ' (window not inside the profile!)'}  [${at}]`);
  for (const x of p.phases) console.log(`    ${x.pct.toFixed(1).padStart(5)} %  ${f0(x.ms).padStart(6)} ms  ${x.name}`);
  console.log('    self time, top functions:');
  for (const x of p.selfTop) console.log(`    ${x.pct.toFixed(1).padStart(5)} %  ${f0(x.ms).padStart(6)} ms  ${x.name}`);
}

function printMemory(m, at) {
  console.log(`  memory: ${kName(m.n)} names + ${m.cacheEntries} cached answers (cache ${m.cacheConfig}, ${f1(m.cacheBytes / MiB)} MiB counted): ` +
    `peak RSS ${mib(m.peakRss)} MiB (${mib(m.hwmAfterLoad)} after load), RSS ${mib(m.rssAtEnd)} MiB, ${mib(m.rssAfterGc)} after a full GC; ` +
    `goal ≤ ${m.goalMiB} MiB ${m.met ? 'met' : 'NOT met'}; fill ${m.fills.map((x) => `${x.completed} in ${x.runTime} s, ${x.lost} lost, ${x.rcodes}`).join(' | ')}  [${at}]`);
}

function printTable(rows, base, reloads, profile, memory) {
  const cols = ['names', 'config MB', 'load s', 'RSS MiB', 'peak MiB', 'GC\'d MiB', 'B/name', 'GC\'d B/name', 'heap B/name', 'hit µs/q', 'hit q/s'];
  console.log(`\n${cols.map((c, i) => (i === 0 ? c.padEnd(7) : c.padStart(12))).join('')}`);
  for (const r of rows) {
    const cells = [kName(r.n), (r.configBytes / 1e6).toFixed(1), (r.loadMs / 1000).toFixed(2), mib(r.rssAfterLoad), mib(r.hwmAfterLoad), mib(r.rssAfterGc),
      f0(perName(r, base, 'rssAfterLoad')), f0(perName(r, base, 'rssAfterGc')), f0(perName(r, base, 'heapUsedAfterGc')), f1(r.lookup?.coreUsPerQuery), r.lookup ? `${(r.lookup.qps / 1000).toFixed(1)}k` : '—'];
    console.log(cells.map((c, i) => (i === 0 ? c.padEnd(7) : c.padStart(12))).join(''));
  }
  console.log('RSS: VmRSS 1 s after the first answer; peak: VmHWM then; GC\'d: VmRSS after a full GC; B/name: minus the empty list\'s, ÷ names;\n' +
    'heap B/name: V8 heap used after the full GC, the same way; hit µs/q: server core µs per cached hit (dnsperf, max rate, 5 s).');
  for (const reload of reloads) {
    console.log(`\nreload ${kName(reload.n)} → ${kName(reload.n)} + 1 under ${reload.probeQps} q/s of cached names: longest gap between answers ${f0(reload.longestGapMs)} ms ` +
      `(goal ≤ ${STALL_GOAL_MS} ms: ${reload.longestGapMs <= STALL_GOAL_MS ? 'met' : `NOT met, over by ${f0(reload.longestGapMs - STALL_GOAL_MS)} ms`}); ` +
      `quiet ${f1(reload.quietLongestGapMs)} ms; ${reload.applied ? 'applied' : 'NOT applied'}` +
      (profile && reload.n === Math.max(...reloads.map((r) => r.n)) ? `; profiled run ${f0(profile.longestGapMs)} ms, top: ${profile.phases.slice(0, 3).map((x) => `${x.name} ${x.pct.toFixed(0)} %`).join(', ')}` : ''));
  }
  console.log(`memory: ${kName(memory.n)} names + ${memory.cacheEntries} cached answers: peak RSS ${mib(memory.peakRss)} MiB (goal ≤ ${memory.goalMiB} MiB: ${memory.met ? 'met' : 'NOT met'})`);
}

function writeListsResults({ started, nproc, tools, pin, h, rows, baseline, reload, reloads, profile, memory, seconds }) {
  const outDir = path.join(h.ROOT, 'bench/results');
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${started.toISOString().replace(/:\d\d\.\d+Z$/, 'Z').replace(/:/g, '-')}-lists.json`);
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: h.ROOT, encoding: 'utf8' }).stdout?.trim();
  const big = (_k, v) => (typeof v === 'bigint' ? String(v) : v);
  const withPerName = rows.map((r) => ({ ...r, bytesPerName: r.n > 0 ? { afterLoad: perName(r, baseline, 'rssAfterLoad'), afterGc: perName(r, baseline, 'rssAfterGc'), heapAfterGc: perName(r, baseline, 'heapUsedAfterGc') } : undefined }));
  fs.writeFileSync(file, JSON.stringify({
    date: started.toISOString(), command: `npm run bench -- ${h.argv.join(' ')}`.trim(), argv: process.argv, commit: git || null,
    machine: { nproc, cpuModel: os.cpus()[0]?.model ?? 'unknown', kernel: os.release(),
      memTotalMiB: Math.round(os.totalmem() / MiB), loadavg: os.loadavg(),
      pinning: pin ? { server: Number(pin.server), dnsperfKnotAndProbe: Number(pin.load) } : null },
    versions: tools.versions,
    setup: {
      lists: `allow: N names, even i "h<i>.lists.test", odd i "*.w<i>.lists.test"; unlisted sinkhole; log.queries none; http on (for /metrics); baseline: allow: []`,
      upstream: 'knotd, zone lists.test with "* A 198.51.100.7" (TTL 3600) beside run.js\'s bench.test',
      server: 'node --expose-gc --require bench/lists-gc.cjs dist/main.js serve (a full GC on SIGUSR2, for the GC\'d RSS)',
      lookup: `${LOOKUP_NAMES} names spread over the list (even j exact, odd j q<j>.w<i>), one dnsperf -n 1 pass to cache them, then dnsperf -l ${LOOKUP_SECONDS} at max rate`,
      reload: `probe ${PROBE_QPS} q/s from one socket over the cached names; ${QUIET_MS} ms quiet, rename of the config (same list + ${ADDED}), until the reload line, then ${AFTER_MS} ms`,
      memory: `${MEMORY_N} names, ${CACHED} names c<j>.w<odd i>.lists.test each asked once (dnsperf -n 1), cache ${MEMORY_CACHE}`,
      seconds,
    },
    // reload: the largest list's, as before; reloads: every one measured.
    lists: withPerName, reload, reloads, profile, memory,
  }, big, 2) + '\n');
  return file;
}
