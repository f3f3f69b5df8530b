// The tunneling signals (spec: "Tunneling and exfiltration signals") against the ordinary-name
// corpus in test/fixtures/ordinary-names/ and its workload sessions, measured with the detector's
// own code from dist/ (build first: npx tsc -p tsconfig.json), so the numbers are the detector's:
// the registrable-domain split and the per-name signals of src/decide/tunneling.ts and
// name-signals.ts, and the fixed-window budgets of domain-budgets.ts in simulated time, each query
// through tunnelingRule() as decide() calls it.
//
//   node bench/tunneling-corpus.js              full report, every tripping name listed
//   node bench/tunneling-corpus.js --brief      the same, at most 15 tripping names per limit
//   node bench/tunneling-corpus.js --defaults   only the false-positive rates at the spec's defaults
//                                               and at TUNNELING_DEFAULTS (the built ones)
//
// test/decide/tunneling-corpus.test.ts asserts the same rates at TUNNELING_DEFAULTS in CI.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(join(root, 'dist', 'decide', 'tunneling.js'))) {
  console.error('dist/ is missing: run npx tsc -p tsconfig.json first');
  process.exit(1);
}
const { splitAtRegistrable, tunnelingRule } = await import('../dist/decide/tunneling.js');
const { nameSignal, labelEntropy, ENTROPY_MIN_LABEL } = await import('../dist/decide/name-signals.js');
const { DomainBudgets } = await import('../dist/decide/domain-budgets.js');
const { TUNNELING_DEFAULTS } = await import('../dist/config/sections/tunneling.js');

const dir = join(root, 'test', 'fixtures', 'ordinary-names');
const brief = process.argv.includes('--brief');
const defaultsOnly = process.argv.includes('--defaults');

/** The spec's values, to set the measured defaults beside. */
const SPEC = Object.freeze({
  action: 'sinkhole', maxLabelLength: 52, maxNameLength: 180, maxLabelEntropy: 4.0, maxNamesPerDomain: 300, maxBytesPerDomain: 8192,
});
const CURRENT = TUNNELING_DEFAULTS;
/** Every limit where it cannot trip: one limit at a time is `{ ...OFF, key: value }`. */
const OFF = Object.freeze({
  action: 'sinkhole', maxLabelLength: 63, maxNameLength: 253, maxLabelEntropy: Infinity,
  maxNamesPerDomain: Number.MAX_SAFE_INTEGER, maxBytesPerDomain: Number.MAX_SAFE_INTEGER,
});
/** The sessions documented to trip the windowed defaults (docs/tunneling.md); every other one is ordinary work. */
const DOCUMENTED_TRIPS = new Set(['cloud-inventory-scan.txt', 'k8s-search-list-expansion.txt']);
const T0 = 1_700_000_000_000;
const AGENT = 'agent-1';
const NAMES_WINDOW_S = 600;
const BYTES_WINDOW_S = 3600;

