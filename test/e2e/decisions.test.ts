/**
 * Every decision of the spec, through the running proxy over real sockets:
 * what the agent sees (rcode, answers, SOA, Extended DNS Error) and what the
 * operator reads (the decision log line).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type dnsPacket from 'dns-packet';
import type { Zone } from '../helpers/authority.js';
import { optOf, type DecodedPacket } from '../helpers/packets.js';
import { addresses, poll, records, startProxy, type ClientOptions, type Proxy } from '../helpers/proxy.js';

const ZONE: Zone = {
  'github.com': [{ type: 'A', data: '140.82.121.3' }],
  'api.github.com': [{ type: 'A', data: '140.82.121.6' }],
  'gist.github.com': [{ type: 'A', data: '140.82.121.4' }],
  'exact.test': [{ type: 'A', data: '192.0.2.10' }],
  'sub.exact.test': [{ type: 'A', data: '192.0.2.11' }],
  'wild.test': [{ type: 'A', data: '192.0.2.20' }],
  'a.wild.test': [{ type: 'A', data: '192.0.2.21' }],
  'a.b.c.wild.test': [{ type: 'A', data: '192.0.2.22' }],
  'registry.npmjs.org': [{ type: 'A', data: '104.16.1.34' }],
  'unlisted.test': [{ type: 'A', data: '198.51.100.7' }],
  'rebind.test': [{ type: 'A', data: '10.1.2.3' }, { type: 'AAAA', data: 'fd00::1' }],
  'db.corp.internal': [{ type: 'A', data: '10.20.30.40' }],
  'cdn-alias.test': [{ type: 'CNAME', data: 'tracker.evil.test' }],
  'tracker.evil.test': [{ type: 'A', data: '203.0.113.9' }],
  'inside.evil.test': [{ type: 'A', data: '10.9.9.9' }],
  'long-ttl.test': [{ type: 'A', data: '198.51.100.1', ttl: 3600 }],
  'aging.test': [{ type: 'A', data: '198.51.100.2', ttl: 30 }],
};

/** The policy most tests run under; SINKHOLE and extra YAML are swapped in per describe. */
function config(opts: { mode?: string; sinkhole?: string; answers?: string; log?: string } = {}): string {
  return `
    version: 1
    mode: ${opts.mode ?? 'enforce'}
    upstreams: { servers: UPSTREAMS, timeout: 500ms }
    answers: ${opts.answers ?? '{ max_ttl: 60s, block_private: true }'}
    sinkhole: { response: ${opts.sinkhole ?? 'nxdomain'}, ttl: 7s }
    log: { queries: ${opts.log ?? 'all'} }
    clients:
      - { name: "agent-{ip}", match: ["127.0.0.1/32"], role: coding }
      - { name: opener, match: ["127.0.0.3/32"], role: open }
      - { name: holder, match: ["127.0.0.4/32"], role: held }
    roles:
      coding:
        allow:
          - github.com
          - "*.github.com"
          - exact.test
          - "*.wild.test"
          - "@npm"
          - rebind.test
          - "*.corp.internal"
          - cdn-alias.test
          - long-ttl.test
          - aging.test
          - missing.test
        deny: [gist.github.com, "*.evil.test"]
        qtypes: [A, AAAA, CNAME, TXT]
        private_ok: ["*.corp.internal"]
        unlisted: sinkhole
      open: { unlisted: forward }
      held: { unlisted: hold }
  `;
}

const EDNS: ClientOptions = { edns: true };

/** The SOA of a negative answer, with its TTL and rdata. */
function soaOf(p: DecodedPacket): dnsPacket.Answer & { type: 'SOA'; data: dnsPacket.SoaData } {
  const soa = p.authorities.find((a) => a.type === 'SOA');
  if (!soa) throw new Error(`no SOA in the authority section (rcode ${p.rcode})`);
  return soa as dnsPacket.Answer & { type: 'SOA'; data: dnsPacket.SoaData };
}

