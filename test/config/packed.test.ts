/**
 * The form a Config crosses from the parse worker in (src/config/packed.ts):
 * unpacked, it equals what was packed, presets' sources and every other
 * section included; a Config is plain data, so the rest survives the
 * structured clone as it is.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { PackedConfigError, packConfig, packPatterns, unpackConfig, unpackPatterns } from '../../src/config/packed.js';
import type { Config, NamePattern } from '../../src/config/types.js';
import { TimeSlices } from '../../src/slices.js';
import { dedent } from '../helpers/proxy.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const RESOLV = join(REPO, 'test/fixtures/config/resolv.conf');

/** Every section set, several roles, presets, empty and long lists. */
const EVERYTHING = dedent(`
  version: 1
  mode: audit
  listen: { dns: ["127.0.0.1:5353", "[::1]:5353"], http: "127.0.0.1:9153" }
  upstreams: { servers: [system, "192.0.2.1:53"], timeout: 700ms, strategy: fastest }
  cache: { max_entries: 1000, max_bytes: 2MiB }
  answers: { max_ttl: 30s, block_private: false }
  sinkhole: { response: null-ip, ttl: 3s, hint: "ask at https://approvals.example/" }
  clients:
    - { name: "ci-{ip}", match: ["10.20.0.0/16", "fd00::/8"], role: coding }
    - { name: laptop, match: ["127.0.0.1"], role: plain, mode: enforce }
  roles:
    coding:
      allow: ["@npm", "github.com", "*.github.com", "*.githubusercontent.com", "_dmarc.example.org"]
      deny: [gist.github.com, "*.evil.example"]
      qtypes: [A, AAAA, HTTPS]
      private_ok: ["*.corp.internal"]
      unlisted: hold
      mode: enforce
    plain: { mode: audit }
  approval: { url: "http://127.0.0.1:8080", grant_ttl: 10m, hold_timeout: 25s, internal_suffixes: [corp.internal] }
  admin: { token_file: null }
  log: { level: debug, queries: blocked }
  metrics: { per_agent: true }
  limits: { client_qps: 50, over_limit: refuse }
  firewall: { table: intentdns_t, scope: agent, grace: 10s, wait: 50ms, on_error: open }
`);

const configs: Array<[string, () => Config]> = [
  ['every section', () => parseConfig(EVERYTHING, 'everything.yaml', { resolvConf: RESOLV })],
  ['config/intentdns.yaml', () => loadConfig(join(REPO, 'config/intentdns.yaml'), { resolvConf: RESOLV })],
  ['examples/approval-service/intentdns.yaml', () => loadConfig(join(REPO, 'examples/approval-service/intentdns.yaml'), { resolvConf: RESOLV })],
];

describe('packConfig / unpackConfig', () => {
  it.each(configs)('%s: unpacks to the Config that was packed, after a structured clone', async (_name, load) => {
    const config = load();
    const { config: packed, transfer } = packConfig(config);
    expect(transfer).toHaveLength(config.roles.size * 3);
    const received = structuredClone(packed, { transfer });
    expect(await unpackConfig(received)).toStrictEqual(config);
    // Moved, not copied: what was packed is gone from this side.
    expect(packed.roles.every((r) => r.allow.bytes.byteLength === 0)).toBe(true);
  });

  it('keeps the sources of preset entries and the order of roles and patterns', async () => {
    const config = configs[0]![1]();
    const coding = config.roles.get('coding')!;
    expect(coding.allow.some((p) => p.source.startsWith('@npm:'))).toBe(true);
    const back = await unpackConfig(structuredClone(packConfig(config).config));
    expect([...back.roles.keys()]).toEqual(['coding', 'plain']);
    // The per-role and per-client modes cross too (toStrictEqual above covers them; named here so a drop reads plainly).
    expect([...back.roles.values()].map((r) => r.mode)).toEqual(['enforce', 'audit']);
    expect(back.clients.map((c) => c.mode)).toEqual([null, 'enforce']);
    expect(back.roles.get('coding')!.allow).toEqual(coding.allow);
  });

  it('a Config is plain data: a structured clone of it equals it (no class instance, no function)', () => {
    for (const [, load] of configs) {
      const config = load();
      expect(structuredClone(config)).toStrictEqual(config);
    }
  });
});

describe('packPatterns / unpackPatterns', () => {
  const list = (n: number): NamePattern[] => Array.from({ length: n }, (_, i) => (i % 2
    ? { kind: 'exact', name: `h${i}.lists.test`, source: `h${i}.lists.test` }
    : { kind: 'subtree', name: `w${i}.lists.test`, source: `*.w${i}.lists.test` }));

  it('a long list comes back whole and in order, a slice at a time', async () => {
    const patterns = list(50_000);
    const packed = packPatterns(patterns);
    expect(packed.sources).toEqual([]);
    let turns = 0;
    const ticking = setInterval(() => turns++, 0);
    try {
      expect(await unpackPatterns(packed, new TimeSlices(0))).toEqual(patterns);
    } finally {
      clearInterval(ticking);
    }
    expect(turns).toBeGreaterThan(3);
  });

  it('an empty list', async () => {
    const packed = packPatterns([]);
    expect(packed.count).toBe(0);
    expect(await unpackPatterns(packed, new TimeSlices())).toEqual([]);
  });

  it('a list that does not hold what it says fails loudly', async () => {
    const packed = packPatterns(list(3));
    await expect(unpackPatterns({ ...packed, count: 4 }, new TimeSlices())).rejects.toBeInstanceOf(PackedConfigError);
    expect(() => packPatterns([{ kind: 'exact', name: 'a\nb', source: 'a\nb' }])).toThrow(PackedConfigError);
  });
});
