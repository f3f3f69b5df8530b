/**
 * The fast paths against the rules as the spec writes them. What makes a
 * repeated query cheap — the NameSet's memo of each name's rule, the answer
 * cache, the rebinding check judged once per cached answer — must never make
 * a decision the plain rules would not. Random configs (roles with random
 * allow, deny and qtype lists, every `unlisted`) and random names from a
 * small alphabet, so that names share suffixes and rules overlap; every name
 * is decided several times in random order, so the memo answers most of them.
 * The reference below is written from the spec, with linear scans and none of
 * the production structures. A failure prints its seed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { decide, NO_GRANTS, NO_QUARANTINE } from '../../src/decide/policy.js';
import { compileRoles } from '../../src/decide/role.js';
import type { Agent, Verdict } from '../../src/pipeline/types.js';
import { QTYPE } from '../../src/wire/qtypes.js';
import { prng, type Prng } from '../helpers/prng.js';
import { startProxy, type Proxy } from '../helpers/proxy.js';

const SEED = Number(process.env.FAST_PATH_SEED ?? Date.now() % 1_000_000);
const LABELS = ['a', 'b', 'api', 'www', 'cdn', 'x1'];
const TLDS = ['test', 'example'];
const UNLISTED = ['forward', 'sinkhole'] as const;

interface Rule { readonly text: string; readonly exact: boolean; readonly base: string }
interface RoleSpec { readonly name: string; readonly allow: Rule[]; readonly deny: Rule[]; readonly qtypes: string[] | null; readonly unlisted: typeof UNLISTED[number] }

function randomName(r: Prng, maxDepth = 4): string {
  const depth = 1 + r.int(maxDepth);
  return [...Array.from({ length: depth }, () => LABELS[r.int(LABELS.length)]!), TLDS[r.int(TLDS.length)]!].join('.');
}

function randomRules(r: Prng, n: number): Rule[] {
  return Array.from({ length: n }, () => {
    const base = randomName(r, 2);
    const exact = r.int(2) === 0;
    return { text: exact ? base : `*.${base}`, exact, base };
  });
}

function randomRoles(r: Prng): RoleSpec[] {
  return Array.from({ length: 1 + r.int(3) }, (_, i) => ({
    name: `role${i}`,
    allow: randomRules(r, r.int(12)),
    deny: randomRules(r, r.int(6)),
    qtypes: r.int(3) === 0 ? ['A', 'AAAA'] : null,
    unlisted: UNLISTED[r.int(UNLISTED.length)]!,
  }));
}

function yaml(roles: readonly RoleSpec[], clients = ''): string {
  const list = (rules: readonly Rule[]) => `[${rules.map((x) => JSON.stringify(x.text)).join(', ')}]`;
  return `
version: 1
upstreams: { servers: UPSTREAMS, timeout: 500ms }
answers: { block_private: false }
sinkhole: { response: nxdomain, ttl: 5s }
clients:${clients || `\n  - { name: a0, match: ["10.0.0.1/32"], role: ${roles[0]!.name} }`}
roles:
${roles.map((ro) => `  ${ro.name}: { allow: ${list(ro.allow)}, deny: ${list(ro.deny)},${ro.qtypes ? ` qtypes: [${ro.qtypes.join(', ')}],` : ''} unlisted: ${ro.unlisted} }`).join('\n')}
`;
}

/** The rule of `rules` that matches, as the spec says: an exact name, else the nearest `*.` parent; the first written wins a tie. */
function referenceMatch(rules: readonly Rule[], name: string): string | undefined {
  const exact = rules.find((x) => x.exact && x.base === name);
  if (exact) return exact.text;
  let best: Rule | undefined;
  for (const x of rules) {
    if (x.exact || !name.endsWith(`.${x.base}`)) continue;
    if (best === undefined || x.base.length > best.base.length) best = x;
  }
  return best?.text;
}

