/**
 * Tunnels as the tools put them on the wire (test/helpers/tunnels.ts), each
 * query through the real decoder and decide() with the role's tunneling
 * section at its defaults, under an allowed wildcard (`*.example.com`, the
 * tunnel's top domain t.example.com), in simulated time. Each test's name
 * says when the stream is caught and by which limit; the figures are those of
 * docs/tunneling.md ("Detection results"). `passed` is what still got through
 * in the stream's hour: a trip lasts until its window ends, then the budget
 * starts over. At the defaults the label-length check cannot trip (63) and
 * entropy only above 4.8 bits: full-size names trip max_name_length at once,
 * everything else runs into the windowed budgets.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { DomainBudgets } from '../../src/decide/domain-budgets.js';
import { decide, NO_GRANTS, NO_QUARANTINE } from '../../src/decide/policy.js';
import { compileRoles } from '../../src/decide/role.js';
import type { Agent } from '../../src/pipeline/types.js';
import { RCODE } from '../../src/wire/constants.js';
import { decodeQuery } from '../../src/wire/query.js';
import * as T from '../helpers/tunnels.js';

const config = parseConfig(`
version: 1
upstreams: { servers: ["127.0.0.1:5300"] }
clients: [{ name: agent-1, match: ["10.0.0.1/32"], role: coding }]
roles:
  coding:
    allow: ["*.example.com", "*.github.com", "*.npmjs.org"]
    unlisted: sinkhole
    tunneling: {}
`, 'streams.yaml');
const agent: Agent = { name: 'agent-1', entry: 'agent-1', address: '10.0.0.1', mode: 'enforce', modeFrom: 'global', role: compileRoles(config.roles).get('coding')! };
const T0 = 1_700_000_000_000;
const DOMAIN = 't.example.com';

interface Outcome {
  /** The first query sinkholed for tunneling: its number (1-based), simulated second and rule. */
  readonly first: { readonly query: number; readonly second: number; readonly rule: string } | null;
  readonly total: number;
  /** Queries forwarded (allowlist) and sinkholed (tunneling). */
  readonly passed: number;
  readonly tripped: number;
  /** Characters below example.com of the distinct names forwarded: what the tunnel got out, as the bytes budget counts it. */
  readonly bytesOut: number;
}

const belowExampleCom = (name: string) => name.length - '.example.com'.length;

/** Every query of `stream` through decode and decide, with one agent's budgets. */
function run(stream: readonly T.TunnelQuery[]): Outcome {
  const budgets = new DomainBudgets({ seed: 7 });
  let first: Outcome['first'] = null;
  let passed = 0;
  let tripped = 0;
  const out = new Set<string>();
  for (const [i, q] of stream.entries()) {
    const decoded = decodeQuery(T.wireQuery(q));
    if (!decoded.ok) throw new Error(`query ${i + 1} refused by the decoder: ${decoded.rejection.reason}`);
    const { name, type } = decoded.query.question;
    const verdict = decide(agent, name, type, NO_GRANTS, NO_QUARANTINE, T0 + q.atMs, budgets);
    if (verdict.reason === 'tunneling') {
      tripped++;
      first ??= { query: i + 1, second: q.atMs / 1000, rule: verdict.rule! };
    } else {
      expect(verdict.reason).toBe('allowlist');
      passed++;
      out.add(name);
    }
  }
  const bytesOut = [...out].reduce((n, name) => n + belowExampleCom(name), 0);
  return { first, total: stream.length, passed, tripped, bytesOut };
}

describe('iodine', () => {
  it('base32 upload, NULL (names as long as a name may be): caught at query 1 (0 s), max_name_length 252 > 180; none of 140 passes', () => {
    const r = run(T.iodineUpload(20_000, { domain: DOMAIN, alphabet: T.BASE32, qtype: T.QT.NULL }));
    expect(r).toEqual({ first: { query: 1, second: 0, rule: 'max_name_length (252 > 180) under example.com' }, total: 140, passed: 0, tripped: 140, bytesOut: 0 });
  });

  it('base64 upload, TXT (upper case folded by the decoder, "+" kept): caught at query 1 (0 s), max_name_length 253 > 180; none of 117 passes', () => {
    const r = run(T.iodineUpload(20_000, { domain: DOMAIN, alphabet: T.BASE64, qtype: T.QT.TXT }));
    expect(r).toEqual({ first: { query: 1, second: 0, rule: 'max_name_length (253 > 180) under example.com' }, total: 117, passed: 0, tripped: 117, bytesOut: 0 });
  });

  it('base128 never reaches the policy: its 8-bit label bytes are REFUSED by the decoder (label_bytes)', () => {
    const [q] = T.iodineUpload(200, { domain: DOMAIN, alphabet: T.BASE128, qtype: T.QT.NULL });
    expect(q!.labels[0]).toMatch(/[\u00bc-\u00fd]/);
    const decoded = decodeQuery(T.wireQuery(q!));
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && [decoded.rejection.reason, decoded.rejection.rcode]).toEqual(['label_bytes', RCODE.REFUSED]);
  });

  it('with -M 60 (short names, one label of 44 characters), CNAME: caught at query 179 (3.56 s), max_bytes_per_domain 8234 > 8192; 178 of 834 pass, 8188 bytes of name', () => {
    const r = run(T.iodineUpload(20_000, { domain: DOMAIN, alphabet: T.BASE32, qtype: T.QT.CNAME, maxName: 60 }));
    // Its 44-character base32 labels stay under 4.8 bits a character: only the hour's bytes stop it,
    // after 178 names of 24 payload bytes each (4272 of the 20 000). Then every query under example.com trips.
    expect(r).toEqual({ first: { query: 179, second: 3.56, rule: 'max_bytes_per_domain (8234 > 8192) under example.com' }, total: 834, passed: 178, tripped: 656, bytesOut: 8188 });
  });

  it('its handshake: caught at query 4 (0.3 s), the fragment-size probe, max_name_length 253 > 180; the version, login and codec check pass', () => {
    const r = run(T.iodineHandshake({ domain: DOMAIN, alphabet: T.BASE32, qtype: T.QT.NULL }));
    expect(r).toMatchObject({ first: { query: 4, second: 0.3, rule: 'max_name_length (253 > 180) under example.com' }, passed: 3, tripped: 1 });
  });

  it('an interactive session (a ping a second, keystrokes, NULL/CNAME/MX/TXT, counters in every name): caught at query 301 (204 s), max_names_per_domain; 548 of 5417 pass in the hour', () => {
    const r = run(T.iodineInteractive(3600, { domain: DOMAIN, alphabet: T.BASE32, qtypes: [T.QT.NULL, T.QT.CNAME, T.QT.MX, T.QT.TXT] }));
    expect(r.first).toEqual({ query: 301, second: 204, rule: 'max_names_per_domain (301 > 300) under example.com' });
    // 300 names pass in the first 10 minutes; in the second the hour's 8192 bytes run out (names of 15 to 20
    // characters below example.com), and the rest of the hour is sinkholed.
    expect(r).toMatchObject({ total: 5417, passed: 548, tripped: 4869, bytesOut: 8190 });
  });
});

