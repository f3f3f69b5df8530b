// Measures the tunneling signals' defaults (spec: "Tunneling and exfiltration signals") against
// the ordinary-name corpus in test/fixtures/ordinary-names/ and its workload sessions.
//
//   node bench/tunneling-corpus.js            (tripping names listed in full)
//   node bench/tunneling-corpus.js --brief    (at most 15 tripping names per limit)
//
// Plain Node ESM, no build step. The entropy function here is a stand-in (Shannon entropy over
// the characters of one label, in bits per character); the detector's own will replace it.
// Trips are strict, as in the spec's rule text "(301 > 300)": a value trips when it is > max.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getDomain } from 'tldts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'test', 'fixtures', 'ordinary-names');
const brief = process.argv.includes('--brief');

const DEFAULTS = {
  max_label_length: 52,
  max_name_length: 180,
  max_label_entropy: 4.0,
  entropy_min_label: 16,
  max_names_per_domain: 300,
  names_window_s: 600,
  max_bytes_per_domain: 8192,
  bytes_window_s: 3600,
};

export function entropy(label) {
  const counts = new Map();
  for (const c of label) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / label.length;
    h -= p * Math.log2(p);
  }
  return h;
}
const registrable = (name) => getDomain(name, { allowPrivateDomains: true });
// the part of the name below its registrable domain ('' when the name is one, or is a suffix)
function below(name) {
  const d = registrable(name);
  if (!d || d === name) return { domain: d ?? name, sub: '' };
  return { domain: d, sub: name.slice(0, name.length - d.length - 1) };
}
// nearest-rank percentile of a sorted array
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
const f2 = (x) => x.toFixed(2);
const f3 = (x) => x.toFixed(3);
const rate = (n, d) => `${n}/${d} = ${((100 * n) / d).toFixed(2)} %`;
const readLines = (file) => readFileSync(file, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);

// ------------------------------------------------------------------------------ corpus
const files = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();
const corpus = []; // {name, cat}
const seen = new Set();
const perCat = new Map();
for (const f of files) {
  const cat = f.replace(/\.txt$/, '');
  let n = 0;
  for (const name of readLines(join(dir, f))) {
    if (seen.has(name)) continue;
    seen.add(name);
    corpus.push({ name, cat });
    n++;
  }
  perCat.set(cat, n);
}
const N = corpus.length;
console.log(`# Tunneling signals vs the ordinary-name corpus`);
console.log(`corpus: ${N} distinct names in ${files.length} categories (${dir.slice(root.length + 1)})`);
for (const [c, n] of perCat) console.log(`  ${String(n).padStart(5)}  ${c}`);

const labelLens = [];
const nameLens = [];
const ents = []; // {e, label, name, cat}
for (const { name, cat } of corpus) {
  nameLens.push(name.length);
  for (const l of name.split('.')) {
    labelLens.push(l.length);
    if (l.length >= DEFAULTS.entropy_min_label) ents.push({ e: entropy(l), label: l, name, cat });
  }
}
labelLens.sort((a, b) => a - b);
nameLens.sort((a, b) => a - b);
const entSorted = ents.map((x) => x.e).sort((a, b) => a - b);
console.log(`\n## Distributions`);
console.log(`label length (${labelLens.length} labels):  max ${labelLens.at(-1)}  p99.9 ${pct(labelLens, 99.9)}  p99 ${pct(labelLens, 99)}  p50 ${pct(labelLens, 50)}`);
console.log(`name length  (${N} names):   max ${nameLens.at(-1)}  p99.9 ${pct(nameLens, 99.9)}  p99 ${pct(nameLens, 99)}  p50 ${pct(nameLens, 50)}`);
console.log(`entropy of labels >= ${DEFAULTS.entropy_min_label} chars (${ents.length} labels in ${new Set(ents.map((x) => x.name)).size} names):  max ${f3(entSorted.at(-1))}  p99.9 ${f3(pct(entSorted, 99.9))}  p99 ${f3(pct(entSorted, 99))}  p90 ${f3(pct(entSorted, 90))}  p50 ${f3(pct(entSorted, 50))}`);

