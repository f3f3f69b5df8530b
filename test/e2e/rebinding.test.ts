/**
 * DNS rebinding through the running proxy, as an attacker would try it: an
 * allowed public name whose answer carries an address that reaches inside —
 * directly, embedded in an IPv6 translation form (NAT64, 6to4, SIIT, …), in a
 * reserved range, as an HTTPS address hint, or slipped into the authority or
 * additional section beside an innocent answer. Each must be sinkholed with
 * reason `rebinding`; public addresses that look alike must still be answered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Zone, ZoneRecord } from '../helpers/authority.js';
import { ipBytes } from '../helpers/ip.js';
import { u16, wireName } from '../helpers/packets.js';
import { addresses, startProxy, type ClientOptions, type Proxy } from '../helpers/proxy.js';

const HTTPS = 65;
const EDNS: ClientOptions = { edns: true };

/** An HTTPS record (RFC 9460): priority 1, target ".", and the given ipv4hint / ipv6hint. */
function https(hints: { v4?: readonly string[]; v6?: readonly string[] }): ZoneRecord {
  const param = (key: number, addrs: readonly string[]): Buffer => {
    const value = Buffer.concat(addrs.map(ipBytes));
    return Buffer.concat([u16(key), u16(value.length), value]);
  };
  const data = Buffer.concat([
    u16(1), wireName(),
    ...(hints.v4 ? [param(4, hints.v4)] : []),
    ...(hints.v6 ? [param(6, hints.v6)] : []),
  ]);
  return { type: `UNKNOWN_${HTTPS}`, data };
}

/** [name, type asked, the address the log names, why it reaches inside] */
const ATTACKS: ReadonlyArray<readonly [string, 'A' | 'AAAA' | typeof HTTPS, string, string]> = [
  ['nat64.rebind.test', 'AAAA', '64:ff9b::a9fe:a9fe', 'NAT64 of 169.254.169.254 (cloud metadata)'],
  ['nat64-local.rebind.test', 'AAAA', '64:ff9b:1::a00:1', 'local-use NAT64 (RFC 8215) of 10.0.0.1'],
  ['6to4.rebind.test', 'AAAA', '2002:a00:1::', '6to4 of 10.0.0.1'],
  ['compat.rebind.test', 'AAAA', '::a00:1', 'IPv4-compatible 10.0.0.1'],
  ['siit.rebind.test', 'AAAA', '::ffff:0:a00:1', 'SIIT 10.0.0.1'],
  ['mapped.rebind.test', 'AAAA', '::ffff:a00:1', 'IPv4-mapped 10.0.0.1'],
  ['teredo.rebind.test', 'AAAA', '2001::1', 'Teredo (always)'],
  ['site-local.rebind.test', 'AAAA', 'fec0::1', 'site-local'],
  ['multicast6.rebind.test', 'AAAA', 'ff02::1', 'IPv6 multicast'],
  ['discard.rebind.test', 'AAAA', '100::1', 'discard-only 100::/64'],
  ['multicast.rebind.test', 'A', '224.0.0.1', 'multicast'],
  ['broadcast.rebind.test', 'A', '255.255.255.255', 'limited broadcast'],
  ['reserved.rebind.test', 'A', '240.0.0.1', 'reserved 240/4'],
  ['benchmark.rebind.test', 'A', '198.18.0.1', 'benchmarking 198.18/15'],
  ['ietf.rebind.test', 'A', '192.0.0.1', 'IETF protocol assignments 192.0.0/24'],
  ['hint6.rebind.test', HTTPS, '64:ff9b::a9fe:a9fe', 'HTTPS ipv6hint, NAT64 of 169.254.169.254'],
  ['hint6-6to4.rebind.test', HTTPS, '2002:a9fe:a9fe::1', 'HTTPS ipv6hint, 6to4 of 169.254.169.254'],
  ['hint4.rebind.test', HTTPS, '192.0.0.1', 'HTTPS ipv4hint in 192.0.0/24'],
  ['glue.rebind.test', 'A', '10.0.0.1', 'a private A in the additional section'],
  ['glue6.rebind.test', 'AAAA', '::ffff:7f00:1', 'a mapped loopback AAAA in the additional section'],
  ['authority.rebind.test', 'A', '127.0.0.1', 'a loopback A in the authority section'],
];

const PUBLIC_V4 = '198.51.100.7';
const PUBLIC_V6 = '2001:db8::7';

