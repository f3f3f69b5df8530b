import { describe, expect, it } from 'vitest';
import { isPrivateAddress } from '../../src/check/private.js';
import { ipBytes } from '../helpers/ip.js';

/**
 * The spec's "What counts as a private answer (rebinding, v1.1)", range by
 * range: the edges of each range are private, the addresses just outside are
 * not, and every IPv6 form that embeds an IPv4 address is judged by it.
 */
describe('isPrivateAddress', () => {
  it.each([
    // IPv4, first and last address of each range
    ['0.0.0.0', '0/8'], ['0.255.255.255', '0/8'],
    ['10.0.0.0', '10/8'], ['10.255.255.255', '10/8'],
    ['100.64.0.0', '100.64/10'], ['100.127.255.255', '100.64/10'],
    ['127.0.0.1', '127/8'], ['127.255.255.255', '127/8'],
    ['169.254.0.0', '169.254/16'], ['169.254.169.254', '169.254/16'], ['169.254.255.255', '169.254/16'],
    ['172.16.0.0', '172.16/12'], ['172.31.255.255', '172.16/12'],
    ['192.0.0.0', '192.0.0/24'], ['192.0.0.1', '192.0.0/24'], ['192.0.0.255', '192.0.0/24'],
    ['192.168.0.0', '192.168/16'], ['192.168.255.255', '192.168/16'],
    ['198.18.0.0', '198.18/15'], ['198.19.255.255', '198.18/15'],
    ['224.0.0.0', '224/4'], ['224.0.0.1', '224/4'], ['239.255.255.255', '224/4'],
    ['240.0.0.0', '240/4'], ['240.0.0.1', '240/4'], ['255.255.255.254', '240/4'], ['255.255.255.255', 'broadcast'],
    // IPv6
    ['::', '::/128'], ['::1', '::1/128'],
    ['fc00::', 'fc00::/7'], ['fd00::1', 'fc00::/7'], ['fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'fc00::/7'],
    ['fe80::', 'fe80::/10'], ['fe80::1', 'fe80::/10'], ['febf:ffff::1', 'fe80::/10'],
    ['fec0::', 'fec0::/10'], ['fec0::1', 'fec0::/10'], ['feff:ffff::1', 'fec0::/10'],
    ['ff00::', 'ff00::/8'], ['ff02::1', 'ff00::/8'], ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ff00::/8'],
    ['100::', '100::/64'], ['100::1', '100::/64'], ['100::ffff:ffff:ffff:ffff', '100::/64'],
    // IPv6 forms that embed IPv4, judged by the embedded address
    ['::ffff:10.0.0.1', 'IPv4-mapped 10.0.0.1'], ['::ffff:a00:1', 'IPv4-mapped 10.0.0.1'], ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:224.0.0.1', 'IPv4-mapped multicast'],
    ['::ffff:0:a00:1', 'SIIT 10.0.0.1'], ['::ffff:0:a9fe:a9fe', 'SIIT 169.254.169.254'],
    ['::a00:1', 'IPv4-compatible 10.0.0.1'], ['::127.0.0.1', 'IPv4-compatible loopback'], ['::2', 'IPv4-compatible 0.0.0.2'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 169.254.169.254'], ['64:ff9b::a00:1', 'NAT64 10.0.0.1'], ['64:ff9b::7f00:1', 'NAT64 loopback'],
    ['64:ff9b::ffff:ffff', 'NAT64 broadcast'],
    ['64:ff9b:1::a00:1', 'local-use NAT64 10.0.0.1'], ['64:ff9b:1:ffff:ffff:ffff:c0a8:101', 'local-use NAT64 192.168.1.1'],
    ['2002:a00:1::', '6to4 10.0.0.1'], ['2002:a9fe:a9fe::1', '6to4 169.254.169.254'], ['2002:c000:1::', '6to4 192.0.0.1'],
    ['2001::', 'Teredo'], ['2001::1', 'Teredo'], ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo (public server, always)'],
  ])('%s is private (%s)', (address) => {
    expect(isPrivateAddress(ipBytes(address))).toBe(true);
  });

  it.each([
    // IPv4 just outside each range, and ranges the spec leaves out
    ['1.0.0.0', 'after 0/8'], ['9.255.255.255', 'before 10/8'], ['11.0.0.0', 'after 10/8'],
    ['100.63.255.255', 'before 100.64/10'], ['100.128.0.1', 'after 100.64/10'],
    ['126.255.255.255', 'before 127/8'], ['128.0.0.0', 'after 127/8'],
    ['169.253.255.255', 'before 169.254/16'], ['169.255.0.0', 'after 169.254/16'],
    ['172.15.255.255', 'before 172.16/12'], ['172.32.0.1', 'after 172.16/12'],
    ['191.255.255.255', 'before 192.0.0/24'], ['192.0.1.0', 'after 192.0.0/24'],
    ['192.0.2.1', 'TEST-NET-1: documentation, not in the list'],
    ['192.167.255.255', 'before 192.168/16'], ['192.169.0.1', 'after 192.168/16'],
    ['198.17.255.255', 'before 198.18/15'], ['198.20.0.0', 'after 198.18/15'],
    ['198.51.100.7', 'TEST-NET-2'], ['203.0.113.80', 'TEST-NET-3'],
    ['223.255.255.255', 'before 224/4'], ['8.8.8.8', 'public'],
    // IPv6 just outside each range
    ['::ffff:8.8.8.8', 'IPv4-mapped public'], ['::ffff:0:808:808', 'SIIT public'], ['::808:808', 'IPv4-compatible public'],
    ['64:ff9b::808:808', '8.8.8.8 via NAT64'], ['64:ff9b::c000:201', 'NAT64 192.0.2.1'],
    ['64:ff9b:1::808:808', '8.8.8.8 via local-use NAT64'],
    ['64:ff9b:0:0:1::a00:1', 'outside 64:ff9b::/96 (not a listed form)'],
    ['64:ff9b:2::a00:1', 'outside 64:ff9b:1::/48'],
    ['2002:808:808::', '6to4 of 8.8.8.8'], ['2002:808:808:1::1', '6to4 of 8.8.8.8'],
    ['2001:1::1', 'after Teredo'], ['2001:db8::1', 'documentation'], ['2001:4860:4860::8888', 'public'],
    ['fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'before fc00::/7'], ['fe00::1', 'between fc00::/7 and fe80::/10'],
    ['fe7f:ffff::1', 'before fe80::/10'],
    ['100:0:0:1::1', 'after 100::/64'], ['ff::1', 'not ff00::/8'], ['2606:4700::1111', 'public'],
  ])('%s is public (%s)', (address) => {
    expect(isPrivateAddress(ipBytes(address))).toBe(false);
  });

  it('judges 4- and 16-byte addresses only', () => {
    expect(() => isPrivateAddress(Buffer.alloc(5))).toThrow(RangeError);
  });
});
