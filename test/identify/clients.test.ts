import { connect, createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { compileRoles } from '../../src/decide/role.js';
import { canonicalAddress } from '../../src/identify/address.js';
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
const table = new ClientTable(config.clients, compileRoles(config.roles), config.mode);

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

  it('names the client entry that produced the agent, as written: every {ip} agent shares it', () => {
    expect(table.lookup('10.20.3.4')?.entry).toBe('analytics-{ip}');
    expect(table.lookup('fd00:20:1::8')?.entry).toBe('analytics-{ip}');
    expect(table.lookup('10.20.0.11')?.entry).toBe('ci-runner-1');
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

describe('ClientTable: the agent it gives carries its entry and address', () => {
  it('entry is the name as written in clients:, address the source with ::ffff: unwrapped', () => {
    expect(table.lookup('::ffff:10.20.3.4')).toMatchObject({ name: 'analytics-10.20.3.4', entry: 'analytics-{ip}', address: '10.20.3.4' });
    expect(table.lookup('10.20.0.11')).toMatchObject({ name: 'ci-runner-1', entry: 'ci-runner-1', address: '10.20.0.11' });
  });
});

describe('ClientTable.agentNamed / entryNamed / overlaps: what an operator means', () => {
  it.each([
    ['ci-runner-1', { name: 'ci-runner-1', entry: 'ci-runner-1', address: null }],
    ['CI-RUNNER-1', { name: 'ci-runner-1', entry: 'ci-runner-1', address: null }],
    ['analytics-10.20.3.4', { name: 'analytics-10.20.3.4', entry: 'analytics-{ip}', address: '10.20.3.4' }],
    ['Analytics-FD00:20:1:0:0:0:0:7', { name: 'analytics-fd00:20:1::7', entry: 'analytics-{ip}', address: 'fd00:20:1::7' }],
    ['analytics-::ffff:10.20.3.4', { name: 'analytics-10.20.3.4', entry: 'analytics-{ip}', address: '10.20.3.4' }],
    ['analytics-::ffff:a14:304', { name: 'analytics-10.20.3.4', entry: 'analytics-{ip}', address: '10.20.3.4' }],
  ])('%s is %o', (spelled, agent) => {
    expect(table.agentNamed(spelled)).toEqual(agent);
    // The name is the one identify gives that source.
    if (agent.address !== null) expect(table.lookup(agent.address)?.name).toBe(agent.name);
  });

  it.each([
    'ci-runner-2', 'analytics-', 'analytics-10.21.0.1', 'analytics-fd00:20:2::1', 'analytics-10.20.0.11', 'analytics-{ip}', 'analytics-1.2.3', 'xanalytics-10.20.3.4',
  ])('%s is no agent any entry produces', (spelled) => {
    expect(table.agentNamed(spelled)).toBeNull();
  });

  it('entryNamed finds an entry in any case and gives it as written', () => {
    expect(table.entryNamed('ANALYTICS-{IP}')).toBe('analytics-{ip}');
    expect(table.entryNamed('ci-runner-1')).toBe('ci-runner-1');
    expect(table.entryNamed('analytics-10.20.3.4')).toBeNull();
  });

  it('overlaps: a range inside, around or equal to an entry\'s range; not a disjoint one or another family', () => {
    const cidr = (text: string) => {
      const [network = '', prefix = ''] = text.split('/');
      return { network, prefix: Number(prefix), family: network.includes(':') ? 6 : 4, text } as const;
    };
    for (const inside of ['10.20.3.0/24', '10.0.0.0/8', '10.20.0.11/32', 'fd00:20:1::/64', 'fd00:20:1::8/128', 'fd00::/16']) expect(table.overlaps(cidr(inside)), inside).toBe(true);
    for (const outside of ['10.21.0.0/16', '192.0.2.0/24', 'fd00:20:2::/64', '::/128']) expect(table.overlaps(cidr(outside)), outside).toBe(false);
  });
});

describe('canonicalAddress: the spelling a socket reports', () => {
  it.each([
    ['fd00:20:1::0:7', 'fd00:20:1::7'],
    ['FD00:20:1:0:0:0:0:7', 'fd00:20:1::7'],
    ['1:0:0:1:0:0:0:1', '1:0:0:1::1'],
    ['::ffff:10.0.0.1', '10.0.0.1'],
    ['::ffff:a00:1', '10.0.0.1'],
    ['10.0.0.1', '10.0.0.1'],
    ['fe80::0:1%eth0', 'fe80::1%eth0'],
  ])('%s → %s', (text, canonical) => {
    expect(canonicalAddress(text)).toBe(canonical);
  });

  it.each(['', 'nope', '010.0.0.1', '10.0.0.1%eth0', '1.2.3', 'fd00::g'])('%s is no address', (text) => {
    expect(canonicalAddress(text)).toBeNull();
  });

  it('is what a real loopback socket reports for the same address', async () => {
    for (const [listen, dial, spelled] of [['::1', '::1', '0:0:0:0:0:0:0:1'], ['::ffff:127.0.0.1', '127.0.0.1', '::ffff:7f00:1']] as const) {
      const server = createServer();
      const seen = new Promise<string>((resolve) => server.once('connection', (s) => {
        resolve(s.remoteAddress ?? '');
        s.destroy();
      }));
      await new Promise<void>((resolve) => server.listen(0, listen, () => resolve()));
      const client = connect((server.address() as AddressInfo).port, dial);
      client.on('error', () => {});
      const remote = await seen;
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const unwrapped = remote.startsWith('::ffff:') ? remote.slice(7) : remote;
      expect(canonicalAddress(spelled)).toBe(unwrapped);
    }
  });
});
