import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { decide, NO_GRANTS, type GrantLookup } from '../../src/decide/policy.js';
import { DomainBudgets } from '../../src/decide/domain-budgets.js';
import { compileRoles } from '../../src/decide/role.js';
import type { Agent, GrantRef } from '../../src/pipeline/types.js';
import { QTYPE } from '../../src/wire/qtypes.js';

const CONFIG = `
version: 1
upstreams: { servers: ["127.0.0.1:5300"] }
clients:
  - { name: ci-runner-1, match: ["10.20.0.11/32"], role: coding }
roles:
  coding:
    allow: [github.com, "*.github.com", "@npm"]
    deny: [gist.github.com]
    qtypes: [A, AAAA, CNAME, HTTPS, SVCB]
    unlisted: hold
  open:
    unlisted: forward
`;

const config = parseConfig(CONFIG, 'policy.yaml');
const roles = compileRoles(config.roles);
const coding: Agent = { name: 'ci-runner-1', entry: 'ci-runner-1', address: '10.20.0.11', mode: 'enforce', modeFrom: 'global', role: roles.get('coding')! };
const open: Agent = { name: 'x', entry: 'x', address: '10.20.0.12', mode: 'enforce', modeFrom: 'global', role: roles.get('open')! };
const nobodyQuarantined = { match: () => undefined };

const grant: GrantRef = { id: 'cmd_812', command: 'curl https://api.example.com/x', approvedBy: 'alice', expiresAt: Date.now() + 60_000 };
const grantsFor = (agent: string, name: string): GrantLookup => ({
  find: (a, n) => (a === agent && n === name ? grant : undefined),
});

describe('decide', () => {
  it.each([
    ['github.com', 'forward', 'allowlist', 'upstream', 'github.com'],
    ['api.github.com', 'forward', 'allowlist', 'upstream', '*.github.com'],
    ['registry.npmjs.org', 'forward', 'allowlist', 'upstream', '@npm:registry.npmjs.org'],
    ['gist.github.com', 'sinkhole', 'denylist', 'sinkhole', 'gist.github.com'],
    ['example.com', 'hold', 'unlisted', 'review', undefined],
  ])('%s → %s (%s), the agent gets: %s', (name, action, reason, serve, rule) => {
    const d = decide(coding, name, QTYPE.A, NO_GRANTS, nobodyQuarantined, Date.now());
    expect(d).toEqual({ action, reason, serve, ...(rule !== undefined && { rule }) });
  });

  it('refuses a type the role does not list, before looking at the name', () => {
    const d = decide(coding, 'github.com', QTYPE.TXT, NO_GRANTS, nobodyQuarantined, Date.now());
    expect(d.action).toBe('refuse');
    expect(d.reason).toBe('qtype');
    expect(d.serve).toBe('refused');
  });

  it('lets a role without qtypes ask any type', () => {
    expect(decide(open, 'example.com', QTYPE.TXT, NO_GRANTS, nobodyQuarantined, 0)).toEqual({ action: 'forward', reason: 'unlisted', serve: 'upstream' });
  });

  it('forwards a granted name for that agent only, and deny still wins over the grant', () => {
    const grants = grantsFor('ci-runner-1', 'api.example.com');
    expect(decide(coding, 'api.example.com', QTYPE.A, grants, nobodyQuarantined, 0)).toEqual({ action: 'forward', reason: 'grant', serve: 'upstream', grant });
    const other: Agent = { ...coding, name: 'ci-runner-2', entry: 'ci-runner-2' };
    expect(decide(other, 'api.example.com', QTYPE.A, grants, nobodyQuarantined, 0).reason).toBe('unlisted');
    const deniedGrant = grantsFor('ci-runner-1', 'gist.github.com');
    expect(decide(coding, 'gist.github.com', QTYPE.A, deniedGrant, nobodyQuarantined, 0).reason).toBe('denylist');
  });

  it('sinkholes everything of a quarantined agent, allowed and granted names included; the rule names the quarantine entry', () => {
    const quarantined = { match: (a: Agent) => (a.name === 'ci-runner-1' ? 'agent ci-runner-1' : undefined) };
    for (const name of ['github.com', 'api.example.com']) {
      const d = decide(coding, name, QTYPE.A, grantsFor('ci-runner-1', 'api.example.com'), quarantined, 0);
      expect(d).toEqual({ action: 'sinkhole', reason: 'quarantine', serve: 'sinkhole', rule: 'agent ci-runner-1' });
    }
  });
});

