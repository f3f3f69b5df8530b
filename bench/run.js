// npm run bench [-- --peers] [--seconds N] [--rounds N] [--qps N] [--targets a,b] [--scenarios x,y]
//                  [--hold-qps N] [--cpu-prof DIR] [--baseline DIR] [--tunneling] [--quick] [--firewall]
//                  [--lists [--sizes 10000,100000,1000000] [--reload-sizes N,…]]
//
// intentdns under dnsperf, against a real authoritative upstream (Knot) on loopback, beside
// dnsdist and unbound with the equivalent policy (--peers). One fresh server process per target
// and scenario, interleaved per scenario; the server pinned to one core, dnsperf and Knot to the
// other (when there are two). Prints qps, core µs per query (utime+stime of the server from
// /proc/PID/stat ÷ queries completed), latency, loss and peak RSS, each beside its ratio to the
// peers, and writes bench/results/<date>.json.
//
// --baseline DIR adds the intentdns built in another checkout (DIR/dist/main.js, e.g. a git worktree
// of the commit before a change, after npm ci) as two more targets, log none and all: a change measured
// beside what it changes, in the same run, since absolute figures here vary by 30 % between runs.
//
// --workers adds "intentdns (workers 1)" and "intentdns (workers 2)" (listen.workers, log none): the
// server may use every core (taskset over both), sharing them with dnsperf and Knot, and its CPU is
// the primary's plus its workers' (/proc/PID/task/PID/children), and so is its peak RSS (their sum).
// Both targets get the same cores, so the two side by side say what a second worker adds on this
// machine. E.g.
// --workers --targets workers --scenarios hit,block,miss,tcp.
//
// --quick runs the older in-process scenarios (bench/quick.js) instead.
//
// --tunneling adds the target "intentdns (tunneling)": "log none" with a `tunneling` section on the
// bench role, so the two side by side give the hot-path cost of the signals (registrable domain,
// per-name checks, the windowed budgets). Its windowed limits are raised so that nothing trips (one
// agent asks 10,000 distinct names under bench.test; the defaults would sinkhole all but 300, and
// the bench would measure sinkholes); the per-name limits keep their defaults, which no bench
// name trips. E.g. --tunneling --targets "log none,tunneling" --scenarios hit,miss.
//
// --firewall measures firewall sync instead: intentdns with and without a `firewall:` section,
// interleaved per scenario (hit, miss, hit@N, miss@N), the table in a network namespace the bench
// creates and always deletes (nft through INTENTDNS_NFT_COMMAND="ip netns exec NS nft"; the DNS
// traffic stays on the host's loopback); then a burst of 10,000 names with distinct addresses from
// 127.0.0.2 while a 1,000 q/s probe on 127.0.0.3 asks cached names (bench/firewall notes in
// docs/performance.md, "Firewall sync").
//
// --lists measures allowlists of 10k, 100k and 1M names instead (bench/lists.js): load time, memory
// per name, core µs per cached hit, the longest gap between answers while each list reloads (and
// a CPU profile of the largest one's reload when it is over 50 ms), and peak RSS with 100k names and 200k cached
// answers (docs/performance.md, "Lists at scale and memory").
//
// Every load is bounded in time (dnsperf -l, and a kill after that) and in count (query files of
// a fixed size). Only 127.0.0.1 is used. Every process started here (through bench/harness.js,
// shared with bench/soak.js) is stopped by its PID, also on failure and on SIGINT / SIGTERM.
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { encodeQuery, freePort, pinned, procCpuTicks, procPeakRssMiB, start, startKnot as startKnotZones, stop, stopAll, waitForDns, which } from './harness.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const option = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
};

// ---------------------------------------------------------------------------------------------

const SUFFIXES = 1000;          // allowed: s<i>.bench.test and *.s<i>.bench.test
const DENIED = 100;             // denied: d<i>.deny.test and *.d<i>.deny.test
const HIT_NAMES = 10_000;
const BLOCK_NAMES = 10_000;
const BURST_NAMES = 10_000;      // b<j>.s0.bench.test, each its own A record (burstAddress)
const burstAddress = (j) => `45.10.${j >> 8}.${j & 255}`;   // distinct, public (never contacted)
const MIX_QPS = 150_000;         // the mix file is sized for this rate (dnsdist's block rate), so no miss repeats
const HOLD_QPS = Number(option('hold-qps', 500));   // held: a fixed low rate; holds are meant to be rare
const GRANTED_NAMES = 10_000;    // n<j>.granted.bench.test, unlisted: answered only because of the grant
const GRANT_PATTERN = '*.granted.bench.test';
const FW_TABLE = 'intentdns_bench';
let netns = null;     // deleted at the end, also on SIGINT / SIGTERM
// Read before anything pins this process to one core (availableParallelism follows the affinity).
const NPROC = os.availableParallelism?.() ?? os.cpus().length;
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

let workDir = null;   // removed at the end, also on SIGINT / SIGTERM

async function main() {
  const seconds = Number(option('seconds', 10));
  const rounds = Number(option('rounds', 1));
  const fixedQps = Number(option('qps', 10_000));
  const peers = flag('peers');
  const onlyTargets = option('targets', null)?.split(',');       // e.g. --targets intentdns,dnsdist
  const onlyScenarios = option('scenarios', null)?.split(',');   // e.g. --scenarios hit,miss@10k
  if (!(seconds > 0 && seconds <= 120) || !(rounds >= 1 && rounds <= 9) || !(fixedQps > 0 && fixedQps <= 1e6) || !(HOLD_QPS > 0 && HOLD_QPS <= 10_000)) {
    throw new Error('--seconds 1..120, --rounds 1..9, --qps 1..1000000, --hold-qps 1..10000');
  }
  const tools = ensureTools(peers);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, async () => {
      await stopAll();
      if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
      deleteNetns();
      process.exit(130);
    });
  }

  const cpus = affinity();
  const pin = cpus.length >= 2 ? { server: String(cpus[0]), load: String(cpus[1]) } : null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intentdns-bench-'));
  workDir = dir;
  const started = new Date();
  if (flag('lists')) {
    const { listsBench } = await import('./lists.js');
    const helpers = { ROOT, argv, option, CLK_TCK, start, stop, stopAll, freePort, waitForDns, startKnot, pinned,
      procCpuTicks, procPeakRssMiB, dnsperf, encodeQuery, fmt, fmtQps };
    try {
      await listsBench({ dir, tools, pin, started, helpers });
    } finally {
      await stopAll();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    return;
  }
  console.log(`intentdns bench: ${seconds} s per scenario, ${rounds} round(s), dnsperf -c 8 -T 1 -q 100; ` +
    (pin ? `server on core ${pin.server}, dnsperf and Knot on core ${pin.load}` : 'one core: nothing pinned (figures are not comparable to pinned runs)'));

  const files = writeQueryFiles(dir, seconds, fixedQps);
  let knot;
  try {
    knot = await startKnot(dir, tools, pin);
    if (flag('firewall')) {
      await firewallBench({ dir, tools, pin, knot, files, seconds, rounds, fixedQps, started, onlyScenarios });
      return;
    }
    const targets = defineTargets({ dir, tools, knotPort: knot.port, peers });
    const scenarios = defineScenarios(files, seconds, fixedQps);
    const results = [];   // { round, scenario, target, ...figures }
    for (let round = 1; round <= rounds; round++) {
      for (const scenario of scenarios) {
        for (const target of targets) {
          if (!target.runs(scenario.name)) continue;
          if (onlyTargets && !onlyTargets.some((x) => target.name.includes(x))) continue;
          if (onlyScenarios && !onlyScenarios.includes(scenario.name)) continue;
          const r = await measure({ dir, tools, pin, target, scenario });
          results.push({ round, scenario: scenario.name, target: target.name, ...r });
          console.log(`  round ${round} ${scenario.name.padEnd(10)} ${target.name.padEnd(22)} ${fmtQps(r.qps).padStart(7)} q/s  ` +
            `${fmt(r.coreUsPerQuery, 1)} µs/q  loss ${fmt(r.lossPct, 2)}%  rss ${fmt(r.peakRssMiB, 0)} MiB  ${r.rcodes}` +
            (r.logBytes !== undefined ? `  log ${(r.logBytes / 2 ** 20).toFixed(1)} MiB` : '') + fmtApproval(r));
        }
      }
    }
    const summary = summarise(results, targets, scenarios);
    printTable(summary, targets, scenarios, peers, onlyTargets);
    const out = writeResults({ started, seconds, rounds, fixedQps, pin, tools, results, summary, knotPort: knot.port });
    console.log(`\nresults: ${path.relative(process.cwd(), out)}`);
  } finally {
    await stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
    deleteNetns();
  }
}

