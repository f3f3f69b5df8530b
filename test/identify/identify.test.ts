/**
 * The identify stage alone, with a fake `next`: which agent and role a source
 * address gets, the audit flag the mode sets, and that strangers are refused
 * before the chain goes on, in every mode; which mode wins when client, role
 * and the global `mode` disagree.
 */
import { describe, expect, it } from 'vitest';

import type { Mode } from '../../src/config/types.js';
import { parseConfig } from '../../src/config/load.js';
import { compileRoles } from '../../src/decide/role.js';
import { ClientTable } from '../../src/identify/clients.js';
import { IdentifyStage, UNKNOWN_CLIENT } from '../../src/identify/identify.js';
import { Query } from '../../src/pipeline/types.js';
import { mustDecode, queryBytes } from '../helpers/packets.js';
import { fakeNext, NOTHING_UPSTREAM } from '../helpers/fake-next.js';

const config = parseConfig(`
version: 1
upstreams: { servers: ["127.0.0.1:5300"] }
clients:
  - { name: ci-runner-1, match: ["10.20.0.11/32"], role: coding }
  - { name: "analytics-{ip}", match: ["10.30.0.0/16", "fd00:30::/64"], role: analytics }
roles:
  coding: { unlisted: hold }
  analytics: { unlisted: sinkhole }
`, 'identify.yaml');
const roles = compileRoles(config.roles);

/** `mode`: the global mode; no client or role in `config` sets its own. */
function stage(mode: Mode = 'enforce'): IdentifyStage {
  return new IdentifyStage(new ClientTable(config.clients, roles, mode));
}

function queryFrom(client: string, name = 'example.com'): Query {
  return new Query(mustDecode(queryBytes({ name, edns: true })), client, 'udp', 0);
}

describe('IdentifyStage', () => {
  it('a known source gets its agent and role, and the query goes on once', async () => {
    const next = fakeNext();
    const query = queryFrom('10.20.0.11');
    const fetched = await stage().handle(query, next);
    expect(fetched).toBe(NOTHING_UPSTREAM);
    expect(next.calls).toEqual([query]);
    expect(query.agent?.name).toBe('ci-runner-1');
    expect(query.agent?.role).toBe(roles.get('coding'));
    expect(query.audit).toBe(false);
    expect(query.verdict).toBeUndefined();
  });

  it('expands {ip} in the agent name with the source address, IPv4 and IPv6', async () => {
    const v4 = queryFrom('10.30.4.5');
    const v6 = queryFrom('fd00:30::9');
    const next = fakeNext();
    await stage().handle(v4, next);
    await stage().handle(v6, next);
    expect(next.calls).toEqual([v4, v6]);
    expect(v4.agent?.name).toBe('analytics-10.30.4.5');
    expect(v6.agent?.name).toBe('analytics-fd00:30::9');
    expect(v6.agent?.role.name).toBe('analytics');
  });

  it('in audit mode a known agent is marked audit', async () => {
    const next = fakeNext();
    const query = queryFrom('10.20.0.11');
    await stage('audit').handle(query, next);
    expect(query.audit).toBe(true);
    expect(query.agent?.name).toBe('ci-runner-1');
    expect(next.calls).toEqual([query]);
  });

  it('an unknown source is refused as unknown_client and the chain stops there', async () => {
    const next = fakeNext();
    const query = queryFrom('192.0.2.1');
    const fetched = await stage().handle(query, next);
    expect(fetched).toBeNull();
    expect(query.verdict).toEqual(UNKNOWN_CLIENT);
    expect(query.verdict).toMatchObject({ action: 'refuse', reason: 'unknown_client', serve: 'refused' });
    expect(query.agent).toBeUndefined();
    expect(query.goesOn).toBe(false);
    expect(next.calls).toHaveLength(0);
  });

  it('an unknown source is refused in audit mode too: audit never makes an open resolver', async () => {
    const next = fakeNext();
    const query = queryFrom('fd00:99::1');
    const fetched = await stage('audit').handle(query, next);
    expect(fetched).toBeNull();
    expect(query.verdict).toEqual(UNKNOWN_CLIENT);
    expect(query.audit).toBe(false);
    expect(query.goesOn).toBe(false);
    expect(next.calls).toHaveLength(0);
  });

  it('an IPv4 client seen as ::ffff:a.b.c.d on a dual-stack socket matches its v4 rule', async () => {
    const next = fakeNext();
    const exact = queryFrom('::ffff:10.20.0.11');
    const templated = queryFrom('::ffff:10.30.1.2');
    await stage().handle(exact, next);
    await stage().handle(templated, next);
    expect(next.calls).toEqual([exact, templated]);
    expect(exact.agent?.name).toBe('ci-runner-1');
    expect(templated.agent?.name).toBe('analytics-10.30.1.2');
  });
});

