import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { decide, NO_GRANTS, type GrantLookup } from '../../src/decide/policy.js';
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
const coding: Agent = { name: 'ci-runner-1', entry: 'ci-runner-1', address: '10.20.0.11', role: roles.get('coding')! };
const open: Agent = { name: 'x', entry: 'x', address: '10.20.0.12', role: roles.get('open')! };
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