// --- tools -----------------------------------------------------------------------------------

function ensureTools(peers) {
  const need = [['dnsperf', 'dnsperf'], ['knotd', 'knot'], ['taskset', 'util-linux']];
  if (peers) need.push(['dnsdist', 'dnsdist'], ['unbound', 'unbound']);
  let missing = need.filter(([bin]) => !which(bin));
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map(([, pkg]) => pkg))];
    const root = process.getuid?.() === 0;
    if (!root || !fs.existsSync('/etc/debian_version') || !which('apt-get')) {
      console.error(`bench: missing ${missing.map(([b]) => b).join(', ')}. Install the Debian packages: ` +
        `apt-get install -y ${pkgs.join(' ')} (npm run bench installs them itself when run as root on Debian).`);
      process.exit(2);
    }
    const policy = spawnSync('apt-cache', ['policy', ...pkgs], { encoding: 'utf8', timeout: 60_000 }).stdout ?? '';
    const candidates = [...policy.matchAll(/Candidate: (\S+)/g)].map((m) => m[1]);
    if (candidates.length < pkgs.length || candidates.includes('(none)')) {
      console.log('bench: apt-get update');
      spawnSync('apt-get', ['update'], { stdio: 'inherit', timeout: 300_000 });
    }
    console.log(`bench: apt-get install -y ${pkgs.join(' ')}`);
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], {
      stdio: 'inherit', timeout: 600_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    missing = need.filter(([bin]) => !which(bin));
    if (missing.length > 0) {
      console.error(`bench: still missing after apt-get install: ${missing.map(([b]) => b).join(', ')}`);
      process.exit(2);
    }
  }
  const version = (bin, args, re) => {
    const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 10_000 });
    const m = `${r.stdout}\n${r.stderr}`.match(re);
    return m ? m[1] : 'unknown';
  };
  const tools = {
    dnsperf: which('dnsperf'), knotd: which('knotd'), taskset: which('taskset'),
    dnsdist: which('dnsdist'), unbound: which('unbound'),
  };
  tools.versions = {
    node: process.version,
    dnsperf: version(tools.dnsperf, ['-h'], /Version (\S+)/),
    knot: version(tools.knotd, ['--version'], /version (\S+)/),
    ...(peers ? {
      dnsdist: version(tools.dnsdist, ['--version'], /dnsdist (\S+)/),
      unbound: version(tools.unbound, ['-V'], /Version (\S+)/),
    } : {}),
  };
  return tools;
}

function affinity() {
  const r = spawnSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' });
  const list = (r.stdout ?? '').split(':').pop()?.trim() ?? '';
  const cpus = [];
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (Number.isInteger(a)) for (let c = a; c <= (Number.isInteger(b) ? b : a); c++) cpus.push(c);
  }
  return cpus;
}

// --- zone, policy and query files ------------------------------------------------------------

const allowedSuffixes = () => Array.from({ length: SUFFIXES }, (_, i) => `s${i}.bench.test`);
const deniedSuffixes = () => Array.from({ length: DENIED }, (_, i) => `d${i}.deny.test`);
const addressOf = (i) => `198.51.100.${(i % 250) + 1}`;

function writeQueryFiles(dir, seconds, fixedQps) {
  const write = (name, lines) => { const f = path.join(dir, name); fs.writeFileSync(f, lines.join('\n') + '\n'); return f; };
  const hit = write('hit.txt', Array.from({ length: HIT_NAMES }, (_, j) => `n${j}.s${j % SUFFIXES}.bench.test A`));
  const block = write('block.txt', Array.from({ length: BLOCK_NAMES }, (_, j) => `n${j}.d${j % DENIED}.deny.test A`));
  // Misses: random labels under allowed suffixes (Knot answers them with the suffix's wildcard).
  // Enough for 80k q/s for the whole run so no name repeats; each target starts with an empty cache.
  const missCount = Math.min(2_000_000, Math.max(200_000, Math.ceil(seconds * Math.max(80_000, fixedQps * 1.2))));
  const randomLabels = (n) => {
    const buf = crypto.randomBytes(n * 8);
    return Array.from({ length: n }, (_, j) => ({ label: `r${buf.readBigUInt64BE(j * 8).toString(36)}`, k: buf[j * 8] * 4 % SUFFIXES + (j % 4) }));
  };
  const random = (n) => randomLabels(n).map(({ label, k }) => `${label}.s${k}.bench.test A`);
  const miss = write('miss.txt', random(missCount));
  const missWarm = write('miss-warm.txt', random(5_000));
  const burst = write('burst.txt', Array.from({ length: BURST_NAMES }, (_, j) => `b${j}.s0.bench.test A`));
  // Mix: in every 10 queries 7 cached hits, 2 blocks, 1 miss (a fresh random name), interleaved as
  // agents' traffic would be rather than in runs of one kind.
  const mixCount = Math.min(2_000_000, Math.max(200_000, Math.ceil(seconds * Math.max(MIX_QPS, fixedQps * 1.2))));
  const mixMisses = random(Math.ceil(mixCount / 10));
  const mixLines = new Array(mixCount);
  for (let j = 0, h = 0, b = 0, m = 0; j < mixCount; j++) {
    const slot = j % 10;
    if (slot < 7) { const i = h++ % HIT_NAMES; mixLines[j] = `n${i}.s${i % SUFFIXES}.bench.test A`; }
    else if (slot < 9) { const i = b++ % BLOCK_NAMES; mixLines[j] = `n${i}.d${i % DENIED}.deny.test A`; }
    else mixLines[j] = mixMisses[m++];
  }
  const mix = write('mix.txt', mixLines);
  // Held: fresh names under held.bench.test (no rule, no grant covers them), each asked once, so
  // every query opens a hold; the warm-up opens its own 200.
  const heldCount = Math.ceil(seconds * HOLD_QPS * 1.2) + 1000;
  const held = write('held.txt', randomLabels(heldCount).map(({ label }) => `${label}.held.bench.test A`));
  const heldWarm = write('held-warm.txt', randomLabels(200).map(({ label }) => `${label}.held.bench.test A`));
  const granted = write('granted.txt', Array.from({ length: GRANTED_NAMES }, (_, j) => `n${j}.granted.bench.test A`));
  return { hit, block, miss, missWarm, missCount, burst, mix, mixCount, held, heldWarm, heldCount, granted };
}

