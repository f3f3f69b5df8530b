/**
 * Quarantine on a running proxy, attacked the ways issue 8 found open:
 *   (a) a query that waited (a hold, a slow upstream) while its agent was
 *       quarantined left with its real answer;
 *   (b) a name spelled another way than identify spells it ("CI-1",
 *       "v6-0:0:0:0:0:0:0:1") was answered 200 and cut nobody off;
 *   (c) an `{ip}` agent walked out of its quarantine by using the next address.
 */
import { afterEach, describe, expect, it } from 'vitest';

import type { Zone } from '../helpers/authority.js';
import { startApprovalProxy, type ApprovalProxy } from '../helpers/approval-proxy.js';
import { startProxy, type Proxy } from '../helpers/proxy.js';
import { waitFor } from '../helpers/wait-for.js';

const ZONE: Zone = {
  'github.com': [{ type: 'A', data: '140.82.121.3' }, { type: 'AAAA', data: '2606:50c0:8000::153' }],
  'held.example.org': [{ type: 'A', data: '192.0.2.20' }],
};

let ap: ApprovalProxy | null = null;
let proxy: Proxy | null = null;
afterEach(async () => {
  await ap?.close();
  await proxy?.close();
  ap = null;
  proxy = null;
});

interface ApiReply {
  status: number;
  body: Record<string, unknown>;
}