describe('decisions through the running proxy', () => {
  let proxy: Proxy;

  beforeAll(async () => {
    proxy = await startProxy({ zone: ZONE, yaml: config() });
  });
  afterAll(() => proxy.close());

  /** How many times the authority was asked for `name`. */
  const asked = (name: string): number => proxy.authority.queries.filter((q) => q.name === name).length;

  it('refuses an unknown client with EDE 18 and never asks upstream', async () => {
    const r = await proxy.query('api.github.com', 'A', { ...EDNS, from: '127.0.0.2' });
    expect(r.packet.rcode).toBe('REFUSED');
    expect(r.packet.answers).toEqual([]);
    expect(r.ede).toEqual({ infoCode: 18, text: 'intentdns: unknown client' });
    expect(r.log).toMatchObject({ client: '127.0.0.2', action: 'refuse', reason: 'unknown_client', blocked: true, rcode: 'REFUSED' });
    expect(r.log).not.toHaveProperty('agent');
    // The same name from a known client does reach the authority: the refusal above did not.
    expect(asked('api.github.com')).toBe(0);
  });

  it('refuses a query type the role does not list, with EDE 15 and reason qtype', async () => {
    const r = await proxy.query('api.github.com', 'MX', EDNS);
    expect(r.packet.rcode).toBe('REFUSED');
    expect(r.ede?.infoCode).toBe(15);
    expect(r.ede?.text).toContain('qtype');
    expect(r.ede?.text).toContain('role coding');
    expect(r.log).toMatchObject({ qtype: 'MX', action: 'refuse', reason: 'qtype', blocked: true, rcode: 'REFUSED' });
  });

  it('forwards an allowed name and logs every field of the spec', async () => {
    const r = await proxy.query('api.github.com', 'A', EDNS);
    expect(r.packet.rcode).toBe('NOERROR');
    expect(addresses(r.packet)).toEqual(['140.82.121.6']);
    expect(r.ede).toBeUndefined();
    expect(r.log).toMatchObject({
      msg: 'query',
      client: '127.0.0.1',
      transport: 'udp',
      agent: 'agent-127.0.0.1',     // the {ip} template, expanded
      role: 'coding',
      qname: 'api.github.com',
      qtype: 'A',
      action: 'forward',
      reason: 'allowlist',
      blocked: false,
      rule: '*.github.com',
      rcode: 'NOERROR',
      answers: ['140.82.121.6'],
      upstream: proxy.authority.hostPort.text,
    });
    expect(typeof r.log?.duration_ms).toBe('number');
    expect(r.log?.duration_ms as number).toBeGreaterThanOrEqual(0);
    expect(r.log).not.toHaveProperty('would_block');
  });

  it('sinkholes a denied name: NXDOMAIN, SOA with the sinkhole TTL, EDE 15 naming role and reason', async () => {
    const before = asked('gist.github.com');
    const r = await proxy.query('gist.github.com', 'A', EDNS);
    expect(r.packet.rcode).toBe('NXDOMAIN');
    expect(r.packet.answers).toEqual([]);
    const soa = soaOf(r.packet);
    expect(soa.ttl).toBe(7);
    expect(soa.data.minimum).toBe(7);
    expect(r.ede).toEqual({ infoCode: 15, text: 'intentdns: denylist (role coding)' });
    expect(r.log).toMatchObject({ action: 'sinkhole', reason: 'denylist', blocked: true, rule: 'gist.github.com', rcode: 'NXDOMAIN' });
    expect(asked('gist.github.com')).toBe(before);
  });

  it('lets deny win over allow: *.github.com is allowed, gist.github.com is not', async () => {
    const allowed = await proxy.query('api.github.com', 'A');
    const denied = await proxy.query('GIST.GitHub.com.', 'A');   // case and the trailing dot do not matter
    expect(allowed.packet.rcode).toBe('NOERROR');
    expect(denied.packet.rcode).toBe('NXDOMAIN');
    expect(denied.log?.reason).toBe('denylist');
  });

  it('matches "name" exactly and "*.name" at any depth, never the apex', async () => {
    const cases: Array<[string, string, string | undefined]> = [
      ['github.com', 'allowlist', 'github.com'],
      ['exact.test', 'allowlist', 'exact.test'],
      ['sub.exact.test', 'unlisted', undefined],
      ['a.wild.test', 'allowlist', '*.wild.test'],
      ['a.b.c.wild.test', 'allowlist', '*.wild.test'],
      ['wild.test', 'unlisted', undefined],
    ];
    for (const [name, reason, rule] of cases) {
      const r = await proxy.query(name, 'A');
      expect(r.log?.reason, name).toBe(reason);
      expect(r.log?.rule, name).toBe(rule);
      expect(r.packet.rcode, name).toBe(reason === 'allowlist' ? 'NOERROR' : 'NXDOMAIN');
    }
  });

  it('allows the names of a @preset, naming the preset in the rule', async () => {
    const r = await proxy.query('registry.npmjs.org', 'A');
    expect(addresses(r.packet)).toEqual(['104.16.1.34']);
    expect(r.log).toMatchObject({ action: 'forward', reason: 'allowlist', rule: '@npm:registry.npmjs.org' });
  });

  it('handles unlisted names as the role says: forward, sinkhole, or hold (sinkhole without approval)', async () => {
    const forwarded = await proxy.query('unlisted.test', 'A', { ...EDNS, from: '127.0.0.3' });
    expect(forwarded.packet.rcode).toBe('NOERROR');
    expect(addresses(forwarded.packet)).toEqual(['198.51.100.7']);
    expect(forwarded.log).toMatchObject({ agent: 'opener', role: 'open', action: 'forward', reason: 'unlisted' });

    const sinkholed = await proxy.query('unlisted.test', 'A', EDNS);
    expect(sinkholed.packet.rcode).toBe('NXDOMAIN');
    expect(sinkholed.ede).toEqual({ infoCode: 15, text: 'intentdns: unlisted (role coding)' });
    expect(sinkholed.log).toMatchObject({ role: 'coding', action: 'sinkhole', reason: 'unlisted' });

    const held = await proxy.query('unlisted.test', 'A', { ...EDNS, from: '127.0.0.4' });
    expect(held.packet.rcode).toBe('NXDOMAIN');
    expect(held.ede?.infoCode).toBe(15);
    expect(held.ede?.text).toBe('intentdns: unlisted (role held)');
    expect(held.log?.rule).toBe('no approval service to hold for');
    expect(held.log).toMatchObject({ agent: 'holder', role: 'held', action: 'sinkhole', reason: 'unlisted' });
  });

  it('sends no EDE, and no OPT at all, when the query had no EDNS', async () => {
    const r = await proxy.query('gist.github.com', 'A');
    expect(r.packet.rcode).toBe('NXDOMAIN');
    expect(optOf(r.packet)).toBeUndefined();
    expect(r.ede).toBeUndefined();
    expect(soaOf(r.packet).ttl).toBe(7);
  });

  it('sinkholes an allowed name whose CNAME target is denied (denylist_cname)', async () => {
    const r = await proxy.query('cdn-alias.test', 'A', EDNS);
    expect(r.packet.rcode).toBe('NXDOMAIN');
    expect(r.packet.answers).toEqual([]);
    expect(r.ede?.infoCode).toBe(15);
    // What tripped (the target and the deny pattern) stays in the decision log, not in what the agent reads.
    expect(r.ede?.text).toBe('intentdns: denylist_cname (role coding)');
    expect(r.log).toMatchObject({ action: 'sinkhole', reason: 'denylist_cname', rule: 'tracker.evil.test matches *.evil.test' });
  });

  it('sinkholes a public name answering a private address (rebinding), but not a private_ok name', async () => {
    const rebound = await proxy.query('rebind.test', 'A', EDNS);
    expect(rebound.packet.rcode).toBe('NXDOMAIN');
    expect(rebound.packet.answers).toEqual([]);
    // The private address is never handed to the agent, not even in the EDE text.
    expect(rebound.ede?.text).toBe('intentdns: rebinding (role coding)');
    expect(rebound.log).toMatchObject({ action: 'sinkhole', reason: 'rebinding', rule: 'rebind.test answered 10.1.2.3' });

    const rebound6 = await proxy.query('rebind.test', 'AAAA', EDNS);
    expect(rebound6.packet.rcode).toBe('NXDOMAIN');
    expect(rebound6.log).toMatchObject({ reason: 'rebinding', rule: 'rebind.test answered fd00::1' });

    const inside = await proxy.query('db.corp.internal', 'A', EDNS);
    expect(inside.packet.rcode).toBe('NOERROR');
    expect(addresses(inside.packet)).toEqual(['10.20.30.40']);
    expect(inside.log).toMatchObject({ action: 'forward', reason: 'allowlist', rule: '*.corp.internal' });
  });

  it('caps TTLs at answers.max_ttl', async () => {
    const r = await proxy.query('long-ttl.test', 'A');
    expect(r.packet.answers).toHaveLength(1);
    expect(records(r.packet.answers)[0]!.ttl).toBe(60);
  });

  it('serves cached answers with a TTL that goes down, asking upstream once', async () => {
    const first = await proxy.query('aging.test', 'A');
    expect(records(first.packet.answers)[0]!.ttl).toBe(30);
    expect(first.log?.upstream).toBe(proxy.authority.hostPort.text);
    // The age is counted in whole seconds: ask again until a second has gone by.
    const aged = await poll(async () => {
      const r = await proxy.query('aging.test', 'A');
      return records(r.packet.answers)[0]!.ttl < 30 ? r : undefined;
    }, { timeoutMs: 3000, intervalMs: 100, what: 'a cached answer with a lower TTL' });
    expect(records(aged.packet.answers)[0]!.ttl).toBeGreaterThanOrEqual(27);
    expect(addresses(aged.packet)).toEqual(['198.51.100.2']);
    expect(aged.log?.upstream).toBe('cache');
    expect(asked('aging.test')).toBe(1);
  });

  it('passes an upstream NXDOMAIN through unchanged, apart from the TTL cap', async () => {
    const r = await proxy.query('missing.test', 'A', EDNS);
    expect(r.packet.rcode).toBe('NXDOMAIN');
    expect(r.ede).toBeUndefined();
    const soa = soaOf(r.packet);
    expect(soa.name).toBe('example.org');          // the authority's SOA, not our synthetic one
    expect(soa.data.mname).toBe('ns1.example.org');
    expect(soa.data.minimum).toBe(60);
    expect(soa.ttl).toBe(60);                      // 3600 upstream, capped
    expect(r.log).toMatchObject({ action: 'forward', reason: 'allowlist', rcode: 'NXDOMAIN', upstream: proxy.authority.hostPort.text });
  });
});