function defineScenarios(files, seconds, fixedQps) {
  const k = `${Math.round(fixedQps / 1000)}k`;
  return [
    { name: 'hit', warm: files.hit, file: files.hit, expect: 'NOERROR' },
    { name: 'block', warm: files.block, file: files.block, expect: 'NXDOMAIN' },
    // Hits and misses answer NOERROR, blocks NXDOMAIN: 80 / 20.
    { name: 'mix', warm: files.hit, file: files.mix, expectShares: { NOERROR: 80, NXDOMAIN: 20 }, fileLines: files.mixCount },
    { name: 'miss', warm: files.missWarm, file: files.miss, expect: 'NOERROR', fileLines: files.missCount },
    // Warmed over TCP too: dnsdist's packet cache keys on the transport.
    { name: 'tcp', warm: files.hit, file: files.hit, mode: 'tcp', expect: 'NOERROR' },
    // Peers have no holds nor grants: intentdns only.
    { name: 'held', warm: files.heldWarm, file: files.held, qps: HOLD_QPS, expect: 'NOERROR', fileLines: files.heldCount, approval: 'hold', intentdnsOnly: true },
    { name: 'granted', warm: files.granted, file: files.granted, expect: 'NOERROR', approval: 'grant', intentdnsOnly: true },
    { name: `hit@${k}`, warm: files.hit, file: files.hit, qps: fixedQps, expect: 'NOERROR' },
    { name: `block@${k}`, warm: files.block, file: files.block, qps: fixedQps, expect: 'NXDOMAIN' },
    { name: `miss@${k}`, warm: files.missWarm, file: files.miss, qps: fixedQps, expect: 'NOERROR', fileLines: files.missCount },
  ].map((s) => ({ ...s, seconds }));
}

function defineTargets({ dir, tools, knotPort, peers }) {
  const all = ['hit', 'block', 'mix', 'miss', 'tcp', 'hit@', 'block@', 'miss@'];
  const matches = (list) => (name) => list.some((p) => (p.endsWith('@') ? name.startsWith(p) : name === p));
  const targets = [
    { name: 'intentdns (log none)', kind: 'intentdns', queries: 'none', scenarios: [...all, 'held', 'granted'] },
    { name: 'intentdns (log all)', kind: 'intentdns', queries: 'all', scenarios: ['hit', 'block', 'mix', 'miss'] },
  ];
  if (flag('tunneling')) targets.splice(1, 0, { name: 'intentdns (tunneling)', kind: 'intentdns', queries: 'none', tunneling: true, scenarios: all });
  if (flag('workers')) {
    for (const workers of [1, 2]) {
      targets.push({ name: `intentdns (workers ${workers})`, kind: 'intentdns', queries: 'none', workers, everyCore: true, scenarios: all });
    }
  }
  const baseline = option('baseline', null);
  if (baseline) {
    const main = path.resolve(baseline, 'dist/main.js');
    if (!fs.existsSync(main)) throw new Error(`--baseline ${baseline}: no ${main} (run npm ci there first)`);
    targets.push(
      { name: 'baseline (log none)', kind: 'intentdns', queries: 'none', main, scenarios: [...all, 'held', 'granted'] },
      { name: 'baseline (log all)', kind: 'intentdns', queries: 'all', main, scenarios: ['hit', 'block', 'mix', 'miss'] },
    );
  }
  if (peers) {
    targets.push(
      { name: 'dnsdist', kind: 'dnsdist', peer: true, scenarios: all },
      { name: 'unbound', kind: 'unbound', peer: true, scenarios: all },
      { name: 'node udp echo', kind: 'echo', scenarios: ['hit', 'hit@'] },
    );
  }
  for (const t of targets) {
    t.runs = matches(t.scenarios);
    t.dir = dir; t.tools = tools; t.knotPort = knotPort;
  }
  return targets;
}

function intentdnsConfig(port, knotPort, queries, firewall, httpPort, approval, tunneling = false, workers = undefined) {
  const q = (s) => JSON.stringify(s);
  const allow = allowedSuffixes().flatMap((s) => [s, `*.${s}`]);
  const deny = deniedSuffixes().flatMap((s) => [s, `*.${s}`]);
  return `version: 1
listen: { dns: ["127.0.0.1:${port}"], http: ${httpPort ? `"127.0.0.1:${httpPort}"` : 'null'}${workers ? `, workers: ${workers}` : ''} }
upstreams: { servers: ["127.0.0.1:${knotPort}"], timeout: 1500ms }
cache: { max_entries: 50000 }
log: { level: info, queries: ${queries} }   # decision lines are at info
# dnsperf keeps -q 100 queries in flight from one address: the default of 100 would be the limit.
limits: { in_flight_per_client: 1000 }
clients:
  - { name: bench, match: ["127.0.0.0/8"], role: bench }
roles:
  bench:
    unlisted: ${approval?.hold ? 'hold' : 'sinkhole'}
    allow:
${allow.map((p) => `      - ${q(p)}`).join('\n')}
    deny:
${deny.map((p) => `      - ${q(p)}`).join('\n')}
${tunneling ? '    tunneling: { max_names_per_domain: 100000000, max_bytes_per_domain: 1000000000 }\n' : ''}${firewall ? `firewall: { table: ${FW_TABLE}, scope: role, grace: 30s, wait: 100ms, on_error: closed }\n` : ''}${approval ? `# hold_timeout under dnsperf's -t 2: a hold that times out is answered (and counted) rather than lost.
# The pending bounds far above what the bench opens: it measures the link, not the caps.
approval:
  url: ${q(approval.url)}
  token_file: ${q(approval.tokenFile)}
  hold_timeout: 1500ms
  max_pending_holds: 100000
  max_pending_holds_per_agent: 100000
` : ''}`;
}

function dnsdistConfig(port, knotPort) {
  // SuffixMatchNode: the name and every name below it (= "x" + "*.x").
  return `setSecurityPollSuffix("")
setLocal("127.0.0.1:${port}")
setACL({"127.0.0.0/8"})
newServer({address="127.0.0.1:${knotPort}", name="knot", checkName="s0.bench.test."})
pc = newPacketCache(200000, {maxTTL=86400, minTTL=0})
getPool(""):setCache(pc)
allow = newSuffixMatchNode()
${allowedSuffixes().map((s) => `allow:add("${s}")`).join('\n')}
deny = newSuffixMatchNode()
${deniedSuffixes().map((s) => `deny:add("${s}")`).join('\n')}
addAction(SuffixMatchNodeRule(deny, true), RCodeAction(DNSRCode.NXDOMAIN))
addAction(NotRule(SuffixMatchNodeRule(allow, true)), RCodeAction(DNSRCode.REFUSED))
`;
}

function unboundConfig(dir, port, knotPort) {
  return `server:
  interface: 127.0.0.1
  port: ${port}
  num-threads: 1
  do-ip6: no
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "${dir}"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 0
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  do-not-query-localhost: no
  qname-minimisation: no
  msg-cache-size: 64m
  rrset-cache-size: 128m
  local-zone: "." refuse
${allowedSuffixes().map((s) => `  local-zone: "${s}." transparent`).join('\n')}
${deniedSuffixes().map((s) => `  local-zone: "${s}." always_nxdomain`).join('\n')}
remote-control:
  control-enable: no
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@${knotPort}
`;
}

// --- processes -------------------------------------------------------------------------------