// ------------------------------------------------------------------- per-name defaults
function report(title, trips, fmt) {
  const names = [...new Map(trips.map((t) => [t.name, t])).values()];
  console.log(`\n### ${title}: ${rate(names.length, N)} of names trip`);
  const byCat = new Map();
  for (const t of names) byCat.set(t.cat, (byCat.get(t.cat) ?? 0) + 1);
  if (byCat.size) console.log(`by category: ${[...byCat].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}/${perCat.get(c)}`).join(', ')}`);
  const list = [...trips].sort((a, b) => (b.v - a.v) || a.name.localeCompare(b.name));
  for (const t of brief ? list.slice(0, 15) : list) console.log(`  ${fmt(t)}`);
  if (brief && list.length > 15) console.log(`  ... ${list.length - 15} more (run without --brief)`);
  return names.length;
}
console.log(`\n## Per-name defaults`);
const labelTrips = [];
for (const { name, cat } of corpus) for (const l of name.split('.')) if (l.length > DEFAULTS.max_label_length) labelTrips.push({ name, cat, v: l.length, l });
report(`max_label_length ${DEFAULTS.max_label_length}`, labelTrips, (t) => `${t.v}  ${t.name}  [${t.cat}]`);
const nameTrips = corpus.filter((c) => c.name.length > DEFAULTS.max_name_length).map((c) => ({ ...c, v: c.name.length }));
report(`max_name_length ${DEFAULTS.max_name_length}`, nameTrips, (t) => `${t.v}  ${t.name}  [${t.cat}]`);
const entTrips = ents.filter((x) => x.e > DEFAULTS.max_label_entropy).map((x) => ({ ...x, v: x.e }));
report(`max_label_entropy ${DEFAULTS.max_label_entropy}`, entTrips, (t) => `${f3(t.v)}  len ${t.label.length}  ${t.name}  [${t.cat}]`);

// What label shapes trip the entropy default: group by the label with digits/hex runs abstracted.
const shapes = new Map();
for (const t of entTrips) {
  const key = `${t.cat}: ${t.name.split('.').slice(1).join('.').replace(/[0-9]+/g, '9')}`;
  shapes.set(key, (shapes.get(key) ?? 0) + 1);
}
console.log(`\nentropy trips by parent zone (digits folded):`);
for (const [k, n] of [...shapes].sort((a, b) => b[1] - a[1]).slice(0, brief ? 20 : 60)) console.log(`  ${String(n).padStart(4)}  ${k}`);

// Ordinary labels by length: how high their entropy goes (compare with the random table below).
console.log(`\nordinary labels >= ${DEFAULTS.entropy_min_label} chars by length: count, max entropy, share > 4.0 / > 4.5`);
for (const [lo, hi] of [[16, 19], [20, 23], [24, 27], [28, 31], [32, 39], [40, 47], [48, 55], [56, 63]]) {
  const b = ents.filter((x) => x.label.length >= lo && x.label.length <= hi);
  if (!b.length) continue;
  const mx = Math.max(...b.map((x) => x.e));
  const share = (th) => `${((100 * b.filter((x) => x.e > th).length) / b.length).toFixed(0)}%`;
  console.log(`  ${lo}-${hi}: ${String(b.length).padStart(4)} labels, max ${f3(mx)}, > 4.0 ${share(4.0)}, > 4.5 ${share(4.5)}`);
}

// Trips at candidate thresholds, to pick a value with a margin.
console.log(`\nnames tripping the entropy check at other thresholds (labels >= ${DEFAULTS.entropy_min_label}):`);
for (const th of [4.0, 4.1, 4.2, 4.3, 4.4, 4.5, 4.6, 4.7, 4.8]) {
  const n = new Set(ents.filter((x) => x.e > th).map((x) => x.name)).size;
  console.log(`  > ${th.toFixed(1)}: ${rate(n, N)}`);
}
console.log(`names tripping the label-length check at other limits:`);
for (const lim of [52, 55, 58, 60, 62, 63]) {
  const n = corpus.filter((c) => c.name.split('.').some((l) => l.length > lim)).length;
  console.log(`  > ${lim}: ${rate(n, N)}`);
}