// nearest-rank percentile of a sorted array
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
const f3 = (x) => x.toFixed(3);
const rate = (n, d) => `${n}/${d} = ${((100 * n) / d).toFixed(2)} %`;
const readLines = (file) => readFileSync(file, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
const show = (limits) => `label ${limits.maxLabelLength}, name ${limits.maxNameLength}, entropy ${limits.maxLabelEntropy.toFixed(1)}, ` +
  `names ${limits.maxNamesPerDomain}/10 min, bytes ${limits.maxBytesPerDomain}/h`;

// ------------------------------------------------------------------------------ corpus
const files = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();
const corpus = []; // { name, cat, sub, labels }: sub is the part below the registrable domain, labels its labels
const seen = new Set();
const perCat = new Map();
for (const f of files) {
  const cat = f.replace(/\.txt$/, '');
  let n = 0;
  for (const name of readLines(join(dir, f))) {
    if (seen.has(name)) continue;
    seen.add(name);
    const sub = name.slice(0, splitAtRegistrable(name).below);
    corpus.push({ name, cat, sub, labels: sub === '' ? [] : sub.split('.') });
    n++;
  }
  perCat.set(cat, n);
}
const N = corpus.length;

/** The names of the corpus the per-name signals trip at `limits`, with what tripped, as the detector returns it. */
const nameTrips = (limits) => corpus.flatMap((c) => {
  const s = nameSignal(c.name, c.sub, limits);
  return s === undefined ? [] : [{ ...c, key: s.key, v: s.value }];
});
const tripCount = (limits) => nameTrips(limits).length;

// ---------------------------------------------------------------------------- sessions
const sdir = join(dir, 'sessions');
const sessions = readdirSync(sdir).filter((f) => f.endsWith('.txt')).sort().map((f) => ({
  f,
  events: readLines(join(sdir, f)).map((l) => {
    const [t, name] = l.split(/\s+/);
    return { ms: Math.round(Number(t) * 1000), name };
  }),
}));

/** One agent's session through tunnelingRule with fresh budgets: every query that tripped, with its rule. */
function runSession(events, limits) {
  const budgets = new DomainBudgets({ seed: 7 });
  const trips = [];
  for (const [i, e] of events.entries()) {
    const rule = tunnelingRule(AGENT, e.name, limits, budgets, T0 + e.ms);
    if (rule !== undefined) trips.push({ query: i + 1, second: e.ms / 1000, name: e.name, rule });
  }
  return trips;
}

/**
 * The largest count a windowed limit reaches in `events` in the detector's fixed windows, and
 * under which domain: the smallest limit that never trips (below it, the first trip happens where
 * the unlimited count first passes it, so tripping is monotone in the limit).
 */
function fixedWindowMax(events, key) {
  const trips = (max) => runSession(events, { ...OFF, [key]: max });
  let lo = 0;
  let hi = 1;
  while (trips(hi).length > 0) hi *= 2;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (trips(mid).length > 0) lo = mid + 1; else hi = mid;
  }
  const domain = lo === 0 ? '-' : trips(lo - 1)[0].rule.replace(/.* under /, '');
  return { value: lo, domain };
}

/** The same count over sliding windows (t - W, t]: the worst case, which fixed windows can only count less of. */
function slidingWindowMax(events, windowS) {
  const byDomain = new Map();
  for (const e of events) {
    const { domain, below } = splitAtRegistrable(e.name);
    if (!byDomain.has(domain)) byDomain.set(domain, []);
    byDomain.get(domain).push({ t: e.ms / 1000, name: e.name, bytes: below });
  }
  let best = { names: 0, bytes: 0 };
  for (const evs of byDomain.values()) {
    const counts = new Map();
    let bytes = 0;
    let lo = 0;
    for (const e of evs) {
      const c = counts.get(e.name) ?? 0;
      if (c === 0) bytes += e.bytes;
      counts.set(e.name, c + 1);
      while (evs[lo].t <= e.t - windowS) {
        const old = evs[lo++];
        const left = counts.get(old.name) - 1;
        if (left === 0) { counts.delete(old.name); bytes -= old.bytes; } else counts.set(old.name, left);
      }
      best = { names: Math.max(best.names, counts.size), bytes: Math.max(best.bytes, bytes) };
    }
  }
  return best;
}

/** A session's trips at `limits`, in one line. */
function tripLine(trips) {
  if (trips.length === 0) return 'none';
  const byKey = new Map();
  for (const t of trips) {
    const key = t.rule.replace(/ .*/, '');
    byKey.set(key, (byKey.get(key) ?? 0) + 1);
  }
  const names = new Set(trips.map((t) => t.name)).size;
  return `${trips.length} queries (${names} distinct names; ${[...byKey].map(([k, n]) => `${k} ${n}`).join(', ')}), ` +
    `first at query ${trips[0].query} (${trips[0].second} s): ${trips[0].rule}`;
}