/** Knot serving bench.test, and each of `extraZones` ({ domain, records: zone file lines }) beside it. */
async function startKnot(dir, tools, pin, extraZones = []) {
  const zone = [
    '$ORIGIN bench.test.', '$TTL 3600',
    '@ SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 3600', '@ NS ns', 'ns A 198.51.100.1',
    ...allowedSuffixes().flatMap((s, i) => {
      const label = s.slice(0, -'.bench.test'.length);
      return [`${label} A ${addressOf(i)}`, `*.${label} A ${addressOf(i)}`];
    }),
    // The burst: names under s0's wildcard (so allowed), each with its own address.
    ...Array.from({ length: BURST_NAMES }, (_, j) => `b${j}.s0 A ${burstAddress(j)}`),
    // Held and granted names: no rule covers them, so only a hold's allow or a grant forwards them.
    `*.held A ${addressOf(0)}`, `*.granted A ${addressOf(1)}`,
  ];
  return startKnotZones(dir, tools, pin, [{ domain: 'bench.test', records: zone }, ...extraZones], 's0.bench.test');
}

async function startTarget(target, pin, scenario) {
  const port = await freePort();
  const { dir, tools, knotPort } = target;
  const tdir = fs.mkdtempSync(path.join(dir, 'target-'));
  let cmd, args, stdout, httpPort, approval;
  if (target.kind === 'intentdns') {
    const config = path.join(tdir, 'intentdns.yaml');
    // /metrics: the firewall's counters, the holds' and grants' reasons.
    if (target.firewall || scenario?.approval) httpPort = await freePort();
    if (scenario?.approval) approval = await startApproval(tdir, pin, scenario.approval);
    fs.writeFileSync(config, intentdnsConfig(port, knotPort, target.queries, target.firewall, httpPort,
      approval && { url: approval.url, tokenFile: approval.tokenFile, hold: scenario.approval === 'hold' }, target.tunneling, target.workers));
    stdout = fs.openSync(path.join(tdir, 'decisions.log'), 'w');
    const prof = option('cpu-prof', null);   // --cpu-prof DIR: a V8 CPU profile of each intentdns process
    [cmd, args] = [process.execPath, [...(prof ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(prof)] : []),
      target.main ?? path.join(ROOT, 'dist/main.js'), 'serve', '--config', config]];
  } else if (target.kind === 'dnsdist') {
    const config = path.join(tdir, 'dnsdist.conf');
    fs.writeFileSync(config, dnsdistConfig(port, knotPort));
    [cmd, args] = [tools.dnsdist, ['--supervised', '--disable-syslog', '-C', config]];
  } else if (target.kind === 'unbound') {
    const config = path.join(tdir, 'unbound.conf');
    fs.writeFileSync(config, unboundConfig(tdir, port, knotPort));
    [cmd, args] = [tools.unbound, ['-d', '-c', config]];
  } else if (target.kind === 'echo') {
    [cmd, args] = [process.execPath, [path.join(ROOT, 'bench/echo.js'), String(port)]];
  } else {
    throw new Error(`unknown target ${target.kind}`);
  }
  [cmd, args] = pinned(pin, target.everyCore && pin ? `${pin.server},${pin.load}` : pin?.server, cmd, args);
  const env = target.firewall ? { ...process.env, INTENTDNS_NFT_COMMAND: `ip netns exec ${netns} nft` } : undefined;
  const proc = start(target.name, cmd, args, { stdout, cwd: tdir, env });
  if (stdout !== undefined) fs.closeSync(stdout);
  try {
    await waitForDns(port, target.kind === 'dnsdist' || target.kind === 'unbound' || target.kind === 'intentdns' ? 's0.bench.test' : 'x.test', proc);
    // A query before the link is up is answered link_down, one before the grant arrived unlisted.
    if (approval) {
      await waitForMetrics(httpPort, (m) => m.linkUp === 1 && (scenario.approval !== 'grant' || m.grantsActive >= 1), proc);
    }
  } catch (err) {
    await stop(approval?.proc);
    throw err;
  }
  return { port, proc, tdir, httpPort, approval };
}

/**
 * The approval service (bench/approval.js) for one intentdns process, beside dnsperf and Knot: it
 * decides every hold `allow` at once (`hold`), or sends one approval for GRANT_PATTERN (`grant`).
 */
async function startApproval(tdir, pin, kind) {
  const port = await freePort();
  const token = crypto.randomBytes(16).toString('hex');
  const tokenFile = path.join(tdir, 'approval.token');
  fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const grant = kind === 'grant' ? [JSON.stringify({ agent: 'bench', domains: [GRANT_PATTERN] })] : [];
  const [cmd, args] = pinned(pin, pin?.load, process.execPath, [path.join(ROOT, 'bench/approval.js'), String(port), tokenFile, ...grant]);
  const proc = start('approval service', cmd, args);
  const url = `http://127.0.0.1:${port}`;
  const stats = async () => (await fetch(`${url}/bench/stats`, { headers: { authorization: `Bearer ${token}` } })).json();
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exited) throw new Error(`approval service exited: ${proc.stderr.trim().slice(-2000)}`);
    try { await stats(); break; } catch { /* not listening yet */ }
    if (Date.now() > deadline) { await stop(proc); throw new Error(`approval service did not answer on ${url}`); }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url, tokenFile, proc, stats };
}

/** The approval figures from /metrics, flat: reason.<r> (queries), holds.<outcome>, holdWait.{count,sum}, linkUp, grantsActive. */
async function approvalMetrics(httpPort) {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const m = {};
  const add = (key, v) => { m[key] = (m[key] ?? 0) + Number(v); };
  for (const [, r, v] of text.matchAll(/^intentdns_queries_total\{[^}]*reason="([^"]+)"[^}]*\} (\S+)$/gm)) add(`reason.${r}`, v);
  for (const [, o, v] of text.matchAll(/^intentdns_holds_total\{[^}]*outcome="([^"]+)"[^}]*\} (\S+)$/gm)) add(`holds.${o}`, v);
  for (const [, v] of text.matchAll(/^intentdns_hold_wait_seconds_count(?:\{[^}]*\})? (\S+)$/gm)) add('holdWait.count', v);
  for (const [, v] of text.matchAll(/^intentdns_hold_wait_seconds_sum(?:\{[^}]*\})? (\S+)$/gm)) add('holdWait.sum', v);
  m.linkUp = Number(text.match(/^intentdns_approval_link_up (\S+)$/m)?.[1] ?? 0);
  m.grantsActive = Number(text.match(/^intentdns_grants_active (\S+)$/m)?.[1] ?? 0);
  return m;
}