describe('the mode that applies: client, else role, else global', () => {
  const modes = parseConfig(`
version: 1
upstreams: { servers: ["127.0.0.1:5300"] }
clients:
  - { name: plain, match: ["10.0.0.1/32"], role: inherits }
  - { name: by-role, match: ["10.0.0.2/32"], role: auditing }
  - { name: role-enforces, match: ["10.0.0.3/32"], role: enforcing }
  - { name: client-audits, match: ["10.0.0.4/32"], role: enforcing, mode: audit }
  - { name: "client-enforces-{ip}", match: ["10.0.1.0/24"], role: auditing, mode: enforce }
roles:
  inherits: { unlisted: forward }
  auditing: { unlisted: sinkhole, mode: audit }
  enforcing: { unlisted: sinkhole, mode: enforce }
`, 'modes.yaml');
  const modeRoles = compileRoles(modes.roles);

  async function identified(global: Mode, client: string, force: Mode | null = null): Promise<Query> {
    const query = queryFrom(client);
    await new IdentifyStage(new ClientTable(modes.clients, modeRoles, global), force).handle(query, fakeNext());
    return query;
  }

  // [source, global mode, audit?, where the mode came from]
  const cases: Array<[string, Mode, boolean, string]> = [
    ['10.0.0.1', 'enforce', false, 'global'],
    ['10.0.0.1', 'audit', true, 'global'],
    ['10.0.0.2', 'enforce', true, 'role'],       // the role's audit over the global enforce
    ['10.0.0.3', 'audit', false, 'role'],        // the role's enforce over the global audit
    ['10.0.0.4', 'enforce', true, 'client'],     // the client's audit over its role's enforce
    ['10.0.1.9', 'audit', false, 'client'],      // the client's enforce over an audit role and an audit global
  ];
  it.each(cases)('%s under global %s: audit %s, from %s', async (client, global, audit, from) => {
    const query = await identified(global, client);
    expect(query.audit).toBe(audit);
    expect(query.agent?.mode).toBe(audit ? 'audit' : 'enforce');
    expect(query.agent?.modeFrom).toBe(from);
  });

  it('every agent an {ip} entry produces shares the entry\'s mode', async () => {
    for (const client of ['10.0.1.1', '10.0.1.200']) {
      const query = await identified('audit', client);
      expect(query.agent?.name).toBe(`client-enforces-${client}`);
      expect(query.audit).toBe(false);
    }
  });

  it('a forced mode (replay\'s enforce) overrides every agent\'s own', async () => {
    for (const client of ['10.0.0.1', '10.0.0.2', '10.0.0.4']) {
      expect((await identified('audit', client, 'enforce')).audit, client).toBe(false);
    }
  });

  it('a stranger is refused whatever the modes say', async () => {
    const query = await identified('audit', '10.0.2.1');
    expect(query.verdict).toEqual(UNKNOWN_CLIENT);
    expect(query.audit).toBe(false);
  });
});
