/**
 * The tunneling signals through the running proxy over real sockets: what the
 * agent gets for a tunnel-shaped name inside an allowed wildcard, what the
 * decision log says, what action log lets through, and that the budgets
 * outlive a reload.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Zone } from '../helpers/authority.js';
import { addresses, startProxy, type Proxy } from '../helpers/proxy.js';

const ZONE: Zone = {
  'api.example.test': [{ type: 'A', data: '192.0.2.10' }],
};

/** Three 57-character labels, as iodine fills a name with its data: over the default max_name_length. */
const TUNNEL_DATA = ['baabauaaip45xi4olq1p4or4sgzz5e34rczoejeyau1mxzrftjkelyiy1', 'ya4zd2mt1lp0cq3oxkfw5ib1nae5hr4gv2us0yjz3e1dc4kx5mq2lw0o3', 'tq4b0ex2wj5sl1fh3uo0ri4na2cv5kz1gm3yd0pe4xb2lo5sj1ut3hw2a'].join('.');
const TUNNEL = `${TUNNEL_DATA}.t.example.test`;
const RULE = 'max_name_length (188 > 180) under example.test';

const yaml = (windowMax: number) => `
  version: 1
  upstreams: { servers: UPSTREAMS, timeout: 500ms }
  sinkhole: { response: nxdomain, ttl: 5s }
  log: { queries: all }
  clients:
    - { name: agent-1, match: ["127.0.0.1/32"], role: coding }
    - { name: watcher, match: ["127.0.0.3/32"], role: watched }
  roles:
    coding:
      allow: ["*.example.test", "*.window.test"]
      deny: ["*.evil.example.test"]
      unlisted: sinkhole
      tunneling: { max_names_per_domain: ${windowMax} }
    watched:
      allow: ["*.example.test"]
      unlisted: sinkhole
      tunneling: { action: log }
  # Grants need an approval section; the link goes nowhere (port 9) and grants are added to the store directly.
  approval: { url: "http://127.0.0.1:9" }
`;

describe('tunneling through the running proxy', () => {
  let proxy: Proxy;

  beforeAll(async () => {
    proxy = await startProxy({ zone: ZONE, yaml: yaml(5) });
  });
  afterAll(() => proxy.close());

  const asked = (name: string): number => proxy.authority.queries.filter((q) => q.name === name).length;

  it('sinkholes a tunnel-shaped name inside the allowed wildcard: reason tunneling, the rule in the log, nothing asked upstream', async () => {
    const r = await proxy.query(TUNNEL, 'TXT', { edns: true });
    expect(r.packet.rcode).toBe('NXDOMAIN');
    expect(r.ede).toEqual({ infoCode: 15, text: 'intentdns: tunneling (role coding)' });
    expect(r.log).toMatchObject({ agent: 'agent-1', qtype: 'TXT', action: 'sinkhole', reason: 'tunneling', rule: RULE, rcode: 'NXDOMAIN' });
    expect(r.log).not.toHaveProperty('tunneling');
    expect(asked(TUNNEL)).toBe(0);
    // The same wildcard still answers ordinary names.
    expect(addresses((await proxy.query('api.example.test', 'A')).packet)).toEqual(['192.0.2.10']);
  });

  it('with action log, forwards it and puts the same text in the line\'s tunneling field', async () => {
    const r = await proxy.query(TUNNEL, 'TXT', { from: '127.0.0.3' });
    expect(r.log).toMatchObject({ agent: 'watcher', action: 'forward', reason: 'allowlist', rule: '*.example.test', tunneling: RULE });
    expect(asked(TUNNEL)).toBe(1);
  });

  it('lets deny come first: a tunnel-shaped denied name says denylist', async () => {
    const r = await proxy.query(`${TUNNEL_DATA}.evil.example.test`, 'A');
    expect(r.log).toMatchObject({ action: 'sinkhole', reason: 'denylist', rule: '*.evil.example.test' });
  });

  it('is not bypassed by a grant for the very name', async () => {
    const now = Date.now();
    proxy.server.grants.add('agent-1', [{ scope: 'name', name: TUNNEL }],
      { id: 'cmd_1', command: `dig ${TUNNEL}`, approvedBy: 'alice', expiresAt: now + 60_000 }, now);
    const r = await proxy.query(TUNNEL, 'A');
    expect(r.log).toMatchObject({ action: 'sinkhole', reason: 'tunneling', rule: RULE });
    expect(r.log).not.toHaveProperty('grant');
  });

  it('keeps an agent\'s budget across a reload, and applies the reloaded limits at once', async () => {
    for (let i = 0; i < 5; i++) expect((await proxy.query(`n${i}.window.test`, 'A')).log?.reason).toBe('allowlist');
    await proxy.reload(yaml(5));
    const sixth = await proxy.query('n5.window.test', 'A');
    expect(sixth.log).toMatchObject({ action: 'sinkhole', reason: 'tunneling', rule: 'max_names_per_domain (6 > 5) under window.test' });
    expect((await proxy.query('n0.window.test', 'A')).log?.reason).toBe('tunneling');   // every name of the domain, once tripped
    await proxy.reload(yaml(10));
    expect((await proxy.query('n5.window.test', 'A')).log?.reason).toBe('allowlist');
    expect(await proxy.server.metrics.registry.getSingleMetricAsString('intentdns_tunneling_tracked_domains'))
      .toMatch(/^intentdns_tunneling_tracked_domains 3$/m);   // agent-1 and watcher under example.test, agent-1 under window.test
  });
});

describe('tunneling in audit mode', () => {
  it('forwards the tunnel-shaped name and logs it as the block enforce would make, would_block', async () => {
    const proxy = await startProxy({ zone: ZONE, yaml: `
      version: 1
      mode: audit
      upstreams: { servers: UPSTREAMS, timeout: 500ms }
      log: { queries: blocked }
      clients: [{ name: agent-1, match: ["127.0.0.1/32"], role: coding }]
      roles: { coding: { allow: ["*.example.test"], unlisted: sinkhole, tunneling: {} } }
    ` });
    try {
      const r = await proxy.query(TUNNEL, 'A');
      expect(r.log).toMatchObject({ action: 'sinkhole', reason: 'tunneling', rule: RULE, would_block: true });
      expect(proxy.authority.queries.some((q) => q.name === TUNNEL)).toBe(true);
    } finally {
      await proxy.close();
    }
  });
});