async function waitForMetrics(httpPort, ready, proc, ms = 15_000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    if (proc.exited) throw new Error(`${proc.name} exited: ${proc.stderr.trim().slice(-2000)}`);
    try { last = await approvalMetrics(httpPort); if (ready(last)) return; } catch { /* not listening yet */ }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${proc.name}: approval link not ready within ${ms} ms (${JSON.stringify(last)}): ${proc.stderr.trim().slice(-2000)}`);
}

/** Runs dnsperf; resolves with its summary (and per-query latencies with `verbose`). */
async function dnsperf({ tools, pin, port, file, seconds, qps, verbose, maxRuns, tdir, source, mode }) {
  const args = ['-s', '127.0.0.1', '-p', String(port), '-c', '8', '-T', '1', '-q', '100', '-t', '2', '-d', file];
  if (mode) args.push('-m', mode);
  if (source) args.push('-a', source);
  if (maxRuns) args.push('-n', String(maxRuns), '-l', String(Math.max(seconds, 30)));
  else args.push('-l', String(seconds));
  if (qps) args.push('-Q', String(qps));
  if (verbose) args.push('-v');
  const outFile = path.join(tdir, `dnsperf-${Date.now()}.out`);
  const out = fs.openSync(outFile, 'w');
  const [cmd, cargs] = pinned(pin, pin?.load, tools.dnsperf, args);
  const proc = start('dnsperf', cmd, cargs, { stdout: out });
  fs.closeSync(out);
  const limit = (maxRuns ? Math.max(seconds, 30) : seconds) * 1000 + 20_000;
  const killer = setTimeout(() => { try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ } }, limit);
  const { code, signal } = await proc.exit;
  clearTimeout(killer);
  const text = fs.readFileSync(outFile, 'utf8');
  fs.rmSync(outFile, { force: true });
  if (code !== 0) throw new Error(`dnsperf exited ${code ?? signal}: ${proc.stderr.trim().slice(-1000)}\n${text.slice(-1000)}`);
  return { ...parseDnsperf(text), command: `dnsperf ${args.join(' ')}` };
}

function parseDnsperf(text) {
  const num = (re) => { const m = text.match(re); return m ? Number(m[1]) : NaN; };
  const rcodes = (text.match(/Response codes:\s+(.*)/)?.[1] ?? '').trim();
  const r = {
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    runTime: num(/Run time \(s\):\s+([\d.]+)/),
    qps: num(/Queries per second:\s+([\d.]+)/),
    avgLatencyUs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1e6,
    rcodes,
    // "NOERROR 80 (80.00%), NXDOMAIN 20 (20.00%)" → { NOERROR: 80, NXDOMAIN: 20 }
    shares: Object.fromEntries([...rcodes.matchAll(/(\w+) \d+ \(([\d.]+)%\)/g)].map((m) => [m[1], Number(m[2])])),
  };
  // -v: one line per answer, "> RCODE NAME TYPE LATENCY_S".
  const latencies = [];
  for (const m of text.matchAll(/^> \S+ \S+ \S+ ([\d.]+)$/gm)) latencies.push(Number(m[1]) * 1e6);
  if (latencies.length > 0) {
    latencies.sort((a, b) => a - b);
    const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))];
    r.p50Us = pct(0.5); r.p99Us = pct(0.99); r.p999Us = pct(0.999); r.latencySamples = latencies.length;
  }
  return r;
}

/** The direct children of a process (a primary's workers). */
function childrenOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];   // no children file: only the process itself
  }
}

/** utime + stime of a process and its children (a primary and its workers), in clock ticks. */
function treeCpuTicks(pid) {
  let ticks = procCpuTicks(pid);
  for (const child of childrenOf(pid)) {
    try { ticks += procCpuTicks(child); } catch { /* exited meanwhile */ }
  }
  return ticks;
}

/**
 * The peak RSS of a process and its children, summed: what a primary and its workers need
 * together (each one's own peak; they need not have peaked at the same moment, so an upper bound).
 */
function treePeakRssMiB(pid) {
  return childrenOf(pid).reduce((sum, child) => sum + (procPeakRssMiB(child) || 0), procPeakRssMiB(pid));
}

async function measure({ tools, pin, target, scenario }) {
  if (target.firewall) resetTable();
  const t = await startTarget(target, pin, scenario);
  try {
    const common = { tools, pin, port: t.port, tdir: t.tdir, mode: scenario.mode };
    await dnsperf({ ...common, file: scenario.warm, seconds: scenario.seconds, maxRuns: 1 });   // warm: each name once
    const nftBefore = target.firewall ? await firewallMetrics(t.httpPort) : undefined;
    const approvalBefore = t.approval ? await approvalMetrics(t.httpPort) : undefined;
    const serviceBefore = t.approval ? procCpuTicks(t.approval.proc.pid) : undefined;
    const cpuTicks = target.workers ? treeCpuTicks : procCpuTicks;
    const before = cpuTicks(t.proc.pid);
    const r = await dnsperf({ ...common, file: scenario.file, seconds: scenario.seconds, qps: scenario.qps, verbose: Boolean(scenario.qps) });
    const after = cpuTicks(t.proc.pid);
    const peakRssMiB = target.workers ? treePeakRssMiB(t.proc.pid) : procPeakRssMiB(t.proc.pid);
    const nft = target.firewall ? minus(await firewallMetrics(t.httpPort), nftBefore) : undefined;   // the measured run only
    // The service's own CPU too: to tell a slow intentdns from a slow service.
    const approval = t.approval ? approvalFigures(scenario, r, approvalBefore, await approvalMetrics(t.httpPort),
      { ...(await t.approval.stats()), cpuSeconds: (procCpuTicks(t.approval.proc.pid) - serviceBefore) / CLK_TCK }) : undefined;
    let logBytes;
    try { logBytes = fs.statSync(path.join(t.tdir, 'decisions.log')).size; } catch { /* not intentdns */ }
    const unexpected = scenario.expect && target.kind !== 'echo' && !r.rcodes.startsWith(scenario.expect);
    if (unexpected) console.warn(`  warning: ${target.name} ${scenario.name}: expected ${scenario.expect}, got ${r.rcodes}`);
    for (const [rcode, pct] of Object.entries(scenario.expectShares ?? {})) {
      const got = r.shares[rcode] ?? 0;
      if (Math.abs(got - pct) > 1) console.warn(`  warning: ${target.name} ${scenario.name}: expected ${pct}% ${rcode}, got ${r.rcodes}`);
    }
    if (scenario.fileLines && r.sent > scenario.fileLines) console.warn(`  warning: ${target.name} ${scenario.name}: dnsperf went round the query file (${r.sent} > ${scenario.fileLines}); some fresh names were asked twice`);
    if (approval?.warnings.length) for (const w of approval.warnings) console.warn(`  warning: ${target.name} ${scenario.name}: ${w}`);
    return {
      ...r,
      lossPct: (100 * r.lost) / r.sent,
      cpuSeconds: (after - before) / CLK_TCK,
      coreUsPerQuery: (((after - before) / CLK_TCK) * 1e6) / r.completed,
      peakRssMiB,
      ...(logBytes !== undefined ? { logBytes } : {}),
      ...(nft ? { nft } : {}),
      ...(approval ? { ...approval.figures, approval: approval.detail } : {}),
    };
  } finally {
    await stop(t.proc);
    await stop(t.approval?.proc);
    fs.rmSync(t.tdir, { recursive: true, force: true });
  }
}

/**
 * What the approval link did in the measured run, from intentdns's /metrics (after − before) and
 * the service's own counts (warm-up included): held queries decided and answered per second, and
 * every way a hold can fail (timeout, capacity, POST error, link down); for granted, the share
 * answered because of the grant.
 */
function approvalFigures(scenario, r, before, after, service) {
  const d = Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - (before[k] ?? 0)]).filter(([k, v]) => v !== 0 || k.startsWith('holds.')));
  const reasons = Object.fromEntries(Object.entries(d).filter(([k]) => k.startsWith('reason.')).map(([k, v]) => [k.slice(7), v]));
  const holds = Object.fromEntries(Object.entries(d).filter(([k]) => k.startsWith('holds.')).map(([k, v]) => [k.slice(6), v]));
  const warnings = [];
  const figures = {};
  if (scenario.approval === 'hold') {
    figures.decidedQps = (reasons.hold_approved ?? 0) / r.runTime;
    figures.holdTimeouts = reasons.hold_timeout ?? 0;
    figures.holdWaitAvgUs = d['holdWait.count'] ? (1e6 * d['holdWait.sum']) / d['holdWait.count'] : NaN;
    const failed = Object.entries(reasons).filter(([k, v]) => k !== 'hold_approved' && v > 0);
    if (failed.length > 0) warnings.push(`held queries not approved: ${failed.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  } else {
    figures.grantPct = (100 * (reasons.grant ?? 0)) / r.completed;
    if (figures.grantPct < 99.9) warnings.push(`only ${fmt(figures.grantPct, 1)}% answered by the grant: ${JSON.stringify(reasons)}`);
  }
  if (service.unauthorized > 0 || service.badRequests > 0 || service.undelivered > 0) {
    warnings.push(`approval service: ${service.unauthorized} unauthorized, ${service.badRequests} bad requests, ${service.undelivered} decisions with no stream open`);
  }
  if (after.linkUp !== 1) warnings.push('approval link down at the end of the run');
  return { figures, warnings, detail: { reasons, holds, linkUpAtEnd: after.linkUp === 1, grantsActive: after.grantsActive, service } };
}

