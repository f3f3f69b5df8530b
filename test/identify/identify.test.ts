/**
 * The identify stage alone, with a fake `next`: which agent and role a source
 * address gets, the audit flag the mode sets, and that strangers are refused
 * before the chain goes on, in every mode.
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

function stage(mode: Mode = 'enforce'): IdentifyStage {
  return new IdentifyStage(new ClientTable(config.clients, roles), mode);
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