describe('dnscat2', () => {
  it('an upload (hex, 62-character labels, TXT/CNAME/MX): caught at query 1 (0 s), max_name_length 253 > 180; none of 184 passes', () => {
    const r = run(T.dnscat2Upload(20_000, { domain: DOMAIN }));
    expect(r).toEqual({ first: { query: 1, second: 0, rule: 'max_name_length (253 > 180) under example.com' }, total: 184, passed: 0, tripped: 184, bytesOut: 0 });
  });

  it('an idle session (an empty MSG with seq/ack a second): caught at query 301 (300 s), max_names_per_domain; then the hour\'s bytes trip', () => {
    const r = run(T.dnscat2Idle(3600, { domain: DOMAIN }));
    expect(r.first).toEqual({ query: 301, second: 300, rule: 'max_names_per_domain (301 > 300) under example.com' });
    // Hex never goes over 4.0 bits a character; each name is 20 characters below example.com ("<18 hex>.t"),
    // so the hour's 8192 bytes end it at the 410th name: 300 in the first window, 109 in the second.
    expect(r).toMatchObject({ total: 3600, passed: 409, tripped: 3191, bytesOut: 8180 });
  });
});

describe('a slow leak under one allowed domain: a 30-character label a second for an hour', () => {
  it('in hex: caught at query 257 (256 s), max_bytes_per_domain 8224 > 8192; 256 of 3600 pass', () => {
    const r = run(T.slowLeak(3600, 30, '0123456789abcdef', DOMAIN));
    expect(r).toEqual({ first: { query: 257, second: 256, rule: 'max_bytes_per_domain (8224 > 8192) under example.com' }, total: 3600, passed: 256, tripped: 3344, bytesOut: 8192 });
  });

  it('in base32: the same, caught at query 257 (256 s), max_bytes_per_domain 8224 > 8192; 256 of 3600 pass (30 base32 characters read at 4.14 bits on average, 4.77 at most, under 4.8)', () => {
    const r = run(T.slowLeak(3600, 30, T.BASE32, DOMAIN));
    expect(r).toEqual({ first: { query: 257, second: 256, rule: 'max_bytes_per_domain (8224 > 8192) under example.com' }, total: 3600, passed: 256, tripped: 3344, bytesOut: 8192 });
  });

  it('what goes unseen: a hex label every 15 s, 240 names of 32 characters an hour (7680 bytes), stays under the budget', () => {
    const r = run(T.slowLeak(3600, 30, '0123456789abcdef', DOMAIN).filter((q) => q.atMs % 15_000 === 0));
    expect(r).toEqual({ first: null, total: 240, passed: 240, tripped: 0, bytesOut: 7680 });
  });
});

describe('ordinary traffic', () => {
  it('an agent installing packages and calling APIs for an hour trips nothing', () => {
    const names = ['api.github.com', 'codeload.github.com', 'objects.github.com', 'registry.npmjs.org', 'www.npmjs.org', 'uploads.github.com'];
    const stream: T.TunnelQuery[] = [];
    for (let s = 0; s < 3600; s++) {
      const name = names[s % names.length]!;
      stream.push({ labels: name.split('.'), qtype: s % 2 === 0 ? T.QT.A : 28, atMs: s * 1000 });
      // And a fresh short name now and then, as a CI run's many hosts (s1-…, runner-…) give.
      if (s % 20 === 0) stream.push({ labels: [`runner-${s % 400}`, 'github', 'com'], qtype: T.QT.A, atMs: s * 1000 + 500 });
    }
    expect(run(stream)).toMatchObject({ first: null, tripped: 0 });
  });
});