// --- report ----------------------------------------------------------------------------------

const FIGURES = [
  // key, label, better ('hi' | 'lo'), digits
  ['qps', 'q/s', 'hi'],
  ['coreUsPerQuery', 'core µs/q', 'lo'],
  ['p50Us', 'p50 µs', 'lo'],
  ['p99Us', 'p99 µs', 'lo'],
  ['p999Us', 'p99.9 µs', 'lo'],
  ['avgLatencyUs', 'avg µs', 'lo'],
  ['lossPct', 'loss %', 'lo'],
  ['peakRssMiB', 'peak RSS MiB', 'lo'],
  // held and granted (intentdns only)
  ['decidedQps', 'holds decided q/s', 'hi'],
  ['holdTimeouts', 'hold timeouts', 'lo'],
  ['holdWaitAvgUs', 'hold wait avg µs', 'lo'],
  ['grantPct', '% by grant', 'hi'],
];

const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

function summarise(results, targets, scenarios) {
  const summary = {};
  for (const s of scenarios) {
    for (const t of targets) {
      const rs = results.filter((r) => r.scenario === s.name && r.target === t.name);
      if (rs.length === 0) continue;
      const row = { rounds: rs.length };
      for (const [key] of FIGURES) { const m = median(rs.map((r) => r[key])); if (m !== undefined) row[key] = m; }
      summary[s.name] ??= {};
      summary[s.name][t.name] = row;
    }
  }
  // Ratios of every non-peer target to each peer: target ÷ peer, for every figure.
  for (const [scenario, rows] of Object.entries(summary)) {
    const peerNames = targets.filter((t) => t.peer && rows[t.name]).map((t) => t.name);
    for (const [name, row] of Object.entries(rows)) {
      if (peerNames.includes(name)) continue;
      row.ratio = {};
      for (const peer of peerNames) {
        row.ratio[peer] = {};
        for (const [key] of FIGURES) {
          const a = row[key]; const b = rows[peer][key];
          if (Number.isFinite(a) && Number.isFinite(b) && b !== 0) row.ratio[peer][key] = a / b;
        }
      }
    }
    void scenario;
  }
  return summary;
}

function fmt(x, digits = 0) { return Number.isFinite(x) ? x.toFixed(digits) : '—'; }
function fmtApproval(r) {
  if (r.decidedQps !== undefined) return `  holds decided ${fmtQps(r.decidedQps)} q/s, wait avg ${fmt(r.holdWaitAvgUs)} µs, timeouts ${r.holdTimeouts}`;
  if (r.grantPct !== undefined) return `  by grant ${fmt(r.grantPct, 1)}%`;
  return '';
}
function fmtQps(x) { return Number.isFinite(x) ? (x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0)) : '—'; }

function printTable(summary, targets, scenarios, peers, onlyTargets) {
  const cols = [['qps', 'q/s', fmtQps], ['coreUsPerQuery', 'core µs/q', (x) => fmt(x, 1)], ['avgLatencyUs', 'avg µs', (x) => fmt(x, 0)],
    ['p50Us', 'p50 µs', (x) => fmt(x, 0)], ['p99Us', 'p99 µs', (x) => fmt(x, 0)], ['p999Us', 'p99.9 µs', (x) => fmt(x, 0)],
    ['lossPct', 'loss %', (x) => fmt(x, 2)], ['peakRssMiB', 'RSS MiB', (x) => fmt(x, 0)]];
  const w = 10;
  console.log(`\n${'scenario'.padEnd(11)}${'target'.padEnd(24)}${cols.map(([, h]) => h.padStart(w)).join('')}`);
  for (const s of scenarios) {
    const rows = summary[s.name];
    if (!rows) continue;
    for (const t of targets) {
      const row = rows[t.name];
      if (!row) continue;
      console.log(`${s.name.padEnd(11)}${t.name.padEnd(24)}${cols.map(([k, , f]) => f(row[k]).padStart(w)).join('')}`);
      for (const [peer, ratio] of Object.entries(row.ratio ?? {})) {
        console.log(`${''.padEnd(11)}${`  ÷ ${peer}`.padEnd(24)}${cols.map(([k]) => (Number.isFinite(ratio[k]) ? `${ratio[k].toFixed(2)}×` : '—').padStart(w)).join('')}`);
      }
    }
    // Peers have no equivalent of holds and grants: a row of dashes, so the table says so.
    if (s.intentdnsOnly) {
      for (const t of targets.filter((x) => x.peer && (!onlyTargets || onlyTargets.some((o) => x.name.includes(o))))) {
        console.log(`${s.name.padEnd(11)}${t.name.padEnd(24)}${cols.map(() => '—'.padStart(w)).join('')}`);
      }
    }
  }
  const approvalRows = scenarios.filter((s) => s.approval && summary[s.name]).flatMap((s) => Object.entries(summary[s.name]).map(([name, row]) => [s, name, row]));
  if (approvalRows.length > 0) console.log('');
  for (const [s, name, row] of approvalRows) {
    console.log(s.approval === 'hold'
      ? `${s.name}: ${name}: ${fmtQps(row.decidedQps)} held queries/s decided allow and answered (of ${HOLD_QPS} q/s offered), hold wait avg ${fmt(row.holdWaitAvgUs)} µs, ${fmt(row.holdTimeouts)} hold timeouts`
      : `${s.name}: ${name}: ${fmt(row.grantPct, 1)}% of answers forwarded because of the grant (${GRANT_PATTERN}, role unlisted: sinkhole)`);
  }
  if (!peers) console.log('\n(no peers: run with --peers for dnsdist and unbound and the ratios)');
  console.log('avg µs: dnsperf\'s average latency; p50/p99/p99.9 from dnsperf -v per-query latencies (fixed-rate runs only).');
}

function writeResults({ started, seconds, rounds, fixedQps, pin, tools, results, summary, knotPort }) {
  const dir = path.join(ROOT, 'bench/results');
  fs.mkdirSync(dir, { recursive: true });
  const stamp = started.toISOString().replace(/:\d\d\.\d+Z$/, 'Z').replace(/:/g, '-');
  const file = path.join(dir, `${stamp}.json`);
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim();
  const doc = {
    date: started.toISOString(),
    command: `npm run bench -- ${argv.join(' ')}`.trim(),
    argv: process.argv,
    commit: git || null,
    machine: {
      nproc: NPROC,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      kernel: os.release(),
      memTotalMiB: Math.round(os.totalmem() / 2 ** 20),
      pinning: pin ? { server: Number(pin.server), dnsperfAndKnot: Number(pin.load) } : null,
    },
    versions: tools.versions,
    setup: {
      upstream: `knotd on 127.0.0.1:${knotPort}, zone bench.test (${SUFFIXES} names + ${SUFFIXES} wildcards, TTL 3600)`,
      allow: `${SUFFIXES} suffixes, each as x and *.x`, deny: `${DENIED} suffixes, each as x and *.x`,
      dnsperf: `-c 8 -T 1 -q 100 -t 2 -l ${seconds}; fixed rate -Q ${fixedQps} -v`, seconds, rounds,
      queryFiles: { hit: HIT_NAMES, block: BLOCK_NAMES },
      scenarios: {
        mix: `one file: in every 10 queries 7 cached hits, 2 blocks, 1 fresh miss; sized for ${MIX_QPS} q/s`,
        tcp: 'hit over TCP: dnsperf -m tcp, warmed over TCP',
        held: `role unlisted: hold, fresh names under held.bench.test at -Q ${HOLD_QPS}; bench/approval.js decides each hold allow at once; approval hold_timeout 1500ms, max_pending_holds 100000; intentdns only`,
        granted: `${GRANTED_NAMES} cached names under ${GRANT_PATTERN}, role unlisted: sinkhole, one command.approved for the pattern at connect; intentdns only`,
      },
    },
    summary,
    results,
  };
  fs.writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
  return file;
}