describe('reload', () => {
  it('applies a changed policy to the next query', async () => {
    const proxy = await startProxy({ zone: ZONE, yaml: config() });
    try {
      expect((await proxy.query('unlisted.test', 'A')).packet.rcode).toBe('NXDOMAIN');
      await proxy.reload(config().replace('- missing.test', '- missing.test\n          - unlisted.test'));
      const r = await proxy.query('unlisted.test', 'A');
      expect(addresses(r.packet)).toEqual(['198.51.100.7']);
      expect(r.log).toMatchObject({ action: 'forward', reason: 'allowlist', rule: 'unlisted.test' });
    } finally {
      await proxy.close();
    }
  });
});

describe('sinkhole.response', () => {
  const kinds: Array<[string, string, dnsPacket.RecordType, (p: DecodedPacket) => void]> = [
    ['nxdomain', 'NXDOMAIN', 'A', (p) => {
      expect(p.answers).toEqual([]);
      expect(soaOf(p).ttl).toBe(7);
    }],
    ['nodata', 'NOERROR', 'A', (p) => {
      expect(p.answers).toEqual([]);
      expect(soaOf(p).ttl).toBe(7);
      expect(soaOf(p).data.minimum).toBe(7);
    }],
    ['refused', 'REFUSED', 'A', (p) => {
      expect(p.answers).toEqual([]);
      expect(p.authorities).toEqual([]);
    }],
    ['null-ip', 'NOERROR', 'A', (p) => {
      expect(records(p.answers).map((a) => [a.type, a.data, a.ttl])).toEqual([['A', '0.0.0.0', 7]]);
    }],
    ['null-ip', 'NOERROR', 'AAAA', (p) => {
      expect(records(p.answers).map((a) => [a.type, a.data, a.ttl])).toEqual([['AAAA', '::', 7]]);
    }],
    ['null-ip', 'NOERROR', 'TXT', (p) => {
      // No null address for other types: "no data" instead.
      expect(p.answers).toEqual([]);
      expect(soaOf(p).ttl).toBe(7);
    }],
  ];

  it.each(kinds)('%s answers a denied %s… query as configured', async (kind, rcode, type, check) => {
    const proxy = await startProxy({ zone: ZONE, yaml: config({ sinkhole: kind }) });
    try {
      const r = await proxy.query('gist.github.com', type, EDNS);
      expect(r.packet.rcode).toBe(rcode);
      check(r.packet);
      expect(r.ede).toEqual({ infoCode: 15, text: 'intentdns: denylist (role coding)' });
      expect(r.log).toMatchObject({ action: 'sinkhole', reason: 'denylist', rcode });
      expect(proxy.authority.queries).toEqual([]);
    } finally {
      await proxy.close();
    }
  });
});

