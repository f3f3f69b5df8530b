/**
 * The quarantine list: what each kind of entry reaches, how what an operator
 * typed is canonicalised against the running config, and the bounds. At the
 * end, the attack on the real pipeline: an `{ip}` agent on an IPv6
 * /64 walking out of its quarantine by using another address of the /64, as
 * IPv6 privacy addresses do by themselves.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { buildPipeline } from '../../src/chain.js';
import { AnswerCache } from '../../src/cache/store.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { compileRoles } from '../../src/decide/role.js';
import { NO_BUDGETS } from '../../src/decide/policy.js';
import { GrantStore } from '../../src/grants/grants.js';
import { HoldRegistry } from '../../src/hold/registry.js';
import { ClientTable } from '../../src/identify/clients.js';
import type { Agent } from '../../src/pipeline/types.js';
import { QuarantineFullError, QuarantineTargetError } from '../../src/quarantine/errors.js';
import { MAX_QUARANTINE_ENTRIES, Quarantine } from '../../src/quarantine/quarantine.js';
import { createLogger } from '../../src/telemetry/log.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { UdpPools } from '../../src/upstream/udp-pool.js';
import { UpstreamHealth } from '../../src/upstream/health.js';
import { TokenBuckets } from '../../src/limit/buckets.js';
import { LineSampler } from '../../src/limit/sampler.js';
import { SocketBudget } from '../../src/limit/sockets.js';
import { startAuthority, type Authority } from '../helpers/authority.js';
import { decodePacket, queryBytes } from '../helpers/packets.js';

const YAML = (upstream = '127.0.0.1:5300', clients = `
  - { name: ci-runner-1, match: ["10.20.0.11/32"], role: coding }
  - { name: "analytics-{ip}", match: ["10.20.1.0/24", "fd00:20:1::/64"], role: coding }
  - { name: "Web-{ip}", match: ["10.30.0.0/16"], role: coding }`) => `
version: 1
upstreams: { servers: ["${upstream}"] }
clients:${clients}
roles: { coding: { allow: [github.com] } }
`;

function tableOf(config: Config): ClientTable {
  return new ClientTable(config.clients, compileRoles(config.roles), config.mode);
}

const config = parseConfig(YAML(), 'quarantine.yaml');
const table = tableOf(config);
const agentAt = (address: string): Agent => table.lookup(address)!;

function quarantine(): Quarantine {
  const q = new Quarantine();
  q.useNames(table);
  return q;
}

describe('Quarantine.setByService: the approval service\'s quarantine (v1.1)', () => {
  it('cuts the agent off like the admin API, canonical name included, and records who and why', () => {
    const q = new Quarantine(table, () => Date.UTC(2026, 10, 24, 10));
    expect(q.setByService('CI-RUNNER-1', true, { reason: 'risk score', by: 'alice' })).toMatchObject({
      kind: 'agent', value: 'ci-runner-1', known: true, quarantined: true, setBy: ['service'], changed: true,
    });
    expect(q.match(agentAt('10.20.0.11'))).toBe('agent ci-runner-1');
    expect(q.list()).toMatchObject({
      agents: ['ci-runner-1'],
      service: [{ agent: 'ci-runner-1', reason: 'risk score', by: 'alice', since: '2026-11-24T10:00:00.000Z' }],
    });
    // A replayed event changes nothing.
    expect(q.setByService('ci-runner-1', true, { reason: 'risk score' }).changed).toBe(false);
  });

  it('the service\'s release lifts its own quarantine', () => {
    const q = quarantine();
    q.setByService('ci-runner-1', true);
    expect(q.setByService('ci-runner-1', false)).toMatchObject({ quarantined: false, setBy: [], changed: true });
    expect(q.match(agentAt('10.20.0.11'))).toBeUndefined();
    expect(q.list()).toMatchObject({ agents: [], service: [] });
    expect(q.setByService('ci-runner-1', false).changed).toBe(false);
  });

  it('the admin API\'s DELETE lifts a quarantine the service set', () => {
    const q = quarantine();
    q.setByService('ci-runner-1', true);
    expect(q.set('agent', 'ci-runner-1', false)).toMatchObject({ quarantined: false, changed: true });
    expect(q.list().service).toEqual([]);
  });

  it('an agent the operator also quarantined stays cut off when the service releases it', () => {
    const q = quarantine();
    q.set('agent', 'ci-runner-1', true);
    expect(q.setByService('ci-runner-1', true)).toMatchObject({ setBy: ['admin', 'service'], changed: true });
    expect(q.setByService('ci-runner-1', false)).toMatchObject({ quarantined: true, setBy: ['admin'], changed: true });
    expect(q.match(agentAt('10.20.0.11'))).toBe('agent ci-runner-1');
    // And the other way round: the operator's POST on a service quarantine makes it the operator's too.
    const r = quarantine();
    r.setByService('ci-runner-1', true);
    expect(r.set('agent', 'ci-runner-1', true)).toMatchObject({ setBy: ['admin', 'service'], changed: false });
    r.setByService('ci-runner-1', false);
    expect(r.match(agentAt('10.20.0.11'))).toBe('agent ci-runner-1');
  });

  it('a name the config cannot produce is kept, unknown, like the admin API\'s', () => {
    const q = quarantine();
    expect(q.setByService('ci-runner-9', true)).toMatchObject({ value: 'ci-runner-9', known: false, quarantined: true });
    expect(q.list().unknown).toEqual([{ agent: 'ci-runner-9' }]);
  });
});

describe('Quarantine.match: what each kind of entry reaches', () => {
  it('nothing listed: nobody is cut off', () => {
    const q = quarantine();
    for (const address of ['10.20.0.11', '10.20.1.7', 'fd00:20:1::7']) expect(q.match(agentAt(address))).toBeUndefined();
  });

  it('an agent entry reaches that agent only', () => {
    const q = quarantine();
    q.set('agent', 'analytics-10.20.1.7', true);
    expect(q.match(agentAt('10.20.1.7'))).toBe('agent analytics-10.20.1.7');
    expect(q.match(agentAt('10.20.1.8'))).toBeUndefined();
    expect(q.match(agentAt('10.20.0.11'))).toBeUndefined();
  });

  it('a client entry reaches every agent its template produces, IPv4 and IPv6, and no other entry\'s', () => {
    const q = quarantine();
    q.set('client', 'analytics-{ip}', true);
    for (const address of ['10.20.1.7', '10.20.1.200', 'fd00:20:1::7', 'fd00:20:1:0:5c3e:91ff:fe12:ab01']) {
      expect(q.match(agentAt(address))).toBe('client analytics-{ip}');
    }
    expect(q.match(agentAt('10.20.0.11'))).toBeUndefined();
    expect(q.match(agentAt('10.30.0.1'))).toBeUndefined();
  });

  it('a CIDR reaches every source inside it, whichever entry named it; an IPv4-mapped source is judged as IPv4', () => {
    const q = quarantine();
    q.set('cidr', '10.20.0.0/23', true);
    expect(q.match(agentAt('10.20.0.11'))).toBe('cidr 10.20.0.0/23');
    expect(q.match(agentAt('::ffff:10.20.1.9'))).toBe('cidr 10.20.0.0/23');
    expect(q.match(agentAt('10.30.0.1'))).toBeUndefined();
    expect(q.match(agentAt('fd00:20:1::7'))).toBeUndefined();
    q.set('cidr', 'fd00:20:1::/64', true);
    expect(q.match(agentAt('fd00:20:1::abcd'))).toBe('cidr fd00:20:1::/64');
  });

  it('lifting a CIDR stops it at once, and the others stay', () => {
    const q = quarantine();
    q.set('cidr', '10.20.1.0/25', true);
    q.set('cidr', '10.20.1.128/25', true);
    q.set('cidr', '10.20.1.128/25', false);
    expect(q.match(agentAt('10.20.1.7'))).toBe('cidr 10.20.1.0/25');
    expect(q.match(agentAt('10.20.1.200'))).toBeUndefined();
    q.set('cidr', '10.20.1.0/25', false);
    expect(q.match(agentAt('10.20.1.7'))).toBeUndefined();
  });
});

describe('Quarantine.set: canonical names, known or not', () => {
  it.each([
    ['CI-Runner-1', 'ci-runner-1'],
    ['ANALYTICS-10.20.1.7', 'analytics-10.20.1.7'],
    ['analytics-fd00:20:1::0:7', 'analytics-fd00:20:1::7'],
    ['analytics-FD00:20:1:0:0:0:0:7', 'analytics-fd00:20:1::7'],
    ['analytics-::ffff:10.20.1.7', 'analytics-10.20.1.7'],
    ['web-10.30.0.1', 'Web-10.30.0.1'],
  ])('agent %s is %s', (spelled, canonical) => {
    const q = quarantine();
    expect(q.set('agent', spelled, true)).toMatchObject({ kind: 'agent', value: canonical, known: true, quarantined: true, changed: true });
    expect(q.list().agents).toEqual([canonical]);
  });

  it.each([
    ['a fixed name no entry has', 'ci-runner-2'],
    ['an address outside the entry\'s ranges', 'analytics-10.99.0.1'],
    ['an address another entry claims first', 'analytics-10.20.0.11'],
    ['text that is no address', 'analytics-nope'],
    ['a template that was not expanded', 'analytics-{ip}'],
  ])('%s is kept as typed and said to be unknown', (_what, spelled) => {
    const q = quarantine();
    expect(q.set('agent', spelled, true)).toEqual({ kind: 'agent', value: spelled, known: false, quarantined: true, coveredBy: [], setBy: ['admin'], changed: true });
    expect(q.list().unknown).toEqual([{ agent: spelled }]);
  });

  it('client entries are matched in any case and kept as the config writes them', () => {
    const q = quarantine();
    expect(q.set('client', 'WEB-{IP}', true)).toMatchObject({ value: 'Web-{ip}', known: true });
    expect(q.set('client', 'nobody-{ip}', true)).toMatchObject({ value: 'nobody-{ip}', known: false });
  });

  it('CIDRs are canonical network/prefix; known when they reach some entry\'s range; bad ones throw a typed error', () => {
    const q = quarantine();
    expect(q.set('cidr', 'FD00:20:1:0::/64', true)).toMatchObject({ value: 'fd00:20:1::/64', known: true });
    expect(q.set('cidr', '10.0.0.0/8', true)).toMatchObject({ value: '10.0.0.0/8', known: true });   // contains entries' ranges
    expect(q.set('cidr', '10.20.1.7', true)).toMatchObject({ value: '10.20.1.7/32', known: true });  // inside one
    expect(q.set('cidr', '192.0.2.0/24', true)).toMatchObject({ known: false });
    expect(() => q.set('cidr', '10.20.1.7/24', true)).toThrow(QuarantineTargetError);
    expect(() => q.set('cidr', '10.20.1.7/24', true)).toThrow('cidr: "10.20.1.7/24" has host bits set; did you mean "10.20.1.0/24"?');
  });

  it('repeating a change reports changed: false', () => {
    const q = quarantine();
    expect(q.set('agent', 'ci-runner-1', true).changed).toBe(true);
    expect(q.set('agent', 'CI-RUNNER-1', true).changed).toBe(false);
    expect(q.set('agent', 'ci-runner-1', false).changed).toBe(true);
    expect(q.set('agent', 'ci-runner-1', false).changed).toBe(false);
  });

  it('an agent reached by its client entry or a CIDR says so, and stays quarantined when its own entry is lifted', () => {
    const q = quarantine();
    q.set('client', 'analytics-{ip}', true);
    q.set('cidr', 'fd00:20:1::/64', true);
    expect(q.status('agent', 'analytics-fd00:20:1::7')).toEqual({
      kind: 'agent', value: 'analytics-fd00:20:1::7', known: true, quarantined: true,
      coveredBy: [{ client: 'analytics-{ip}' }, { cidr: 'fd00:20:1::/64' }], setBy: [],
    });
    expect(q.set('agent', 'analytics-fd00:20:1::7', false)).toMatchObject({ changed: false, quarantined: true });
    expect(q.status('agent', 'analytics-10.20.1.7')).toMatchObject({ quarantined: true, coveredBy: [{ client: 'analytics-{ip}' }] });
    expect(q.status('agent', 'ci-runner-1')).toMatchObject({ quarantined: false, coveredBy: [] });
  });

  it(`holds at most ${MAX_QUARANTINE_ENTRIES} entries: the next one is refused with a typed error, lifting still works`, () => {
    const q = quarantine();
    for (let i = 0; i < MAX_QUARANTINE_ENTRIES; i++) q.set('agent', `a${i}`, true);
    expect(() => q.set('client', 'x', true)).toThrow(QuarantineFullError);
    expect(q.set('agent', 'a1', true).changed).toBe(false);   // already there: not a new entry
    expect(q.set('agent', 'a1', false).changed).toBe(true);
    expect(q.set('cidr', '10.0.0.0/8', true).changed).toBe(true);
  });
});

describe('Quarantine.useNames: a reload', () => {
  it('re-spells entries the new config writes another way, and reports what it no longer reaches', () => {
    const q = quarantine();
    q.set('client', 'web-{ip}', true);
    q.set('agent', 'ci-runner-1', true);
    q.set('agent', 'analytics-10.20.1.7', true);
    q.set('cidr', '10.30.0.0/16', true);
    const renamed = tableOf(parseConfig(YAML(undefined, `
  - { name: CI-Runner-1, match: ["10.20.0.11/32"], role: coding }
  - { name: "WEB-{ip}", match: ["10.40.0.0/16"], role: coding }`), 'reloaded.yaml'));
    expect(q.useNames(renamed)).toEqual([{ agent: 'analytics-10.20.1.7' }, { cidr: '10.30.0.0/16' }]);
    expect(q.list()).toMatchObject({ agents: ['CI-Runner-1', 'analytics-10.20.1.7'], clients: ['WEB-{ip}'] });
    expect(q.match(renamed.lookup('10.20.0.11')!)).toBe('agent CI-Runner-1');
    expect(q.match(renamed.lookup('10.40.0.9')!)).toBe('client WEB-{ip}');
  });
});

describe('the attack: an {ip} agent on an IPv6 /64 uses the next address (the real pipeline, a real upstream)', () => {
  let dns: Authority | null = null;
  afterEach(async () => {
    await dns?.stop();
    dns = null;
  });

  let pools: UdpPools | null = null;
  afterEach(() => {
    pools?.close();
    pools = null;
  });

  async function pipelineWith(q: Quarantine) {
    dns = await startAuthority({ zone: { 'github.com': [{ type: 'AAAA', data: '2606:50c0:8000::153' }] } });
    const cfg = parseConfig(YAML(dns.hostPort.text), 'walk-out.yaml');
    const log = createLogger('silent');
    const grants = new GrantStore();
    const holds = new HoldRegistry({ grants, post: () => Promise.resolve(), linkUp: () => false, log });
    pools = new UdpPools();
    const pipeline = buildPipeline(cfg, { cache: new AnswerCache({ maxEntries: 100, maxBytes: 1 << 20 }), grants, holds, quarantine: q, budgets: NO_BUDGETS, upstreamHealth: new UpstreamHealth(),
      buckets: new TokenBuckets(1000), sampler: new LineSampler(), upstreamSockets: new SocketBudget(64), upstreamPools: pools, firewall: null }, log, new Metrics({ perAgent: false, version: 'test' }));
    q.useNames(pipeline.clients);
    return async (address: string): Promise<string> => {
      const reply = await pipeline.handle(queryBytes({ name: 'github.com', type: 'AAAA' }), { address, port: 40000, family: 6, transport: 'udp' });
      return decodePacket(reply!).rcode ?? '';
    };
  }

  // Before the fix, quarantine held one expanded name, and the same host at ::8 or at a privacy
  // address got NOERROR 2606:50c0:8000::153 (only ::7 got NXDOMAIN).
  const WALK = ['fd00:20:1::7', 'fd00:20:1::8', 'fd00:20:1:0:5c3e:91ff:fe12:ab01'];

  it('quarantined by its client entry: every address of the /64 gets the sinkhole', async () => {
    const q = new Quarantine();
    const ask = await pipelineWith(q);
    expect(q.set('agent', 'analytics-fd00:20:1::0:7', true)).toMatchObject({ known: true });
    expect(await Promise.all(WALK.map(ask))).toEqual(['NXDOMAIN', 'NOERROR', 'NOERROR']);   // the name alone does not hold it
    q.set('client', 'analytics-{ip}', true);
    expect(await Promise.all(WALK.map(ask))).toEqual(['NXDOMAIN', 'NXDOMAIN', 'NXDOMAIN']);
  });

  it('quarantined by its /64: every address of it gets the sinkhole', async () => {
    const q = new Quarantine();
    const ask = await pipelineWith(q);
    q.set('cidr', 'fd00:20:1::/64', true);
    expect(await Promise.all(WALK.map(ask))).toEqual(['NXDOMAIN', 'NXDOMAIN', 'NXDOMAIN']);
  });
});