// --- firewall sync (--firewall) ---------------------------------------------------------------

/** The firewall counters from /metrics (cumulative since the server started, warm-up included). */
async function firewallMetrics(httpPort) {
  try {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const sum = (re) => [...text.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);
    return {
      updatesOk: sum(/^intentdns_firewall_updates_total\{[^}]*result="ok"[^}]*\} (\S+)$/gm),
      updatesError: sum(/^intentdns_firewall_updates_total\{[^}]*result="error"[^}]*\} (\S+)$/gm),
      updatesTimeout: sum(/^intentdns_firewall_updates_total\{[^}]*result="timeout"[^}]*\} (\S+)$/gm),
      transactions: sum(/^intentdns_firewall_update_duration_seconds_count(?:\{[^}]*\})? (\S+)$/gm),
      transactionSeconds: sum(/^intentdns_firewall_update_duration_seconds_sum(?:\{[^}]*\})? (\S+)$/gm),
    };
  } catch (err) {
    return { error: String(err) };
  }
}

const minus = (a, b) => (a.error || b.error ? a : Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - b[k]])));

const fmtNft = (n) => (n && !n.error ? `nft: ${n.transactions} transactions (${fmt((1000 * n.transactionSeconds) / n.transactions, 1)} ms avg), ` +
  `updates ok ${n.updatesOk} error ${n.updatesError} timeout ${n.updatesTimeout}` : `nft: ${n?.error ?? '—'}`);

