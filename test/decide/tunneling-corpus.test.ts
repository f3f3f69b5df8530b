/**
 * The tunneling defaults against ordinary work: every name of the committed
 * corpus and every query of each workload session through decide() with a
 * role whose `tunneling: {}` takes every default, the sessions in simulated
 * time with one agent's budgets. A default that would sinkhole ordinary names
 * fails here; docs/tunneling.md ("False positives") has the measurement
 * (bench/tunneling-corpus.js) these assertions hold to.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { DomainBudgets, NO_BUDGETS } from '../../src/decide/domain-budgets.js';
import { decide, NO_GRANTS, NO_QUARANTINE } from '../../src/decide/policy.js';
import { compileRoles } from '../../src/decide/role.js';
import type { Agent } from '../../src/pipeline/types.js';
import { QTYPE } from '../../src/wire/qtypes.js';
import { ordinaryNames, sessions, type SessionQuery } from '../helpers/ordinary-names.js';

const T0 = 1_700_000_000_000;

function agentWith(tunneling: string): Agent {
  const config = parseConfig(`
version: 1
upstreams: { servers: ["127.0.0.1:5300"] }
clients: [{ name: agent-1, match: ["10.0.0.1/32"], role: coding }]
roles:
  coding:
    unlisted: forward
    tunneling: ${tunneling}
`, 'corpus.yaml');
  return { name: 'agent-1', entry: 'agent-1', address: '10.0.0.1', mode: 'enforce', modeFrom: 'global', role: compileRoles(config.roles).get('coding')! };
}
const atDefaults = agentWith('{}');

const corpus = ordinaryNames();
const allSessions = sessions();
/** Documented in docs/tunneling.md as tripping the windowed defaults, with the limit and the domain. */
const TRIPPING = new Map([
  ['cloud-inventory-scan.txt', 'max_names_per_domain (301 > 300) under amazonaws.com'],
  ['k8s-search-list-expansion.txt', 'max_bytes_per_domain (8212 > 8192) under globex-agents.internal'],
]);

/** The corpus names a name's own signals sinkhole for `agent` (every name a first query: no budgets). */
const sinkholedNames = (agent: Agent) =>
  corpus.filter(({ name }) => decide(agent, name, QTYPE.A, NO_GRANTS, NO_QUARANTINE, T0, NO_BUDGETS).reason === 'tunneling').map((c) => c.name);

/** The rules of the queries of a session that trip, in order, with one agent's budgets. */
function trips(queries: readonly SessionQuery[], agent = atDefaults): string[] {
  const budgets = new DomainBudgets({ seed: 7 });
  return queries.flatMap((q) => {
    const verdict = decide(agent, q.name, QTYPE.A, NO_GRANTS, NO_QUARANTINE, T0 + q.ms, budgets);
    return verdict.reason === 'tunneling' ? [verdict.rule!] : [];
  });
}

describe('the ordinary-name corpus at the tunneling defaults', () => {
  it('is the committed corpus: 6,135 names in 15 categories, 10 sessions', () => {
    expect(corpus).toHaveLength(6135);
    expect(new Set(corpus.map((c) => c.category)).size).toBe(15);
    expect(allSessions.map((s) => s.file)).toEqual(expect.arrayContaining([...TRIPPING.keys()]));
    expect(allSessions).toHaveLength(10);
  });

  it('sinkholes none of its names', () => {
    expect(sinkholedNames(atDefaults)).toEqual([]);
  });

  it('would sinkhole ordinary names at the spec\'s max_label_length 52 (3) and max_label_entropy 4.0 (134): what the defaults were moved for', () => {
    expect(sinkholedNames(agentWith('{ max_label_length: 52 }')).sort()).toEqual([
      'aws-sam-cli-managed-default-samclisourcebucket-ps26umpxx9ywx.s3-accelerate.amazonaws.com',
      'aws-sam-cli-managed-default-samclisourcebucket-wv2j6ntanb4m.s3-accelerate.amazonaws.com',
      'cobalt-warehouse-terraform-state-staging-ap-southeast-3.s3-ap-southeast-3.amazonaws.com',
    ]);
    expect(sinkholedNames(agentWith('{ max_label_entropy: 4.0 }'))).toHaveLength(134);
  });

  it.each(allSessions.filter((s) => !TRIPPING.has(s.file)).map((s) => [s.file, s.queries] as const))(
    'trips nothing in the ordinary session %s', (_, queries) => {
      expect(trips(queries)).toEqual([]);
    },
  );

  it.each([...TRIPPING].map(([file, rule]) => [file, rule, allSessions.find((s) => s.file === file)!.queries] as const))(
    'trips in %s, as documented: %s, and only under that domain', (_, rule, queries) => {
      const tripped = trips(queries);
      expect(tripped[0]).toBe(rule);
      const domain = rule.replace(/.* under /, '');
      expect(tripped.every((r) => r.endsWith(` under ${domain}`))).toBe(true);
    },
  );
});