// ----------------------------------------------------------- random labels for contrast
// Shannon entropy of random labels as a tunnel encodes them, from a seeded generator.
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
  'base64 (case kept)': 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
};
const LENS = [16, 17, 20, 24, 28, 32, 40, 48, 52, 56, 63];
const THS = [4.0, 4.2, 4.4, 4.5, 4.6, 4.7, 4.8];
const SAMPLES = 2000;
console.log(`\n## Entropy of random labels (seeded, ${SAMPLES} labels per cell): mean [p5..p95], and share above thresholds`);
console.log(`(a label of n characters has entropy <= log2(n): 4.000 at 16, 4.087 at 17; hex never exceeds 4.000)`);
const randomStats = {};
for (const [an, alpha] of Object.entries(ALPHA)) {
  const rnd = mulberry32(0x5eed ^ alpha.length);
  console.log(`${an}:`);
  randomStats[an] = {};
  for (const len of LENS) {
    const es = [];
    for (let i = 0; i < SAMPLES; i++) {
      let s = '';
      for (let k = 0; k < len; k++) s += alpha[Math.floor(rnd() * alpha.length)];
      es.push(entropy(s));
    }
    es.sort((a, b) => a - b);
    const mean = es.reduce((s, x) => s + x, 0) / es.length;
    const above = THS.map((th) => es.filter((e) => e > th).length / es.length);
    randomStats[an][len] = above;
    console.log(`  len ${String(len).padStart(2)}: ${f3(mean)} [${f3(pct(es, 5))}..${f3(pct(es, 95))}]  ` +
      THS.map((th, i) => `>${th.toFixed(1)} ${(100 * above[i]).toFixed(0).padStart(3)}%`).join('  '));
  }
}