// ---------------------------------------------------------------------------- --defaults
function falsePositives(title, limits) {
  console.log(`\n${title}: ${show(limits)}`);
  const per = [
    ['max_label_length', { ...OFF, maxLabelLength: limits.maxLabelLength }],
    ['max_name_length', { ...OFF, maxNameLength: limits.maxNameLength }],
    ['max_label_entropy', { ...OFF, maxLabelEntropy: limits.maxLabelEntropy }],
  ];
  for (const [key, only] of per) console.log(`  corpus names tripping ${key}: ${rate(tripCount(only), N)}`);
  console.log(`  corpus names tripping any per-name limit: ${rate(tripCount(limits), N)}`);
  for (const s of sessions) {
    const trips = runSession(s.events, limits);
    const tag = DOCUMENTED_TRIPS.has(s.f) ? 'documented to trip' : 'ordinary';
    console.log(`  session ${s.f} (${tag}): ${tripLine(trips)}`);
  }
}

if (defaultsOnly) {
  console.log(`# Tunneling false positives: ${N} corpus names, ${sessions.length} sessions, through the detector in dist/`);
  falsePositives('spec defaults', SPEC);
  falsePositives('TUNNELING_DEFAULTS', CURRENT);
  process.exit(0);
}

// ------------------------------------------------------------------------ distributions
console.log(`# Tunneling signals vs the ordinary-name corpus (the detector in dist/)`);
console.log(`corpus: ${N} distinct names in ${files.length} categories (${dir.slice(root.length + 1)})`);
for (const [c, n] of perCat) console.log(`  ${String(n).padStart(5)}  ${c}`);

const allLabels = corpus.flatMap((c) => c.name.split('.'));
const judged = corpus.flatMap((c) => c.labels);
const longest = corpus.map((c) => Math.max(0, ...c.labels.map((l) => l.length))).sort((a, b) => a - b);
const nameLens = corpus.map((c) => c.name.length).sort((a, b) => a - b);
const ents = corpus.flatMap((c) => c.labels.filter((l) => l.length >= ENTROPY_MIN_LABEL).map((label) => ({ e: labelEntropy(label), label, name: c.name, cat: c.cat })));
const entSorted = ents.map((x) => x.e).sort((a, b) => a - b);
const allLongest = corpus.map((c) => Math.max(...c.name.split('.').map((l) => l.length)));
console.log(`\n## Distributions`);
console.log(`labels: ${allLabels.length} in all, ${judged.length} below the registrable domain (the only ones judged); ` +
  `${corpus.filter((c) => c.sub === '').length} names have nothing below it`);
console.log(`longest label below the registrable domain, per name: max ${longest.at(-1)}  p99.9 ${pct(longest, 99.9)}  p99 ${pct(longest, 99)}  p50 ${pct(longest, 50)}` +
  `  (counting the registrable domain's labels too: max ${Math.max(...allLongest)}, ${allLongest.filter((n) => n > SPEC.maxLabelLength).length} names over ${SPEC.maxLabelLength})`);
console.log(`name length (${N} names): max ${nameLens.at(-1)}  p99.9 ${pct(nameLens, 99.9)}  p99 ${pct(nameLens, 99)}  p50 ${pct(nameLens, 50)}`);
console.log(`entropy of judged labels >= ${ENTROPY_MIN_LABEL} chars (${ents.length} labels in ${new Set(ents.map((x) => x.name)).size} names): ` +
  `max ${f3(entSorted.at(-1))}  p99.9 ${f3(pct(entSorted, 99.9))}  p99 ${f3(pct(entSorted, 99))}  p90 ${f3(pct(entSorted, 90))}  p50 ${f3(pct(entSorted, 50))}`);

// ------------------------------------------------------------------- per-name defaults
function report(title, trips, fmt) {
  console.log(`\n### ${title}: ${rate(trips.length, N)} of names trip`);
  const byCat = new Map();
  for (const t of trips) byCat.set(t.cat, (byCat.get(t.cat) ?? 0) + 1);
  if (byCat.size) console.log(`by category: ${[...byCat].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}/${perCat.get(c)}`).join(', ')}`);
  const list = [...trips].sort((a, b) => (b.v - a.v) || a.name.localeCompare(b.name));
  for (const t of brief ? list.slice(0, 15) : list) console.log(`  ${fmt(t)}`);
  if (brief && list.length > 15) console.log(`  ... ${list.length - 15} more (run without --brief)`);
}
const byLength = (t) => `${t.v}  ${t.name}  [${t.cat}]`;
for (const [title, limits] of [['spec defaults', SPEC], ['TUNNELING_DEFAULTS', CURRENT]]) {
  console.log(`\n## Per-name limits, one at a time (${title})`);
  report(`max_label_length ${limits.maxLabelLength}`, nameTrips({ ...OFF, maxLabelLength: limits.maxLabelLength }), byLength);
  report(`max_name_length ${limits.maxNameLength}`, nameTrips({ ...OFF, maxNameLength: limits.maxNameLength }), byLength);
  report(`max_label_entropy ${limits.maxLabelEntropy.toFixed(1)}`, nameTrips({ ...OFF, maxLabelEntropy: limits.maxLabelEntropy }),
    (t) => `${f3(t.v)}  ${t.name}  [${t.cat}]`);
}

