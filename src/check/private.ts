import { BlockList, isIPv4 } from 'node:net';

/**
 * Addresses a public name has no business answering with: a name that does is
 * DNS rebinding, turning an agent's browser or HTTP client against the inside.
 */
const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.168.0.0', 16],
] as const) PRIVATE.addSubnet(net, prefix, 'ipv4');
// IPv4-mapped IPv6 addresses (::ffff:10.0.0.1) need no rule of their own:
// BlockList checks them against the IPv4 rules above.
for (const [net, prefix] of [
  ['::', 127],            // :: and ::1
  ['fc00::', 7],          // unique local
  ['fe80::', 10],         // link-local
] as const) PRIVATE.addSubnet(net, prefix, 'ipv6');

export function isPrivateAddress(address: string): boolean {
  return PRIVATE.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
}