// ---------------------------------------------------------------------------- sessions
console.log(`\n## Sessions (sliding windows: names ${DEFAULTS.names_window_s} s, bytes ${DEFAULTS.bytes_window_s} s)`);
const sdir = join(dir, 'sessions');
const sessionFiles = readdirSync(sdir).filter((f) => f.endsWith('.txt')).sort();
// max over windows (t-W, t] of the distinct names (and their sub-part bytes) per domain
function windowMax(events, W) {
  // events: [t, name, sub] sorted by t, one domain
  const counts = new Map();
  let bytes = 0;
  let best = { names: 0, bytes: 0 };
  let lo = 0;
  for (let hi = 0; hi < events.length; hi++) {
    const [t, name, sub] = events[hi];
    const c = counts.get(name) ?? 0;
    if (c === 0) bytes += sub.length;
    counts.set(name, c + 1);
    while (events[lo][0] <= t - W) {
      const [, n2, s2] = events[lo];
      const c2 = counts.get(n2) - 1;
      if (c2 === 0) { counts.delete(n2); bytes -= s2.length; } else counts.set(n2, c2);
      lo++;
    }
    if (counts.size > best.names) best.names = counts.size;
    if (bytes > best.bytes) best.bytes = bytes;
  }
  return best;
}
const summary = [];
for (const f of sessionFiles) {
  const events = readLines(join(sdir, f)).map((l) => {
    const [t, name] = l.split(/\s+/);
    return [Number(t), name, ...Object.values(below(name))];
  });
  const byDomain = new Map();
  for (const [t, name, domain, sub] of events) {
    if (!byDomain.has(domain)) byDomain.set(domain, []);
    byDomain.get(domain).push([t, name, sub]);
  }
  const rows = [];
  for (const [d, evs] of byDomain) {
    evs.sort((a, b) => a[0] - b[0]);
    const n = windowMax(evs, DEFAULTS.names_window_s).names;
    const b = windowMax(evs, DEFAULTS.bytes_window_s).bytes;
    rows.push({ d, n, b });
  }
  const dur = Math.max(...events.map((e) => e[0]));
  const distinct = new Set(events.map((e) => e[1])).size;
  const topN = [...rows].sort((a, b) => b.n - a.n)[0];
  const topB = [...rows].sort((a, b) => b.b - a.b)[0];
  summary.push({ f, topN, topB });
  console.log(`\n${f}: ${events.length} queries, ${distinct} distinct names, ${byDomain.size} registrable domains, ${Math.round(dur)} s`);
  console.log(`  max distinct names / domain / 10 min: ${topN.n} (${topN.d})  vs ${DEFAULTS.max_names_per_domain}${topN.n > DEFAULTS.max_names_per_domain ? '  TRIPS' : ''}`);
  console.log(`  max subdomain bytes / domain / hour:  ${topB.b} (${topB.d})  vs ${DEFAULTS.max_bytes_per_domain}${topB.b > DEFAULTS.max_bytes_per_domain ? '  TRIPS' : ''}`);
  const names = [...new Set(events.map((e) => e[1]))];
  const longL = names.filter((n) => n.split('.').some((l) => l.length > DEFAULTS.max_label_length));
  const highE = names.filter((n) => n.split('.').some((l) => l.length >= DEFAULTS.entropy_min_label && entropy(l) > DEFAULTS.max_label_entropy));
  console.log(`  distinct names tripping max_label_length ${DEFAULTS.max_label_length}: ${longL.length}, max_label_entropy ${DEFAULTS.max_label_entropy}: ${highE.length}${highE.length ? ` (e.g. ${highE.slice(0, 3).join(', ')})` : ''}`);
  const top = [...rows].sort((a, b) => b.n - a.n || b.b - a.b).slice(0, 4);
  console.log(`  top domains: ${top.map((r) => `${r.d} ${r.n} names/${r.b} B`).join(', ')}`);
}

// ---------------------------------------------------------------------------- proposal
const maxLabel = labelLens.at(-1);
const maxName = nameLens.at(-1);
const maxEnt = entSorted.at(-1);
const ordinary = summary.filter((s) => !s.f.startsWith('k8s-'));
const maxSessN = Math.max(...ordinary.map((s) => s.topN.n));
const maxSessB = Math.max(...ordinary.map((s) => s.topB.b));
console.log(`\n## Summary (sessions: k8s-search-list-expansion excluded as deployment-dependent)`);
console.log(`max_label_length ${DEFAULTS.max_label_length}: corpus max ${maxLabel}; ${maxLabel > DEFAULTS.max_label_length ? 'TRIPS' : 'ok'}`);
console.log(`max_name_length ${DEFAULTS.max_name_length}: corpus max ${maxName}; ${maxName > DEFAULTS.max_name_length ? 'TRIPS' : `ok (margin ${DEFAULTS.max_name_length - maxName})`}`);
console.log(`max_label_entropy ${DEFAULTS.max_label_entropy}: corpus max ${f3(maxEnt)}; ${maxEnt > DEFAULTS.max_label_entropy ? 'TRIPS' : 'ok'}`);
console.log(`max_names_per_domain ${DEFAULTS.max_names_per_domain}: session max ${maxSessN}; ${maxSessN > DEFAULTS.max_names_per_domain ? 'TRIPS' : `ok (margin ${(DEFAULTS.max_names_per_domain / maxSessN).toFixed(1)}x)`}`);
console.log(`max_bytes_per_domain ${DEFAULTS.max_bytes_per_domain}: session max ${maxSessB}; ${maxSessB > DEFAULTS.max_bytes_per_domain ? 'TRIPS' : `ok (margin ${(DEFAULTS.max_bytes_per_domain / maxSessB).toFixed(1)}x)`}`);