function createNetns() {
  const name = `intentdns-bench-${process.pid}`;
  const r = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip netns add ${name}: ${(r.stderr ?? '').trim()} (needs root and iproute2)`);
  netns = name;
}

function deleteNetns() {
  if (!netns) return;
  spawnSync('ip', ['netns', 'delete', netns], { timeout: 10_000 });
  netns = null;
}

const nftNs = (args) => spawnSync('ip', ['netns', 'exec', netns, 'nft', ...args], { encoding: 'utf8', timeout: 10_000 });

/** Each firewall-on server starts with no table: no run inherits another's elements. */
function resetTable() { nftNs(['delete', 'table', 'inet', FW_TABLE]); }

function setElements(set) {
  const r = nftNs(['-j', 'list', 'set', 'inet', FW_TABLE, set]);
  if (r.status !== 0) return NaN;
  const entry = JSON.parse(r.stdout).nftables.find((x) => x.set);
  return entry?.set.elem?.length ?? 0;
}

/**
 * A fixed-rate probe: `rate` queries a second from `source` (one socket), cycling over `names`,
 * until `done()` is true or `maxMs` has passed; an answer not back within 2 s is lost. Resolves
 * with one sample per query: [sentAt (performance.now() ms), latency µs or NaN, rcode].
 */
async function probe({ port, source, names, rate, done, maxMs }) {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, source, resolve));
  const pending = new Map();   // id → sample
  const samples = [];
  sock.on('message', (msg) => {
    const s = pending.get(msg.readUInt16BE(0));
    if (!s) return;
    pending.delete(msg.readUInt16BE(0));
    s[1] = (performance.now() - s[0]) * 1000; s[2] = msg[3] & 0xf;
  });
  const t0 = performance.now();
  let sent = 0;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      if (done() || now - t0 > maxMs) { clearInterval(timer); resolve(); return; }
      for (const [id, s] of pending) if (now - s[0] > 2000) pending.delete(id);
      while (sent < ((now - t0) / 1000) * rate) {
        const id = sent & 0xffff;
        const s = [performance.now(), NaN, -1];
        pending.set(id, s); samples.push(s);
        sock.send(encodeQuery(id, names[sent % names.length]), port, '127.0.0.1');
        sent++;
      }
    }, 1);
  });
  await new Promise((resolve) => setTimeout(resolve, 2100));   // the last answers, or lost
  sock.close();
  return samples;
}

function probeStats(samples, from = -Infinity, to = Infinity) {
  const w = samples.filter(([at]) => at >= from && at <= to);
  const lat = w.map(([, l]) => l).filter(Number.isFinite).sort((a, b) => a - b);
  const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))];
  return {
    probes: w.length, lost: w.filter(([, l]) => !Number.isFinite(l)).length,
    notNoerror: w.filter(([, l, rc]) => Number.isFinite(l) && rc !== 0).length,
    p50Us: pct(0.5), p99Us: pct(0.99), maxUs: lat[lat.length - 1],
  };
}

async function firewallBench({ dir, tools, pin, knot, files, seconds, rounds, fixedQps, started, onlyScenarios }) {
  createNetns();
  if (pin) spawnSync('taskset', ['-a', '-pc', pin.load, String(process.pid)]);   // the probe beside dnsperf, off the server's core
  const targets = [false, true].map((firewall) => ({
    name: `intentdns (firewall ${firewall ? 'on' : 'off'})`, kind: 'intentdns', queries: 'none', firewall,
    dir, tools, knotPort: knot.port,
  }));
  const k = `${Math.round(fixedQps / 1000)}k`;
  const scenarios = defineScenarios(files, seconds, fixedQps)
    .filter((s) => ['hit', 'miss', `hit@${k}`, `miss@${k}`].includes(s.name))
    .filter((s) => !onlyScenarios || onlyScenarios.includes(s.name));
  console.log(`firewall sync: table inet ${FW_TABLE} in netns ${netns}, scope role, grace 30s, wait 100ms, on_error closed`);
  const results = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 ? targets : [...targets].reverse();
    for (const scenario of scenarios) {
      for (const target of order) {
        const r = await measure({ dir, tools, pin, target, scenario });
        const elements = target.firewall ? setElements('bench_v4') : undefined;
        results.push({ round, scenario: scenario.name, target: target.name, ...r, ...(elements !== undefined ? { elements, nft: r.nft } : {}) });
        console.log(`  round ${round} ${scenario.name.padEnd(10)} ${target.name.padEnd(26)} ${fmtQps(r.qps).padStart(7)} q/s  ` +
          `${fmt(r.coreUsPerQuery, 1)} µs/q  p50 ${fmt(r.p50Us)} p99 ${fmt(r.p99Us)} µs  loss ${fmt(r.lossPct, 2)}%  ${r.rcodes}` +
          (elements !== undefined ? `  set ${elements}  ${fmtNft(r.nft)}` : ''));
      }
    }
  }
  // The burst: 10,000 distinct addresses from 127.0.0.2 while a 1,000 q/s probe on 127.0.0.3 asks cached names.
  const hitNames = fs.readFileSync(files.hit, 'utf8').trim().split('\n').map((l) => l.split(' ')[0]);
  const burst = [];
  if (!onlyScenarios || onlyScenarios.includes('burst')) {
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 ? targets : [...targets].reverse();
      for (const target of order) {
        if (target.firewall) resetTable();
        const t = await startTarget(target, pin);
        try {
          const common = { tools, pin, port: t.port, tdir: t.tdir };
          await dnsperf({ ...common, file: files.hit, seconds, maxRuns: 1 });   // the probe's names are cached
          const quiet = probeStats(await probe({ port: t.port, source: '127.0.0.3', names: hitNames, rate: 1000, done: () => false, maxMs: 3000 }));
          let window = null; let b;
          const probing = probe({ port: t.port, source: '127.0.0.3', names: hitNames, rate: 1000,
            done: () => window?.end !== undefined && performance.now() > window.end + 500, maxMs: 60_000 });
          await new Promise((resolve) => setTimeout(resolve, 500));
          const nftBeforeBurst = target.firewall ? await firewallMetrics(t.httpPort) : undefined;
          window = { start: performance.now() };
          try {
            b = await dnsperf({ ...common, file: files.burst, seconds: 30, maxRuns: 1, source: '127.0.0.2' });
          } finally {
            window.end = performance.now();
          }
          const during = probeStats(await probing, window.start, window.end);
          const elements = target.firewall ? setElements('bench_v4') : undefined;
          const nft = target.firewall ? await firewallMetrics(t.httpPort) : undefined;
          const row = { ...(nft ? { nft: minus(nft, nftBeforeBurst) } : {}), round, target: target.name, quiet, during, burstMs: window.end - window.start,
            burst: { completed: b.completed, lost: b.lost, qps: b.qps, rcodes: b.rcodes, command: b.command }, ...(elements !== undefined ? { elements } : {}) };
          burst.push(row);
          console.log(`  round ${round} burst      ${target.name.padEnd(26)} burst ${fmt(row.burstMs)} ms ${fmtQps(b.qps)} q/s ${b.rcodes}` +
            (elements !== undefined ? `  set ${elements}  ${fmtNft(nft)}` : '') +
            `; probe quiet p50/p99/max ${fmt(quiet.p50Us)}/${fmt(quiet.p99Us)}/${fmt(quiet.maxUs)} µs, during ${fmt(during.p50Us)}/${fmt(during.p99Us)}/${fmt(during.maxUs)} µs` +
            ` (${during.probes} probes, ${during.lost} lost, ${during.notNoerror} not NOERROR)`);
        } finally {
          await stop(t.proc);
          fs.rmSync(t.tdir, { recursive: true, force: true });
        }
      }
    }
  }

  // Report: medians, firewall on − off.
  const med = (rs, key) => median(rs.map((r) => r[key]));
  const summary = {};
  console.log(`\n${'scenario'.padEnd(11)}${'firewall'.padEnd(10)}${['q/s', 'core µs/q', 'avg µs', 'p50 µs', 'p99 µs', 'loss %'].map((h) => h.padStart(10)).join('')}`);
  for (const s of scenarios) {
    summary[s.name] = {};
    for (const t of targets) {
      const rs = results.filter((r) => r.scenario === s.name && r.target === t.name);
      const row = Object.fromEntries(['qps', 'coreUsPerQuery', 'avgLatencyUs', 'p50Us', 'p99Us', 'lossPct'].map((key) => [key, med(rs, key)]));
      summary[s.name][t.firewall ? 'on' : 'off'] = row;
      console.log(`${s.name.padEnd(11)}${(t.firewall ? 'on' : 'off').padEnd(10)}${[fmtQps(row.qps), fmt(row.coreUsPerQuery, 1), fmt(row.avgLatencyUs), fmt(row.p50Us), fmt(row.p99Us), fmt(row.lossPct, 2)].map((x) => x.padStart(10)).join('')}`);
    }
    const { on, off } = summary[s.name];
    const d = (key) => (Number.isFinite(on[key]) && Number.isFinite(off[key]) ? on[key] - off[key] : NaN);
    summary[s.name].added = { qpsPct: (100 * (on.qps - off.qps)) / off.qps, coreUsPerQuery: d('coreUsPerQuery'), avgLatencyUs: d('avgLatencyUs'), p50Us: d('p50Us'), p99Us: d('p99Us') };
    const a = summary[s.name].added;
    console.log(`${''.padEnd(11)}${'on − off'.padEnd(10)}${[`${fmt(a.qpsPct, 1)}%`, fmt(a.coreUsPerQuery, 1), fmt(a.avgLatencyUs), fmt(a.p50Us), fmt(a.p99Us), ''].map((x) => x.padStart(10)).join('')}`);
  }
  if (burst.length > 0) {
    console.log(`\nburst of ${BURST_NAMES} distinct addresses from 127.0.0.2; probe 1,000 q/s of cached names from 127.0.0.3 (µs)`);
    console.log(`${'firewall'.padEnd(10)}${['burst ms', 'burst q/s', 'quiet p50', 'p99', 'max', 'during p50', 'p99', 'max', 'lost'].map((h) => h.padStart(11)).join('')}  burst rcodes`);
    summary.burst = {};
    for (const t of targets) {
      const rs = burst.filter((r) => r.target === t.name);
      const m = (f) => median(rs.map(f));
      const row = {
        burstMs: m((r) => r.burstMs), burstQps: m((r) => r.burst.qps),
        quiet: { p50Us: m((r) => r.quiet.p50Us), p99Us: m((r) => r.quiet.p99Us), maxUs: m((r) => r.quiet.maxUs) },
        during: { p50Us: m((r) => r.during.p50Us), p99Us: m((r) => r.during.p99Us), maxUs: m((r) => r.during.maxUs), lost: m((r) => r.during.lost) },
        rcodes: rs.map((r) => r.burst.rcodes), ...(t.firewall ? { elements: rs.map((r) => r.elements) } : {}),
      };
      summary.burst[t.firewall ? 'on' : 'off'] = row;
      console.log(`${(t.firewall ? 'on' : 'off').padEnd(10)}${[fmt(row.burstMs), fmtQps(row.burstQps), fmt(row.quiet.p50Us), fmt(row.quiet.p99Us), fmt(row.quiet.maxUs),
        fmt(row.during.p50Us), fmt(row.during.p99Us), fmt(row.during.maxUs), fmt(row.during.lost)].map((x) => x.padStart(11)).join('')}  ${row.rcodes.join(' | ')}` +
        (row.elements ? `  set ${row.elements.join(',')}` : ''));
    }
  }
  const outDir = path.join(ROOT, 'bench/results');
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${started.toISOString().replace(/:\d\d\.\d+Z$/, 'Z').replace(/:/g, '-')}-firewall.json`);
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim();
  fs.writeFileSync(file, JSON.stringify({
    date: started.toISOString(), command: `npm run bench -- ${argv.join(' ')}`.trim(), commit: git || null,
    machine: { nproc: NPROC, cpuModel: os.cpus()[0]?.model ?? 'unknown', kernel: os.release(),
      pinning: pin ? { server: Number(pin.server), dnsperfKnotAndProbe: Number(pin.load) } : null },
    versions: tools.versions,
    setup: {
      firewall: `table inet ${FW_TABLE} in a network namespace (nft via ip netns exec), scope role, grace 30s, wait 100ms, on_error closed; each firewall-on server starts with no table`,
      burst: `${BURST_NAMES} names b<j>.s0.bench.test, each its own A record ${burstAddress(0)}…${burstAddress(BURST_NAMES - 1)}, dnsperf -a 127.0.0.2 -n 1; probe: 1,000 q/s of cached hit names from 127.0.0.3 (in the bench process), quiet = 3 s alone, during = probes sent between the burst dnsperf's start and exit`,
      seconds, rounds, fixedQps,
    },
    summary, results, burst,
  }, null, 2) + '\n');
  console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
}

// After every declaration above (a top-level await before them would meet them uninitialised).
if (flag('quick')) {
  await import('./quick.js');
} else {
  await main().catch(async (err) => {
    console.error(`bench: ${err.stack ?? err}`);
    await stopAll();
    process.exit(1);
  });
}