/** quarantine > qtype > deny > grant > allow > unlisted (no quarantine and no grants here). */
function reference(role: RoleSpec, name: string, qtype: string): Verdict {
  if (role.qtypes && !role.qtypes.includes(qtype)) return { action: 'refuse', reason: 'qtype', serve: 'refused', rule: `qtypes of ${role.name} (${qtype})` };
  const denied = referenceMatch(role.deny, name);
  if (denied !== undefined) return { action: 'sinkhole', reason: 'denylist', serve: 'sinkhole', rule: denied };
  const allowed = referenceMatch(role.allow, name);
  if (allowed !== undefined) return { action: 'forward', reason: 'allowlist', serve: 'upstream', rule: allowed };
  return role.unlisted === 'forward' ? { action: 'forward', reason: 'unlisted', serve: 'upstream' } : { action: 'sinkhole', reason: 'unlisted', serve: 'sinkhole' };
}

describe(`fast paths decide as the plain rules do (FAST_PATH_SEED=${SEED})`, () => {
  it('decide() with the compiled roles and their memo, on 300 random configs, each name asked again and again', () => {
    const r = prng(SEED);
    let decided = 0;
    for (let c = 0; c < 300; c++) {
      const specs = randomRoles(r);
      const roles = compileRoles(parseConfig(yaml(specs).replace('UPSTREAMS', '["127.0.0.1:5300"]'), 'fast-path.yaml').roles);
      const names = Array.from({ length: 40 }, () => randomName(r));
      for (let k = 0; k < 200; k++) {
        const spec = specs[r.int(specs.length)]!;
        const agent: Agent = { name: 'a0', entry: 'a0', address: '10.0.0.1', mode: 'enforce', modeFrom: 'global', role: roles.get(spec.name)! };
        const name = names[r.int(names.length)]!;
        const qtype = r.int(4) === 0 ? 'TXT' : 'A';
        const got = decide(agent, name, QTYPE[qtype], NO_GRANTS, NO_QUARANTINE, Date.now());
        expect(got, `config ${c}, ${spec.name}, ${name} ${qtype}`).toEqual(reference(spec, name, qtype));
        decided++;
      }
    }
    expect(decided).toBe(60_000);
  }, 30_000);   // 300 configs compiled: ≈ 3 s alone, more on a loaded machine

  describe('a running proxy: every name asked twice (the second from the cache and the memo)', () => {
    const r = prng(SEED + 1);
    const specs = randomRoles(r);
    // Two agents per role, so the same names meet every role's lists through the same cache.
    const clients = specs.flatMap((ro, i) => [1, 2].map((j) => `\n  - { name: ${ro.name}-${j}, match: ["127.0.${i + 1}.${j}/32"], role: ${ro.name} }`)).join('');
    const names = [...new Set(Array.from({ length: 80 }, () => randomName(r)))];
    let proxy: Proxy | null = null;
    afterAll(async () => {
      await proxy?.close();
    });

    it(`gives each agent what the rules say (${specs.length} roles, ${names.length} names)`, async () => {
      proxy = await startProxy({
        yaml: yaml(specs, clients),
        zone: Object.fromEntries(names.map((n, i) => [n, [{ type: 'A', data: `198.51.100.${(i % 250) + 1}`, ttl: 300 }]])),
      });
      for (let round = 0; round < 2; round++) {
        for (const [i, spec] of specs.entries()) {
          for (const name of names) {
            const from = `127.0.${i + 1}.${1 + ((round + name.length) % 2)}`;
            const qtype = name.length % 5 === 0 ? 'TXT' : 'A';
            const want = reference(spec, name, qtype);
            const { packet, log } = await proxy.query(name, qtype, { from });
            const where = `round ${round}, ${spec.name} from ${from}, ${name} ${qtype}`;
            expect({ action: log?.action, reason: log?.reason, rule: log?.rule }, where).toEqual({ action: want.action, reason: want.reason, rule: want.rule });
            const rcode = want.serve === 'refused' ? 'REFUSED' : want.serve === 'sinkhole' || qtype === 'TXT' ? 'NXDOMAIN' : 'NOERROR';
            if (qtype === 'A') expect(packet.rcode, where).toBe(rcode);
            if (want.serve === 'upstream' && qtype === 'A') expect(packet.answers, where).toHaveLength(1);
          }
        }
      }
    }, 60_000);
  });
});