// What label shapes trip the spec's entropy default: grouped by the parent zone, digits folded.
const shapes = new Map();
for (const t of nameTrips({ ...OFF, maxLabelEntropy: SPEC.maxLabelEntropy })) {
  const key = `${t.cat}: ${t.name.split('.').slice(1).join('.').replace(/[0-9]+/g, '9')}`;
  shapes.set(key, (shapes.get(key) ?? 0) + 1);
}
console.log(`\nentropy ${SPEC.maxLabelEntropy.toFixed(1)} trips by parent zone (digits folded):`);
for (const [k, n] of [...shapes].sort((a, b) => b[1] - a[1]).slice(0, brief ? 20 : 60)) console.log(`  ${String(n).padStart(4)}  ${k}`);

// Judged labels by length: how high their entropy goes (compare with the random table below).
console.log(`\njudged labels >= ${ENTROPY_MIN_LABEL} chars by length: count, max entropy, share > 4.0 / > 4.5`);
for (const [lo, hi] of [[16, 19], [20, 23], [24, 27], [28, 31], [32, 39], [40, 47], [48, 55], [56, 63]]) {
  const b = ents.filter((x) => x.label.length >= lo && x.label.length <= hi);
  if (!b.length) continue;
  const share = (th) => `${((100 * b.filter((x) => x.e > th).length) / b.length).toFixed(0)}%`;
  console.log(`  ${lo}-${hi}: ${String(b.length).padStart(4)} labels, max ${f3(Math.max(...b.map((x) => x.e)))}, > 4.0 ${share(4.0)}, > 4.5 ${share(4.5)}`);
}

console.log(`\nnames tripping max_label_entropy at other thresholds:`);
for (const th of [4.0, 4.1, 4.2, 4.3, 4.4, 4.5, 4.6, 4.7, 4.8]) console.log(`  > ${th.toFixed(1)}: ${rate(tripCount({ ...OFF, maxLabelEntropy: th }), N)}`);
console.log(`names tripping max_label_length at other limits:`);
for (const lim of [40, 45, 50, 52, 55, 56, 58, 60, 62, 63]) console.log(`  > ${lim}: ${rate(tripCount({ ...OFF, maxLabelLength: lim }), N)}`);

// ----------------------------------------------------------- random labels for contrast
// The detector's entropy of random labels as a tunnel encodes them, from a seeded generator.
// Names reach the policy lower-cased (src/wire/query.ts), so base64 is measured as the decoder
// passes it on: its 52 letters fold to 26, each twice as likely.
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const ALPHA = {
  hex: '0123456789abcdef',
  base32: 'abcdefghijklmnopqrstuvwxyz234567',
  base36: 'abcdefghijklmnopqrstuvwxyz0123456789',
  'base64, lower-cased': 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789+'.toLowerCase(),
};
const LENS = [16, 20, 24, 28, 32, 40, 48, 52, 57, 62, 63];
const THS = [4.0, 4.2, 4.4, 4.5, 4.6, 4.7, 4.8];
const SAMPLES = 2000;
console.log(`\n## Entropy of random labels (seeded, ${SAMPLES} labels per cell): mean [p5..p95], and share above thresholds`);
console.log(`(a label of n characters has entropy <= log2(n): 4.000 at 16; hex never exceeds 4.000)`);
for (const [an, alpha] of Object.entries(ALPHA)) {
  const rnd = mulberry32(0x5eed ^ alpha.length);
  console.log(`${an}:`);
  for (const len of LENS) {
    const es = [];
    for (let i = 0; i < SAMPLES; i++) {
      let s = '';
      for (let k = 0; k < len; k++) s += alpha[Math.floor(rnd() * alpha.length)];
      es.push(labelEntropy(s));
    }
    es.sort((a, b) => a - b);
    const mean = es.reduce((s, x) => s + x, 0) / es.length;
    console.log(`  len ${String(len).padStart(2)}: ${f3(mean)} [${f3(pct(es, 5))}..${f3(pct(es, 95))}]  ` +
      THS.map((th) => `>${th.toFixed(1)} ${((100 * es.filter((e) => e > th).length) / es.length).toFixed(0).padStart(3)}%`).join('  '));
  }
}

