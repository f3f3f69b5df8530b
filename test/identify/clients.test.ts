import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { compileRoles } from '../../src/decide/role.js';
import { ClientTable } from '../../src/identify/clients.js';

const config = parseConfig(`
version: 1
upstreams: { servers: ["127.0.0.1:5300"] }
clients:
  - { name: ci-runner-1, match: ["10.20.0.11/32"], role: coding }
  - { name: "analytics-{ip}", match: ["10.20.0.0/16", "fd00:20:1::/64"], role: analytics }
roles:
  coding: { unlisted: sinkhole }
  analytics: { unlisted: sinkhole }
`, 'clients.yaml');
const table = new ClientTable(config.clients, compileRoles(config.roles));

describe('ClientTable', () => {
  it('takes the first rule that matches, in config order', () => {
    const agent = table.lookup('10.20.0.11');
    expect(agent?.name).toBe('ci-runner-1');
    expect(agent?.role.name).toBe('coding');
  });

  it('expands {ip} with the source address, IPv4 and IPv6', () => {
    expect(table.lookup('10.20.3.4')?.name).toBe('analytics-10.20.3.4');
    expect(table.lookup('fd00:20:1::7')?.name).toBe('analytics-fd00:20:1::7');
    expect(table.lookup('fd00:20:1::7')?.role.name).toBe('analytics');
  });

  it('matches IPv4 clients seen through a dual-stack socket as ::ffff:a.b.c.d', () => {
    expect(table.lookup('::ffff:10.20.0.11')?.name).toBe('ci-runner-1');
  });

  it('returns null for a source no rule covers', () => {
    expect(table.lookup('10.21.0.1')).toBeNull();
    expect(table.lookup('fd00:20:2::1')).toBeNull();
    expect(table.lookup('127.0.0.1')).toBeNull();
  });

  it('gives the same answer on repeated lookups', () => {
    expect(table.lookup('10.20.9.9')).toBe(table.lookup('10.20.9.9'));
    expect(table.lookup('192.0.2.1')).toBeNull();
    expect(table.lookup('192.0.2.1')).toBeNull();
  });
});
