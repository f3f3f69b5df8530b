/**
 * Audit per role and per client, through the running proxy: two agents in one
 * config ask the same denied name; the one whose role audits gets the answer
 * (logged would_block), the enforced one the sinkhole, and a client entry's
 * own mode beats its role's. The metrics' mode label follows each agent's mode.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Zone } from '../helpers/authority.js';
import { addresses, startProxy, type Proxy } from '../helpers/proxy.js';

const ZONE: Zone = {
  'github.com': [{ type: 'A', data: '140.82.121.3', ttl: 300 }],
  'gist.github.com': [{ type: 'A', data: '140.82.121.4', ttl: 300 }],
};

const AUDITOR = '127.0.0.1';   // role trial, which audits
const ENFORCER = '127.0.0.3';  // role coding, the global enforce
const PINNED = '127.0.0.4';    // role trial, but its own entry says enforce

const config = (trialMode: string) => `
  version: 1
  mode: enforce
  sinkhole: { response: nxdomain }
  clients:
    - { name: auditor, match: ["${AUDITOR}/32"], role: trial }
    - { name: enforcer, match: ["${ENFORCER}/32"], role: coding }
    - { name: pinned, match: ["${PINNED}/32"], role: trial, mode: enforce }
  roles:
    trial: { allow: [github.com], deny: [gist.github.com], qtypes: [A], mode: ${trialMode} }
    coding: { allow: [github.com], deny: [gist.github.com], qtypes: [A] }
`;

/** The intentdns_queries_total samples of a scrape: `name{labels}` → value. */
async function queriesTotal(p: Proxy): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${p.server.httpAddress()!.port}/metrics`);
  expect(res.status).toBe(200);
  const out: Record<string, number> = {};
  for (const line of (await res.text()).split('\n')) {
    if (!line.startsWith('intentdns_queries_total')) continue;
    const cut = line.lastIndexOf(' ');
    out[line.slice(0, cut)] = Number(line.slice(cut + 1));
  }
  return out;
}

describe('mode per role and per client, through the running proxy', () => {
  let proxy: Proxy;

  beforeAll(async () => {
    proxy = await startProxy({ zone: ZONE, http: true, yaml: config('audit') });
  });
  afterAll(() => proxy.close());

  it('forwards the denied name to the agent whose role audits, sinkholes it for the others, and counts only the audit one under mode="audit"', async () => {
    const audited = await proxy.query('gist.github.com', 'A', { from: AUDITOR, edns: true });
    expect(audited.packet.rcode).toBe('NOERROR');
    expect(addresses(audited.packet)).toEqual(['140.82.121.4']);
    expect(audited.ede).toBeUndefined();
    expect(audited.log).toMatchObject({ agent: 'auditor', role: 'trial', action: 'sinkhole', reason: 'denylist', blocked: false, would_block: true });

    const enforced = await proxy.query('gist.github.com', 'A', { from: ENFORCER, edns: true });
    expect(enforced.packet.rcode).toBe('NXDOMAIN');
    expect(addresses(enforced.packet)).toEqual([]);
    expect(enforced.ede?.infoCode).toBe(15);
    expect(enforced.log).toMatchObject({ agent: 'enforcer', role: 'coding', action: 'sinkhole', reason: 'denylist', blocked: true });
    expect(enforced.log).not.toHaveProperty('would_block');

    // The client's own enforce beats its role's audit: same role as the auditor, sinkholed.
    const pinned = await proxy.query('gist.github.com', 'A', { from: PINNED });
    expect(pinned.packet.rcode).toBe('NXDOMAIN');
    expect(pinned.log).toMatchObject({ agent: 'pinned', role: 'trial', action: 'sinkhole', blocked: true });
    expect(pinned.log).not.toHaveProperty('would_block');

    expect(await queriesTotal(proxy)).toEqual({
      'intentdns_queries_total{role="trial",action="sinkhole",reason="denylist",qtype="A",mode="audit"}': 1,
      'intentdns_queries_total{role="trial",action="sinkhole",reason="denylist",qtype="A",mode="enforce"}': 1,
      'intentdns_queries_total{role="coding",action="sinkhole",reason="denylist",qtype="A",mode="enforce"}': 1,
    });
  });

  it('a reload that turns the role to enforce sinkholes the former audit agent too (the mode is resolved per config snapshot)', async () => {
    await proxy.reload(config('enforce'));
    const r = await proxy.query('gist.github.com', 'A', { from: AUDITOR });
    expect(r.packet.rcode).toBe('NXDOMAIN');
    expect(r.log).toMatchObject({ agent: 'auditor', action: 'sinkhole', blocked: true });
    expect(r.log).not.toHaveProperty('would_block');
  });
});