// ---------------------------------------------------------------------------- sessions
console.log(`\n## Sessions: per registrable domain, the detector's fixed windows (sliding ${NAMES_WINDOW_S} s / ${BYTES_WINDOW_S} s windows in brackets, the worst case)`);
const summary = [];
for (const s of sessions) {
  const { f, events } = s;
  const domains = new Set(events.map((e) => splitAtRegistrable(e.name).domain));
  const sliding = { names: slidingWindowMax(events, NAMES_WINDOW_S).names, bytes: slidingWindowMax(events, BYTES_WINDOW_S).bytes };
  const names = fixedWindowMax(events, 'maxNamesPerDomain');
  const bytes = fixedWindowMax(events, 'maxBytesPerDomain');
  summary.push({ f, names, bytes });
  const dur = Math.max(...events.map((e) => e.ms)) / 1000;
  console.log(`\n${f}: ${events.length} queries, ${new Set(events.map((e) => e.name)).size} distinct names, ${domains.size} registrable domains, ${Math.round(dur)} s`);
  console.log(`  max distinct names / domain / 10 min: ${names.value} (${names.domain}) [${sliding.names}]`);
  console.log(`  max bytes below the domain / hour:    ${bytes.value} (${bytes.domain}) [${sliding.bytes}]`);
  const top = [...domains].map((d) => {
    const own = events.filter((e) => splitAtRegistrable(e.name).domain === d);
    return { d, n: fixedWindowMax(own, 'maxNamesPerDomain').value, b: fixedWindowMax(own, 'maxBytesPerDomain').value };
  }).sort((a, b) => b.n - a.n || b.b - a.b).slice(0, 4);
  console.log(`  top domains: ${top.map((r) => `${r.d} ${r.n} names/${r.b} B`).join(', ')}`);
  console.log(`  trips at the spec defaults:      ${tripLine(runSession(events, SPEC))}`);
  console.log(`  trips at TUNNELING_DEFAULTS:     ${tripLine(runSession(events, CURRENT))}`);
}

// ---------------------------------------------------------------------------- summary
const ordinary = summary.filter((s) => !DOCUMENTED_TRIPS.has(s.f));
const worst = (key) => ordinary.reduce((a, s) => (s[key].value > a[key].value ? s : a));
const wn = worst('names');
const wb = worst('bytes');
console.log(`\n## Summary (ordinary sessions: all but ${[...DOCUMENTED_TRIPS].join(', ')})`);
console.log(`longest judged label: ${longest.at(-1)}; longest name: ${nameLens.at(-1)}; highest judged entropy: ${f3(entSorted.at(-1))}`);
console.log(`worst ordinary session: ${wn.names.value} names (${wn.f}, ${wn.names.domain}), ${wb.bytes.value} bytes (${wb.f}, ${wb.bytes.domain})`);
for (const [title, limits] of [['spec defaults', SPEC], ['TUNNELING_DEFAULTS', CURRENT]]) {
  console.log(`${title} (${show(limits)}): ${rate(tripCount(limits), N)} corpus names trip; ` +
    `ordinary sessions tripping: ${ordinary.filter((s) => runSession(sessions.find((x) => x.f === s.f).events, limits).length > 0).length}/${ordinary.length}`);
}