async function api(p: Proxy, method: string, path: string, body?: unknown): Promise<ApiReply> {
  const address = p.server.httpAddress();
  if (!address) throw new Error('the proxy has no HTTP listener');
  const res = await fetch(`http://127.0.0.1:${address.port}${path}`, {
    method,
    ...(body !== undefined && { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('quarantine (a): checked again when an answer leaves after waiting', () => {
  it('a query held before the quarantine and allowed after it gets the quarantine answer, not the real one', async () => {
    ap = await startApprovalProxy({ zone: ZONE, http: true, approval: { hold_timeout: '3s' } });
    const pending = ap.proxy.query('held.example.org', 'A', { timeoutMs: 4000, edns: true });
    const hold = await ap.holdFor('held.example.org');

    expect((await api(ap.proxy, 'POST', '/v1/agents/ci-1/quarantine')).status).toBe(200);
    ap.service.send('hold.decided', { hold_id: hold.hold_id, decision: 'allow', scope: 'name', decided_by: 'bob' });

    const reply = await pending;
    expect(reply.packet.rcode).toBe('NXDOMAIN');
    expect(reply.packet.answers).toEqual([]);
    expect(reply.ede?.text).toContain('quarantine');
    expect(reply.log).toMatchObject({ agent: 'ci-1', action: 'sinkhole', reason: 'quarantine', hold_id: hold.hold_id });
  });

  it('a forwarded query whose upstream answers after the quarantine gets the quarantine answer', async () => {
    proxy = await startProxy({
      zone: ZONE, http: true,
      yaml: `
        version: 1
        upstreams: { servers: UPSTREAMS, timeout: 3s }
        clients: [{ name: ci-1, match: ["127.0.0.1/32"], role: coding }]
        roles: { coding: { allow: [github.com] } }`,
    });
    proxy.authority.behave({ mode: 'delay', delayMs: 400 });
    const pending = proxy.query('github.com', 'A', { timeoutMs: 3000 });
    await waitFor(() => proxy!.authority.queries.length > 0, { what: 'the upstream asked' });

    expect((await api(proxy, 'POST', '/v1/agents/ci-1/quarantine')).status).toBe(200);
    const reply = await pending;
    expect(reply.packet.rcode).toBe('NXDOMAIN');
    expect(reply.log).toMatchObject({ agent: 'ci-1', action: 'sinkhole', reason: 'quarantine' });
  });
});

describe('quarantine (b): names are canonicalised, and a name nobody can be is said to be unknown', () => {
  it('another spelling of an agent (upper case, a non-canonical IPv6 address) quarantines that agent', async () => {
    proxy = await startProxy({
      zone: ZONE, http: true, listen: ['127.0.0.1', '::1'],
      yaml: `
        version: 1
        clients:
          - { name: ci-1, match: ["127.0.0.1/32"], role: coding }
          - { name: "v6-{ip}", match: ["::1/128"], role: coding }
        roles: { coding: { allow: [github.com] } }`,
    });
    const upper = await api(proxy, 'POST', '/v1/agents/CI-1/quarantine');
    expect(upper).toEqual({ status: 200, body: { agent: 'ci-1', known: true, quarantined: true, set_by: ['admin'] } });
    expect((await proxy.query('github.com')).log).toMatchObject({ agent: 'ci-1', reason: 'quarantine' });

    const longhand = await api(proxy, 'POST', `/v1/agents/${encodeURIComponent('V6-0:0:0:0:0:0:0:1')}/quarantine`);
    expect(longhand).toEqual({ status: 200, body: { agent: 'v6-::1', known: true, quarantined: true, set_by: ['admin'] } });
    expect((await proxy.query('github.com', 'AAAA', { family: 6 })).log).toMatchObject({ agent: 'v6-::1', reason: 'quarantine' });

    // The list shows the canonical names, and DELETE takes any spelling too.
    expect((await api(proxy, 'GET', '/v1/quarantine')).body).toMatchObject({ agents: ['ci-1', 'v6-::1'] });
    expect((await api(proxy, 'DELETE', '/v1/agents/Ci-1/quarantine')).body).toEqual({ agent: 'ci-1', known: true, quarantined: false });
    expect((await proxy.query('github.com')).log).toMatchObject({ agent: 'ci-1', reason: 'allowlist' });
  });

  it('a name no client entry can produce is answered "known": false (and kept, in case a reload adds it)', async () => {
    proxy = await startProxy({
      zone: ZONE, http: true,
      yaml: `
        version: 1
        clients: [{ name: "pool-{ip}", match: ["127.0.0.0/28"], role: coding }]
        roles: { coding: { allow: [github.com] } }`,
    });
    for (const name of ['nobody', 'pool-127.0.0.99', 'pool-not-an-address']) {
      const res = await api(proxy, 'POST', `/v1/agents/${name}/quarantine`);
      expect(res).toEqual({ status: 200, body: { agent: name, known: false, quarantined: true, set_by: ['admin'] } });
    }
    expect(proxy.lines.filter((l) => l.audit === 'quarantine').map((l) => [l.agent, l.known])).toEqual([
      ['nobody', false], ['pool-127.0.0.99', false], ['pool-not-an-address', false],
    ]);
    const known = await api(proxy, 'POST', '/v1/agents/pool-127.0.0.9/quarantine');
    expect(known.body).toEqual({ agent: 'pool-127.0.0.9', known: true, quarantined: true, set_by: ['admin'] });
  });
});

describe('quarantine (c): a client entry or a CIDR, so an {ip} agent cannot walk out by changing address', () => {
  const POOL = `
    version: 1
    clients:
      - { name: "pool-{ip}", match: ["127.0.0.0/28"], role: coding }
      - { name: other, match: ["127.0.0.16/32"], role: coding }
    roles: { coding: { allow: [github.com] } }`;
  const reasonFrom = async (from: string): Promise<unknown> => (await proxy!.query('github.com', 'A', { from })).log?.reason;

  it('an agent quarantined by name is free at the next address (the attack); its client entry is not', async () => {
    proxy = await startProxy({ zone: ZONE, http: true, yaml: POOL });
    await api(proxy, 'POST', '/v1/agents/pool-127.0.0.5/quarantine');
    expect(await reasonFrom('127.0.0.5')).toBe('quarantine');
    // The same host, one address on: a different agent name, so the name alone does not hold it.
    expect(await reasonFrom('127.0.0.6')).toBe('allowlist');

    const entry = await api(proxy, 'POST', '/v1/quarantine', { client: 'POOL-{IP}' });
    expect(entry).toEqual({ status: 200, body: { client: 'pool-{ip}', known: true, quarantined: true } });
    for (const from of ['127.0.0.5', '127.0.0.6', '127.0.0.14']) expect(await reasonFrom(from)).toBe('quarantine');
    expect(await reasonFrom('127.0.0.16')).toBe('allowlist');

    // Lifting the entry leaves the one agent listed by name in quarantine.
    expect((await api(proxy, 'DELETE', '/v1/quarantine', { client: 'pool-{ip}' })).body).toEqual({ client: 'pool-{ip}', known: true, quarantined: false });
    expect(await reasonFrom('127.0.0.6')).toBe('allowlist');
    expect(await reasonFrom('127.0.0.5')).toBe('quarantine');
  });

  it('a CIDR quarantines every source inside it, whatever agent it is', async () => {
    proxy = await startProxy({ zone: ZONE, http: true, yaml: POOL });
    const res = await api(proxy, 'POST', '/v1/quarantine', { cidr: '127.0.0.4/30' });
    expect(res).toEqual({ status: 200, body: { cidr: '127.0.0.4/30', known: true, quarantined: true } });
    for (const from of ['127.0.0.4', '127.0.0.7']) expect(await reasonFrom(from)).toBe('quarantine');
    for (const from of ['127.0.0.3', '127.0.0.8']) expect(await reasonFrom(from)).toBe('allowlist');

    expect((await api(proxy, 'POST', '/v1/quarantine', { cidr: '127.0.0.16/32' })).body).toMatchObject({ known: true });
    expect(await reasonFrom('127.0.0.16')).toBe('quarantine');

    expect((await api(proxy, 'GET', '/v1/quarantine')).body).toEqual({
      agents: [], clients: [], cidrs: ['127.0.0.16/32', '127.0.0.4/30'], unknown: [], service: [],
    });
    await api(proxy, 'DELETE', '/v1/quarantine', { cidr: '127.0.0.4/30' });
    expect(await reasonFrom('127.0.0.7')).toBe('allowlist');
  });

  it('client and CIDR quarantines survive a reload, and the list says which no longer match the config', async () => {
    proxy = await startProxy({ zone: ZONE, http: true, yaml: POOL });
    await api(proxy, 'POST', '/v1/quarantine', { client: 'pool-{ip}' });
    await api(proxy, 'POST', '/v1/quarantine', { cidr: '127.0.0.16/32' });
    await api(proxy, 'POST', '/v1/quarantine', { agent: 'other' });
    await proxy.reload(POOL);
    expect(await reasonFrom('127.0.0.2')).toBe('quarantine');
    expect(await reasonFrom('127.0.0.16')).toBe('quarantine');

    // A config without the pool entry: the entry stays listed (and comes back into force with it).
    await proxy.reload(`
      version: 1
      clients: [{ name: renamed, match: ["127.0.0.0/28"], role: coding }]
      roles: { coding: { allow: [github.com] } }`);
    expect(await reasonFrom('127.0.0.2')).toBe('allowlist');
    expect((await api(proxy, 'GET', '/v1/quarantine')).body).toEqual({
      agents: ['other'], clients: ['pool-{ip}'], cidrs: ['127.0.0.16/32'],
      unknown: [{ agent: 'other' }, { client: 'pool-{ip}' }, { cidr: '127.0.0.16/32' }], service: [],
    });
    expect(proxy.lines.find((l) => String(l.msg).startsWith('quarantine names what the config does not have'))).toMatchObject({
      level: 40, agents: ['other'], clients: ['pool-{ip}'], cidrs: ['127.0.0.16/32'],
    });
  });

  it('bad bodies get 400 and change nothing', async () => {
    proxy = await startProxy({ zone: ZONE, http: true, yaml: POOL });
    const cases: Array<[string | undefined, string]> = [
      [undefined, 'the body must be JSON: {"agent": ...}, {"client": ...} or {"cidr": ...}'],
      ['not json', 'the body must be JSON: {"agent": ...}, {"client": ...} or {"cidr": ...}'],
      ['[]', 'the body must be one of {"agent": ...}, {"client": ...} or {"cidr": ...}'],
      ['{"agent":"a","cidr":"127.0.0.0/8"}', 'the body must be one of {"agent": ...}, {"client": ...} or {"cidr": ...}'],
      ['{"agent":5}', 'agent must be a string'],
      ['{"cidr":"127.0.0.1/24"}', 'cidr: "127.0.0.1/24" has host bits set; did you mean "127.0.0.0/24"?'],
      ['{"cidr":"nope"}', 'cidr: "nope" is not an address range, as in "10.20.1.0/24" or "fd00:20:1::/64"'],
      ['{"client":""}', 'client entry name is empty'],
    ];
    const address = proxy.server.httpAddress()!;
    for (const [body, error] of cases) {
      const res = await fetch(`http://127.0.0.1:${address.port}/v1/quarantine`, { method: 'POST', ...(body !== undefined && { body }) });
      expect([res.status, await res.json()]).toEqual([400, { error }]);
    }
    expect((await api(proxy, 'GET', '/v1/quarantine')).body).toEqual({ agents: [], clients: [], cidrs: [], unknown: [], service: [] });
    expect(await reasonFrom('127.0.0.2')).toBe('allowlist');
  });
});