describe('decide with tunneling on: quarantine > qtype > deny > tunneling > grant > allow > unlisted', () => {
  const TUNNEL_CONFIG = (action: string) => parseConfig(`
version: 1
upstreams: { servers: ["127.0.0.1:5300"] }
clients:
  - { name: ci-runner-1, match: ["10.20.0.11/32"], role: coding }
roles:
  coding:
    allow: ["*.example.test"]
    deny: ["*.evil.example.test"]
    qtypes: [A, TXT]
    unlisted: sinkhole
    tunneling: { action: ${action}, max_names_per_domain: 3 }
  plain:
    allow: ["*.example.test"]
`, 'tunneling.yaml');
  const agentOf = (action: string, role = 'coding'): Agent => ({ name: 'ci-runner-1', entry: 'ci-runner-1', address: '10.20.0.11', mode: 'enforce', modeFrom: 'global', role: compileRoles(TUNNEL_CONFIG(action).roles).get(role)! });
  /** Three 57-character labels, as iodine fills a name: over the default max_name_length. */
  const fullSize = (parent: string) => `${Array.from({ length: 3 }, () => `${'m'.repeat(21)}0123456789abcdefghijklmnopqrstuvwxyz`).join('.')}.${parent}`;
  const TUNNEL_NAME = fullSize('t.example.test');
  const NAME_RULE = 'max_name_length (188 > 180) under example.test';

  it('sinkholes a tunnel-shaped name inside the allowed wildcard, reason tunneling, the rule naming the limit', () => {
    expect(decide(agentOf('sinkhole'), TUNNEL_NAME, QTYPE.TXT, NO_GRANTS, nobodyQuarantined, 0)).toEqual({
      action: 'sinkhole', reason: 'tunneling', serve: 'sinkhole', rule: NAME_RULE,
    });
  });

  it('lets deny, qtype and quarantine come first', () => {
    const agent = agentOf('sinkhole');
    const denied = fullSize('evil.example.test');
    expect(decide(agent, denied, QTYPE.A, NO_GRANTS, nobodyQuarantined, 0).reason).toBe('denylist');
    expect(decide(agent, TUNNEL_NAME, QTYPE.AAAA, NO_GRANTS, nobodyQuarantined, 0).reason).toBe('qtype');
    expect(decide(agent, TUNNEL_NAME, QTYPE.A, NO_GRANTS, { match: () => 'agent ci-runner-1' }, 0).reason).toBe('quarantine');
  });

  it('is not bypassed by a grant', () => {
    const d = decide(agentOf('sinkhole'), TUNNEL_NAME, QTYPE.A, grantsFor('ci-runner-1', TUNNEL_NAME), nobodyQuarantined, 0);
    expect(d.reason).toBe('tunneling');
  });

  it('with action log, decides as usual and carries the tripped limit in `tunneling`', () => {
    const agent = agentOf('log');
    expect(decide(agent, TUNNEL_NAME, QTYPE.A, NO_GRANTS, nobodyQuarantined, 0)).toEqual({
      action: 'forward', reason: 'allowlist', serve: 'upstream', rule: '*.example.test', tunneling: NAME_RULE,
    });
    expect(decide(agent, TUNNEL_NAME, QTYPE.A, grantsFor('ci-runner-1', TUNNEL_NAME), nobodyQuarantined, 0)).toEqual({
      action: 'forward', reason: 'grant', serve: 'upstream', grant, tunneling: NAME_RULE,
    });
    expect(decide(agent, fullSize('other.test'), QTYPE.A, NO_GRANTS, nobodyQuarantined, 0)).toMatchObject({ reason: 'unlisted', tunneling: expect.stringContaining('other.test') });
  });

  it('spends the agent\'s windowed budgets from the injected state and clock', () => {
    const agent = agentOf('sinkhole');
    const budgets = new DomainBudgets({ seed: 1 });
    const at = (name: string, now: number) => decide(agent, name, QTYPE.A, NO_GRANTS, nobodyQuarantined, now, budgets);
    for (const n of ['a', 'b', 'c']) expect(at(`${n}.example.test`, 0).reason).toBe('allowlist');
    expect(at('d.example.test', 1)).toEqual({ action: 'sinkhole', reason: 'tunneling', serve: 'sinkhole', rule: 'max_names_per_domain (4 > 3) under example.test' });
    expect(at('a.example.test', 2).reason).toBe('tunneling');
    expect(at('a.example.test', 10 * 60_000 + 1).reason).toBe('allowlist');
  });

  it('costs nothing and changes nothing for a role without the section', () => {
    const budgets = new DomainBudgets({ seed: 1 });
    const d = decide(agentOf('sinkhole', 'plain'), TUNNEL_NAME, QTYPE.A, NO_GRANTS, nobodyQuarantined, 0, budgets);
    expect(d).toEqual({ action: 'forward', reason: 'allowlist', serve: 'upstream', rule: '*.example.test' });
    expect(budgets.size).toBe(0);
  });
});
