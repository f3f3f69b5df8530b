/**
 * Metric values after a known sequence of queries, scraped over HTTP the way
 * Prometheus does: exact counter values, not just names.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { NO_GRANT_REASONS } from '../../src/approval/no-grants.js';
import { SHED_REASONS } from '../../src/http/index.js';
import { DROP_REASONS } from '../../src/receive/index.js';
import { VERSION } from '../../src/version.js';
import { startApprovalProxy, type ApprovalProxy } from '../helpers/approval-proxy.js';
import type { Zone } from '../helpers/authority.js';
import { decodePacket, header } from '../helpers/packets.js';
import { startProxy, type Proxy } from '../helpers/proxy.js';

const ZONE: Zone = {
  'github.com': [{ type: 'A', data: '140.82.121.3', ttl: 300 }],
  'gist.github.com': [{ type: 'A', data: '140.82.121.4', ttl: 300 }],
};

let proxy: Proxy | null = null;
let ap: ApprovalProxy | null = null;
afterEach(async () => {
  await proxy?.close();
  await ap?.close();
  proxy = null;
  ap = null;
});

/** The samples of a Prometheus text exposition: `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

async function scrape(p: Proxy): Promise<{ text: string; values: Map<string, number> }> {
  const res = await fetch(`http://127.0.0.1:${p.server.httpAddress()!.port}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, values: samples(text) };
}

describe('/metrics of a fresh proxy', () => {
  it('has every series of the small closed label sets at 0 before any traffic, so rate() has a start', async () => {
    ap = await startApprovalProxy({ zone: ZONE, http: true });
    const { values } = await scrape(ap.proxy);
    const zero = (series: string) => expect(values.get(series), series).toBe(0);
    for (const transport of ['udp', 'tcp']) {
      zero(`intentdns_malformed_packets_total{transport="${transport}"}`);
      for (const reason of DROP_REASONS) zero(`intentdns_dropped_packets_total{transport="${transport}",reason="${reason}"}`);
    }
    for (const result of ['success', 'failure']) zero(`intentdns_config_reloads_total{result="${result}"}`);
    for (const result of ['ok', 'error', 'timeout']) zero(`intentdns_firewall_updates_total{result="${result}"}`);
    for (const reason of SHED_REASONS) zero(`intentdns_http_connections_shed_total{reason="${reason}"}`);
    for (const reason of NO_GRANT_REASONS) zero(`intentdns_approvals_without_grant_total{reason="${reason}"}`);
    for (const type of ['command.approved', 'command.revoked', 'hold.decided', 'unknown', 'malformed']) zero(`intentdns_approval_events_total{type="${type}"}`);
    for (const outcome of ['approved', 'denied', 'expired', 'evicted', 'post_failed']) zero(`intentdns_holds_total{outcome="${outcome}"}`);
    const upstreams = ap.proxy.server.config.upstreams.servers.map((s) => s.text);
    expect(upstreams.length).toBeGreaterThan(0);
    for (const upstream of upstreams) zero(`intentdns_upstream_skipped_total{upstream="${upstream}"}`);
    zero('intentdns_decision_stream_dropped_total');
    zero('intentdns_upstream_sockets_refused_total');
  });

  it('a reload that adds an upstream adds its skipped series at 0', async () => {
    ap = await startApprovalProxy({ zone: ZONE, http: true });
    const config = ap.proxy.server.config;
    const added = { ...config.upstreams.servers[0]!, port: 9, text: '127.0.0.1:9' };
    await ap.proxy.server.reload({ ...config, upstreams: { ...config.upstreams, servers: [...config.upstreams.servers, added] } });
    const { values } = await scrape(ap.proxy);
    expect(values.get('intentdns_upstream_skipped_total{upstream="127.0.0.1:9"}')).toBe(0);
  });
});

describe('/metrics after a known sequence of queries', () => {
  it('counts each query once, by role, action, reason and type; cache hits and misses; malformed packets', async () => {
    proxy = await startProxy({
      zone: ZONE,
      http: true,
      yaml: `
        version: 1
        clients: [{ name: ci-1, match: ["127.0.0.1/32"], role: coding }]
        roles:
          coding: { allow: ["github.com", "*.github.com"], deny: [gist.github.com], qtypes: [A, AAAA] }
      `,
    });
    for (let i = 0; i < 3; i++) expect((await proxy.query('github.com')).packet.rcode).toBe('NOERROR');   // 1 miss, 2 hits
    for (let i = 0; i < 2; i++) expect((await proxy.query('gist.github.com')).packet.rcode).toBe('NXDOMAIN'); // denied
    expect((await proxy.query('github.com', 'TXT')).packet.rcode).toBe('REFUSED');                          // qtype
    const formerr = await proxy.send(header({ qd: 0 }));                                                  // no question
    expect(decodePacket(formerr!).rcode).toBe('FORMERR');

    const { text, values } = await scrape(proxy);
    const upstream = proxy.authority.hostPort.text;
    expect(Object.fromEntries([...values].filter(([k]) => k.startsWith('intentdns_queries_total')))).toEqual({
      'intentdns_queries_total{role="coding",action="forward",reason="allowlist",qtype="A",mode="enforce"}': 3,
      'intentdns_queries_total{role="coding",action="sinkhole",reason="denylist",qtype="A",mode="enforce"}': 2,
      'intentdns_queries_total{role="coding",action="refuse",reason="qtype",qtype="TXT",mode="enforce"}': 1,
    });
    expect(values.get('intentdns_cache_misses_total')).toBe(1);
    expect(values.get('intentdns_cache_hits_total')).toBe(2);
    expect(values.get('intentdns_cache_entries')).toBe(1);
    expect(values.get(`intentdns_upstream_requests_total{upstream="${upstream}",outcome="ok"}`)).toBe(1);
    expect(values.get(`intentdns_upstream_duration_seconds_count{upstream="${upstream}"}`)).toBe(1);
    expect(values.get('intentdns_malformed_packets_total{transport="udp"}')).toBe(1);
    expect(values.get('intentdns_query_duration_seconds_count{action="forward"}')).toBe(3);
    expect(values.get('intentdns_query_duration_seconds_count{action="sinkhole"}')).toBe(2);
    expect(values.get('intentdns_query_duration_seconds_count{action="refuse"}')).toBe(1);
    expect(values.get('intentdns_holds_pending')).toBe(0);
    expect(values.get('intentdns_approval_link_up')).toBe(0);
    expect(values.get(`intentdns_build_info{version="${VERSION}",node="${process.version}"}`)).toBe(1);
    expect(values.get('intentdns_config_last_reload_success_timestamp_seconds')).toBeGreaterThan(0);
    // Never a query name in a label.
    expect(text).not.toMatch(/github\.com/);
  });
});

describe('metrics.per_agent', () => {
  // Before: one set of series per expanded {ip} name; 100,000 sources gave 121,104 series and a
  // 15 MB /metrics that took 0.46 s to render on the event loop.
  it('labels by client entry, so an {ip} template over many sources is one agent label, not one per source', async () => {
    proxy = await startProxy({
      zone: ZONE, http: true,
      yaml: `
        version: 1
        upstreams: { servers: UPSTREAMS }
        metrics: { per_agent: true }
        clients:
          - { name: ci-1, match: ["127.0.0.1/32"], role: coding }
          - { name: "pool-{ip}", match: ["127.0.0.0/8"], role: coding }
        roles: { coding: { allow: [github.com], deny: [gist.github.com] } }
      `,
    });
    const SOURCES = 200;
    for (let i = 0; i < SOURCES; i++) {
      const from = `127.0.${1 + (i >> 8)}.${(i & 0xff) + 1}`;
      expect((await proxy.query('gist.github.com', 'A', { from })).packet.rcode).toBe('NXDOMAIN');
    }
    await proxy.query('gist.github.com');
    const { values } = await scrape(proxy);
    expect(Object.fromEntries([...values].filter(([k]) => k.startsWith('intentdns_queries_total')))).toEqual({
      'intentdns_queries_total{role="coding",action="sinkhole",reason="denylist",qtype="A",mode="enforce",agent="pool-{ip}"}': SOURCES,
      'intentdns_queries_total{role="coding",action="sinkhole",reason="denylist",qtype="A",mode="enforce",agent="ci-1"}': 1,
    });
  });
});

describe('audit mode in queries_total', () => {
  // Before: an audit query was counted with the action enforce would have taken and nothing else,
  // so every "blocked" panel and alert (action!="forward") counted queries the agents got answers to.
  it('counts a forwarded audit query under mode="audit", so a blocked selector with mode="enforce" leaves it out', async () => {
    proxy = await startProxy({
      zone: ZONE, http: true,
      yaml: `
        version: 1
        mode: audit
        clients: [{ name: ci-1, match: ["127.0.0.1/32"], role: coding }]
        roles: { coding: { allow: [github.com], deny: [gist.github.com], qtypes: [A] } }
      `,
    });
    const audited = await proxy.query('gist.github.com');
    expect(audited.packet.rcode).toBe('NOERROR');
    expect(audited.log).toMatchObject({ action: 'sinkhole', reason: 'denylist', blocked: false, would_block: true });
    expect((await proxy.query('github.com')).packet.rcode).toBe('NOERROR');
    // A stranger is refused in every mode: blocked, and counted under enforce.
    expect((await proxy.query('github.com', 'A', { from: '127.0.0.2' })).packet.rcode).toBe('REFUSED');
    const { values } = await scrape(proxy);
    const counted = Object.fromEntries([...values].filter(([k]) => k.startsWith('intentdns_queries_total')));
    expect(counted).toEqual({
      'intentdns_queries_total{role="coding",action="sinkhole",reason="denylist",qtype="A",mode="audit"}': 1,
      'intentdns_queries_total{role="coding",action="forward",reason="allowlist",qtype="A",mode="audit"}': 1,
      'intentdns_queries_total{role="",action="refuse",reason="unknown_client",qtype="A",mode="enforce"}': 1,
    });
    // What the dashboard's and the alerts' blocked selector sums: the stranger only.
    const blocked = Object.entries(counted)
      .filter(([k]) => !k.includes('action="forward"') && !k.includes('reason="hold_approved"') && k.includes('mode="enforce"'))
      .reduce((sum, [, v]) => sum + v, 0);
    expect(blocked).toBe(1);
  });
});