const ZONE: Zone = {
  'nat64.rebind.test': [{ type: 'AAAA', data: '64:ff9b::a9fe:a9fe' }],
  'nat64-local.rebind.test': [{ type: 'AAAA', data: '64:ff9b:1::a00:1' }],
  '6to4.rebind.test': [{ type: 'AAAA', data: '2002:a00:1::' }],
  'compat.rebind.test': [{ type: 'AAAA', data: '::a00:1' }],
  'siit.rebind.test': [{ type: 'AAAA', data: '::ffff:0:a00:1' }],
  'mapped.rebind.test': [{ type: 'AAAA', data: '::ffff:a00:1' }],
  'teredo.rebind.test': [{ type: 'AAAA', data: '2001::1' }],
  'site-local.rebind.test': [{ type: 'AAAA', data: 'fec0::1' }],
  'multicast6.rebind.test': [{ type: 'AAAA', data: 'ff02::1' }],
  'discard.rebind.test': [{ type: 'AAAA', data: '100::1' }],
  'multicast.rebind.test': [{ type: 'A', data: '224.0.0.1' }],
  'broadcast.rebind.test': [{ type: 'A', data: '255.255.255.255' }],
  'reserved.rebind.test': [{ type: 'A', data: '240.0.0.1' }],
  'benchmark.rebind.test': [{ type: 'A', data: '198.18.0.1' }],
  'ietf.rebind.test': [{ type: 'A', data: '192.0.0.1' }],
  'hint6.rebind.test': [https({ v4: [PUBLIC_V4], v6: [PUBLIC_V6, '64:ff9b::a9fe:a9fe'] })],
  'hint6-6to4.rebind.test': [https({ v6: ['2002:a9fe:a9fe::1'] })],
  'hint4.rebind.test': [https({ v4: [PUBLIC_V4, '192.0.0.1'] })],
  'glue.rebind.test': [{ type: 'A', data: PUBLIC_V4 }, { type: 'A', data: '10.0.0.1', section: 'additional' }],
  'glue6.rebind.test': [{ type: 'AAAA', data: PUBLIC_V6 }, { type: 'AAAA', data: '::ffff:7f00:1', section: 'additional' }],
  'authority.rebind.test': [{ type: 'A', data: PUBLIC_V4 }, { type: 'A', data: '127.0.0.1', section: 'authority' }],

  // Public addresses that look like the attacks above: they must be answered.
  'nat64.public.test': [{ type: 'AAAA', data: '64:ff9b::808:808' }],          // 8.8.8.8 via NAT64
  'nat64-local.public.test': [{ type: 'AAAA', data: '64:ff9b:1::808:808' }],
  '6to4.public.test': [{ type: 'AAAA', data: '2002:808:808::' }],
  'mapped.public.test': [{ type: 'AAAA', data: '::ffff:808:808' }],
  'docs.public.test': [{ type: 'A', data: '192.0.2.1' }],                     // TEST-NET-1: not in the list
  'near.public.test': [{ type: 'A', data: '198.20.0.1' }, { type: 'A', data: '223.255.255.255' }, { type: 'A', data: '192.0.1.1' }],
  'hints.public.test': [https({ v4: [PUBLIC_V4], v6: [PUBLIC_V6, '64:ff9b::808:808'] })],
  'glue.public.test': [{ type: 'A', data: PUBLIC_V4 }, { type: 'A', data: '192.0.2.53', section: 'additional' }],

  // An inside name may answer inside addresses, in every form.
  'db.corp.internal': [{ type: 'AAAA', data: '64:ff9b::a00:5' }, { type: 'AAAA', data: 'fd00::5' }],
};

const YAML = `
  version: 1
  upstreams: { servers: UPSTREAMS, timeout: 500ms }
  answers: { block_private: true }
  clients: [{ name: agent, match: ["127.0.0.1/32"], role: coding }]
  roles:
    coding:
      allow: ["*.rebind.test", "*.public.test", "*.corp.internal"]
      private_ok: ["*.corp.internal"]
      qtypes: [A, AAAA, HTTPS]
      unlisted: sinkhole
`;

describe('rebinding: every private form is sinkholed', () => {
  let proxy: Proxy;

  beforeAll(async () => {
    proxy = await startProxy({ zone: ZONE, yaml: YAML });
  });
  afterAll(() => proxy.close());

  it.each(ATTACKS)('%s %s answering %s (%s) is sinkholed', async (name, type, address) => {
    for (const transport of ['udp', 'tcp'] as const) {
      const r = await proxy.query(name, type, { ...EDNS, transport });
      expect(r.packet.rcode, transport).toBe('NXDOMAIN');
      expect(r.packet.answers, transport).toEqual([]);
      expect(r.packet.additionals.filter((a) => a.type !== 'OPT'), transport).toEqual([]);
      expect(r.ede?.infoCode, transport).toBe(15);
      expect(r.log, transport).toMatchObject({ action: 'sinkhole', reason: 'rebinding', rule: `${name} answered ${address}` });
    }
    // The second ask came from the cache, and the cache did not let it through either.
    expect(proxy.authority.queries.filter((q) => q.name === name)).toHaveLength(1);
  });
});

describe('rebinding: public look-alikes are answered', () => {
  let proxy: Proxy;

  beforeAll(async () => {
    proxy = await startProxy({ zone: ZONE, yaml: YAML });
  });
  afterAll(() => proxy.close());

  it.each([
    ['nat64.public.test', 'AAAA', ['64:ff9b::808:808']],
    ['nat64-local.public.test', 'AAAA', ['64:ff9b:1::808:808']],
    ['6to4.public.test', 'AAAA', ['2002:808:808::']],
    ['mapped.public.test', 'AAAA', ['::ffff:808:808']],
    ['docs.public.test', 'A', ['192.0.2.1']],
    ['near.public.test', 'A', ['198.20.0.1', '223.255.255.255', '192.0.1.1']],
    ['glue.public.test', 'A', [PUBLIC_V4]],
    ['db.corp.internal', 'AAAA', ['64:ff9b::a00:5', 'fd00::5']],
  ] as const)('%s %s is answered', async (name, type, expected) => {
    const r = await proxy.query(name, type, EDNS);
    expect(r.packet.rcode).toBe('NOERROR');
    expect(addresses(r.packet)).toEqual(expected);
    expect(r.log).toMatchObject({ action: 'forward', reason: 'allowlist' });
  });

  it('answers an HTTPS record whose hints are all public', async () => {
    const r = await proxy.query('hints.public.test', HTTPS, EDNS);
    expect(r.packet.rcode).toBe('NOERROR');
    expect(r.packet.answers).toHaveLength(1);
    expect(r.log).toMatchObject({ action: 'forward', reason: 'allowlist', answers: [PUBLIC_V4, PUBLIC_V6, '64:ff9b::808:808'] });
  });
});
