/**
 * Firewall sync, end to end across network namespaces this file creates and
 * always removes: an agent namespace (10.123.1.2) and a server namespace
 * (10.123.2.2 and .3), routed through a router namespace that runs
 * deploy/nftables/agent-egress.nft (its role ranges pointed at the agent). The
 * proxy runs here on loopback and writes the router's sets (its nft runs in
 * the router namespace); the test's DNS queries come from 127.0.0.1, which the
 * config names as that agent. Traffic to 10.123.x.y flows only inside the
 * namespaces.
 *
 * Timeline checked: before resolving, no TCP connection to the server; a
 * denied name pointing at it opens nothing; after resolving an allowed name,
 * the connection opens; a raw IP next to it stays closed; after the answer's
 * TTL + grace, closed again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEgressTopology, type EgressTopology } from '../helpers/egress-topology.js';
import { namespaceUnavailable } from '../helpers/netns.js';
import { startProxy, type Proxy } from '../helpers/proxy.js';

const unavailable = await namespaceUnavailable();
if (unavailable) console.warn(`SKIPPED firewall namespace e2e test: ${unavailable}`);

const AGENT = '10.123.1.2';
const SERVER = '10.123.2.2';
const RAW = '10.123.2.3';
const PORT = 8080;

describe.skipIf(unavailable !== null)('agent → router (agent-egress.nft) → server, sets written by intentdns', () => {
  let topo: EgressTopology | null = null;
  let proxy: Proxy | null = null;
  const timeline: string[] = [];

  beforeAll(async () => {
    // The shipped ruleset, its coding role pointed at the agent's range.
    topo = await startEgressTopology({
      agents: [AGENT], servers: [SERVER, RAW], ports: [PORT],
      ruleset: (text) => text.replace(/^define CODING_AGENTS4 = .*$/m, 'define CODING_AGENTS4 = { 10.123.1.0/24 }'),
    });
    proxy = await startProxy({
      zone: {
        'app.allowed.test': [{ type: 'A', data: SERVER, ttl: 2 }],
        'app.denied.test': [{ type: 'A', data: SERVER, ttl: 300 }],
      },
      yaml: `
        version: 1
        answers: { block_private: false }
        clients: [{ name: agent-1, match: ["127.0.0.1/32"], role: coding }]
        roles: { coding: { allow: ["*.allowed.test"], deny: ["*.denied.test"], unlisted: sinkhole } }
        firewall: { table: intentdns, grace: 0s, wait: 2s, on_error: closed }`,
      server: { nftCommand: topo.nftCommand },
    });
  }, 30_000);

  afterAll(async () => {
    await proxy?.close();
    await topo?.remove();
    if (timeline.length > 0) console.log(`firewall e2e timeline:\n  ${timeline.join('\n  ')}`);
  });

  const step = async (what: string, address: string): Promise<string> => {
    const result = await topo!.connect(AGENT, address, PORT);
    timeline.push(`${new Date().toISOString()} ${what}: connect ${address}:${PORT} → ${result}`);
    return result;
  };

  it('opens exactly what the agent resolved through policy, for as long as the answer lives', async () => {
    expect(await step('before any answer', SERVER)).toBe('timeout');

    const denied = await proxy!.query('app.denied.test', 'A');
    expect(denied.log).toMatchObject({ action: 'sinkhole', reason: 'denylist' });
    expect(await step('after a denied name pointing at it', SERVER)).toBe('timeout');

    const allowed = await proxy!.query('app.allowed.test', 'A');
    expect(allowed.log).toMatchObject({ action: 'forward', reason: 'allowlist' });
    timeline.push(`set after resolving:\n${await topo!.nft('list', 'set', 'inet', 'intentdns', 'coding_v4')}`);
    expect(await step('after resolving app.allowed.test', SERVER)).toBe('open');
    expect(await step('raw IP next to it', RAW)).toBe('timeout');

    // TTL 2 s + grace 0: gone once that has passed.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await step('after TTL + grace', SERVER)).toBe('timeout');
    // The server is still up: resolving again opens it again.
    await proxy!.query('app.allowed.test', 'A');
    expect(await step('after resolving again', SERVER)).toBe('open');

    const counters = await topo!.nft('list', 'chain', 'inet', 'intentdns', 'agent_egress');
    const dropped = /counter packets (\d+) bytes \d+ drop comment "egress not resolved through intentdns"/.exec(counters);
    expect(Number(dropped?.[1])).toBeGreaterThan(0);
    timeline.push(`table after the run:\n${await topo!.nft('list', 'table', 'inet', 'intentdns')}`);
  }, 30_000);
});