describe('answers.block_private: false', () => {
  it('passes private addresses through for any name', async () => {
    const proxy = await startProxy({ zone: ZONE, yaml: config({ answers: '{ max_ttl: 60s, block_private: false }' }) });
    try {
      const r = await proxy.query('rebind.test', 'A');
      expect(r.packet.rcode).toBe('NOERROR');
      expect(addresses(r.packet)).toEqual(['10.1.2.3']);
      expect(r.log).toMatchObject({ action: 'forward', reason: 'allowlist', answers: ['10.1.2.3'] });
    } finally {
      await proxy.close();
    }
  });
});

describe('audit mode', () => {
  let proxy: Proxy;

  beforeAll(async () => {
    proxy = await startProxy({ zone: ZONE, yaml: config({ mode: 'audit' }) });
  });
  afterAll(() => proxy.close());

  it('forwards a denied name and logs would_block', async () => {
    const r = await proxy.query('gist.github.com', 'A', EDNS);
    expect(r.packet.rcode).toBe('NOERROR');
    expect(addresses(r.packet)).toEqual(['140.82.121.4']);
    expect(r.ede).toBeUndefined();
    expect(r.log).toMatchObject({
      action: 'sinkhole', reason: 'denylist', rule: 'gist.github.com', blocked: false, would_block: true,
      rcode: 'NOERROR', answers: ['140.82.121.4'], upstream: proxy.authority.hostPort.text,
    });
  });

  it('forwards unlisted names and rebinding answers, logging would_block', async () => {
    const unlisted = await proxy.query('unlisted.test', 'A');
    expect(addresses(unlisted.packet)).toEqual(['198.51.100.7']);
    expect(unlisted.log).toMatchObject({ reason: 'unlisted', would_block: true });
    const rebound = await proxy.query('rebind.test', 'A');
    expect(addresses(rebound.packet)).toEqual(['10.1.2.3']);
    expect(rebound.log).toMatchObject({ reason: 'rebinding', would_block: true });
  });

  it('keeps the reason enforce would give when a blocked name also answers privately', async () => {
    // Enforce stops at the deny list; the answer check must not rename what audit reports.
    const r = await proxy.query('inside.evil.test', 'A');
    expect(addresses(r.packet)).toEqual(['10.9.9.9']);
    expect(r.log).toMatchObject({ action: 'sinkhole', reason: 'denylist', rule: '*.evil.test', would_block: true });
  });

  it('does not log would_block for what enforce mode allows too', async () => {
    const r = await proxy.query('api.github.com', 'A');
    expect(r.log).toMatchObject({ action: 'forward', reason: 'allowlist', blocked: false });
    expect(r.log).not.toHaveProperty('would_block');
  });

  it('still refuses unknown clients, with EDE 18: never an open resolver', async () => {
    const r = await proxy.query('api.github.com', 'A', { ...EDNS, from: '127.0.0.2' });
    expect(r.packet.rcode).toBe('REFUSED');
    expect(r.packet.answers).toEqual([]);
    expect(r.ede?.infoCode).toBe(18);
    expect(r.log).toMatchObject({ action: 'refuse', reason: 'unknown_client', blocked: true });
  });
});

