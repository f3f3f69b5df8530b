/**
 * Firewall sync through the running proxy, with real nft inside a network
 * namespace this file creates and always removes: the table and every role's
 * sets exist once the proxy is up; an allowed answer's addresses (A, AAAA,
 * HTTPS hints) are in the agent's role's sets with timeout = the TTL it got +
 * grace before the answer arrives; a blocked answer opens nothing; and when the
 * set cannot be updated, on_error closed answers SERVFAIL (firewall_error) and
 * on_error open answers.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ZoneRecord } from '../helpers/authority.js';
import { ipBytes } from '../helpers/ip.js';
import { createNamespace, namespaceUnavailable, type Namespace } from '../helpers/netns.js';
import { u16, wireName } from '../helpers/packets.js';
import { startProxy, type Proxy } from '../helpers/proxy.js';

const unavailable = await namespaceUnavailable();
if (unavailable) console.warn(`SKIPPED firewall e2e tests: ${unavailable}`);

const TABLE = 'intentdns_e2e';

function https(v4: readonly string[], v6: readonly string[]): ZoneRecord {
  const param = (key: number, addrs: readonly string[]): Buffer => {
    const value = Buffer.concat(addrs.map(ipBytes));
    return Buffer.concat([u16(key), u16(value.length), value]);
  };
  return { type: 'UNKNOWN_65', data: Buffer.concat([u16(1), wireName(), param(4, v4), param(6, v6)]), ttl: 120 };
}

const ZONE = {
  'api.github.com': [{ type: 'A', data: '10.123.5.1', ttl: 300 }, { type: 'A', data: '10.123.5.2', ttl: 60 }],
  'v6.github.com': [{ type: 'AAAA', data: 'fd00:123::5', ttl: 200 }],
  'svc.github.com': [https(['10.123.6.1'], ['fd00:123::6'])],
  'granted.example': [{ type: 'A', data: '10.123.8.1', ttl: 300 }],
  'evil.example': [{ type: 'A', data: '10.123.7.1', ttl: 300 }],
  'rebind.github.com': [{ type: 'A', data: '127.0.0.1', ttl: 300 }],
};

// 10.123.0.0/16 is private, so block_private (the default) would sinkhole every answer here; the test that needs it turns it on.
const yaml = (onError: 'closed' | 'open', answers = 'block_private: false, max_ttl: 1h') => `
  version: 1
  upstreams: { servers: UPSTREAMS, timeout: 500ms }
  answers: { ${answers} }
  clients: [{ name: agent-1, match: ["127.0.0.1/32"], role: Coding-Bots }]
  roles:
    Coding-Bots: { allow: ["*.github.com"], unlisted: sinkhole }
    other: { allow: ["*.example"] }
  firewall: { table: ${TABLE}, grace: 30s, wait: 2s, on_error: ${onError} }`;

describe.skipIf(unavailable !== null)('firewall sync with real nft in a namespace', () => {
  let ns: Namespace;
  let proxy: Proxy | null = null;

  beforeAll(async () => {
    ns = await createNamespace();
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = null;
  });
  afterAll(async () => {
    await ns?.remove();
  });

  it('at start: the table and every role\'s sets, named as the spec says', async () => {
    proxy = await startProxy({ zone: ZONE, yaml: yaml('closed'), server: { nftCommand: ns.nftCommand } });
    const listing = await ns.nft(`list table inet ${TABLE}`);
    for (const set of ['coding_bots_v4', 'coding_bots_v6', 'other_v4', 'other_v6']) expect(listing).toContain(`set ${set} {`);
  });

  it('an allowed answer\'s addresses are in the role\'s sets, timeout = TTL handed out + grace, before the answer arrives', async () => {
    proxy = await startProxy({ zone: ZONE, yaml: yaml('closed'), server: { nftCommand: ns.nftCommand } });
    const a = await proxy.query('api.github.com', 'A');
    expect(a.log).toMatchObject({ action: 'forward' });
    expect(a.packet.rcode).toBe('NOERROR');
    // Read right after the answer: it was sent only once the set had its addresses.
    const v4 = await ns.elements(TABLE, 'coding_bots_v4');
    // Each address gets the TTL of the record the agent got it in, plus grace.
    expect(a.packet.answers?.map((r) => ('ttl' in r ? r.ttl : null))).toEqual([300, 60]);
    expect(v4.get('10.123.5.1')?.timeout).toBe(330);
    expect(v4.get('10.123.5.2')?.timeout).toBe(90);
    await proxy.query('v6.github.com', 'AAAA');
    expect((await ns.elements(TABLE, 'coding_bots_v6')).get('fd00:123::5')?.timeout).toBe(230);
    // HTTPS address hints are connected to directly: they go in too.
    await proxy.query('svc.github.com', 65 as never);
    expect((await ns.elements(TABLE, 'coding_bots_v4')).get('10.123.6.1')?.timeout).toBe(150);
    expect((await ns.elements(TABLE, 'coding_bots_v6')).get('fd00:123::6')?.timeout).toBe(150);
    expect(await proxy.server.metrics.firewallUpdates.get()).toMatchObject({
      values: expect.arrayContaining([expect.objectContaining({ labels: { result: 'ok' }, value: 3 })]),
    });
    // One series per configured role's set, counting what was written and has not expired.
    const elements = await proxy.server.metrics.registry.getSingleMetric('intentdns_firewall_elements')!.get();
    expect(Object.fromEntries(elements.values.map((v) => [v.labels.set, v.value]))).toEqual({
      coding_bots_v4: 3, coding_bots_v6: 2, other_v4: 0, other_v6: 0,
    });
  });

  it('after a restart, a timeout an earlier run wrote is not shortened', async () => {
    // What an earlier run left: the table, and an address with an hour to go.
    await ns.nft(`add table inet ${TABLE}`);
    await ns.exec(['nft', `add set inet ${TABLE} coding_bots_v4 { type ipv4_addr; flags timeout; }`]);
    await ns.exec(['nft', `add element inet ${TABLE} coding_bots_v4 { 10.123.5.1 timeout 1h }`]);
    proxy = await startProxy({ zone: ZONE, yaml: yaml('closed'), server: { nftCommand: ns.nftCommand } });
    await proxy.query('api.github.com', 'A');
    const v4 = await ns.elements(TABLE, 'coding_bots_v4');
    expect(v4.get('10.123.5.1')?.timeout).toBe(3600);
    expect(v4.get('10.123.5.2')?.timeout).toBe(90);
  });

  it('answers.max_ttl caps the timeout as it caps the TTL', async () => {
    // Before the start: the writer takes what the set holds at start as written (and would not shorten it).
    await ns.nft(`flush set inet ${TABLE} coding_bots_v4`);
    proxy = await startProxy({ zone: ZONE, yaml: yaml('closed', 'block_private: false, max_ttl: 20s'), server: { nftCommand: ns.nftCommand } });
    await proxy.query('api.github.com', 'A');
    expect((await ns.elements(TABLE, 'coding_bots_v4')).get('10.123.5.1')?.timeout).toBe(50);   // min(300, 20) + 30
  });

  it('a grant\'s addresses close with the grant: timeout never past its end + grace', async () => {
    // The approval link goes nowhere (port 9 on loopback): grants are added to the store directly, as the link would.
    const withApproval = yaml('closed') + '\n  approval: { url: "http://127.0.0.1:9" }';
    proxy = await startProxy({ zone: ZONE, yaml: withApproval, server: { nftCommand: ns.nftCommand } });
    const now = Date.now();
    proxy.server.grants.add('agent-1', [{ scope: 'name', name: 'granted.example' }],
      { id: 'cmd_1', command: 'curl https://granted.example', approvedBy: 'alice', expiresAt: now + 20_000 }, now);
    const r = await proxy.query('granted.example', 'A');
    expect(r.log).toMatchObject({ reason: 'grant' });
    // TTL 300, but the grant ends in 20 s: 20 + 30 s of grace at most.
    const timeout = (await ns.elements(TABLE, 'coding_bots_v4')).get('10.123.8.1')?.timeout;
    expect(timeout).toBeGreaterThanOrEqual(49);
    expect(timeout).toBeLessThanOrEqual(50);
  });

  it('a blocked answer opens nothing: not listed, and a rebinding answer check/ sinkholes', async () => {
    proxy = await startProxy({ zone: ZONE, yaml: yaml('closed', 'block_private: true'), server: { nftCommand: ns.nftCommand } });
    expect((await proxy.query('evil.example', 'A')).log?.action).toBe('sinkhole');
    expect((await proxy.query('rebind.github.com', 'A')).log?.reason).toBe('rebinding');
    const v4 = await ns.elements(TABLE, 'coding_bots_v4');
    expect(v4.has('10.123.7.1')).toBe(false);
    expect(v4.has('127.0.0.1')).toBe(false);
  });

  it('on_error closed: a set that cannot be updated gets SERVFAIL, reason firewall_error', async () => {
    proxy = await startProxy({ zone: ZONE, yaml: yaml('closed'), server: { nftCommand: ns.nftCommand } });
    await ns.nft(`delete table inet ${TABLE}`);
    const r = await proxy.query('api.github.com', 'A');
    expect(r.packet.rcode).toBe('SERVFAIL');
    expect(r.log).toMatchObject({ reason: 'firewall_error' });
    expect(await proxy.server.metrics.firewallUpdates.get()).toMatchObject({
      values: expect.arrayContaining([expect.objectContaining({ labels: { result: 'error' }, value: 1 })]),
    });
  });

  it('on_error open: the same failure is answered, and counted', async () => {
    proxy = await startProxy({ zone: ZONE, yaml: yaml('open'), server: { nftCommand: ns.nftCommand } });
    await ns.nft(`delete table inet ${TABLE}`);
    const r = await proxy.query('api.github.com', 'A');
    expect(r.packet.rcode).toBe('NOERROR');
    expect(r.log).toMatchObject({ reason: 'allowlist' });
    expect(await proxy.server.metrics.firewallUpdates.get()).toMatchObject({
      values: expect.arrayContaining([expect.objectContaining({ labels: { result: 'error' }, value: 1 })]),
    });
  });
});

describe('firewall configured but nft missing', () => {
  const missing = { nftCommand: ['/nonexistent/intentdns-test/nft'] };
  let proxy: Proxy | null = null;
  afterEach(async () => {
    await proxy?.close();
    proxy = null;
  });

  it('on_error closed: the proxy does not start, and says the nft binary is missing', async () => {
    await expect(startProxy({ zone: ZONE, yaml: yaml('closed'), server: missing })).rejects.toThrow(/the nft binary is missing/);
  });

  it('on_error open: it starts and answers', async () => {
    proxy = await startProxy({ zone: ZONE, yaml: yaml('open'), server: missing });
    const r = await proxy.query('api.github.com', 'A');
    expect(r.packet.rcode).toBe('NOERROR');
  });
});