describe('log.queries', () => {
  it('blocked: logs blocked queries only', async () => {
    const proxy = await startProxy({ zone: ZONE, yaml: config({ log: 'blocked' }) });
    try {
      const allowed = await proxy.query('api.github.com', 'A');
      expect(allowed.packet.rcode).toBe('NOERROR');
      const denied = await proxy.query('gist.github.com', 'A');
      const refused = await proxy.query('api.github.com', 'MX');
      // Lines are written before the reply is sent: what is not here now was never logged.
      expect(allowed.log).toBeUndefined();
      expect(denied.log).toMatchObject({ reason: 'denylist' });
      expect(refused.log).toMatchObject({ reason: 'qtype' });
      expect(proxy.decisions().map((l) => l.qname)).toEqual(['gist.github.com', 'api.github.com']);
    } finally {
      await proxy.close();
    }
  });

  it('blocked: also logs a forwarded query that failed because no upstream answered', async () => {
    const proxy = await startProxy({ zone: ZONE, yaml: config({ log: 'blocked' }) });
    try {
      proxy.authority.behave({ mode: 'drop' });
      const failed = await proxy.query('api.github.com', 'A', { timeoutMs: 3000 });
      expect(failed.packet.rcode).toBe('SERVFAIL');
      expect(failed.log).toMatchObject({ action: 'forward', reason: 'upstream_error', blocked: true, rcode: 'SERVFAIL' });
      expect(failed.log?.error).toEqual(expect.stringContaining('all upstreams failed'));
    } finally {
      await proxy.close();
    }
  });

  it('none: logs no decision line at all', async () => {
    const proxy = await startProxy({ zone: ZONE, yaml: config({ log: 'none' }) });
    try {
      await proxy.query('api.github.com', 'A');
      await proxy.query('gist.github.com', 'A');
      await proxy.query('api.github.com', 'A', { from: '127.0.0.2' });
      expect(proxy.decisions()).toEqual([]);
    } finally {
      await proxy.close();
    }
  });
});
