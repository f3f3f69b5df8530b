import { isIP, isIPv4, SocketAddress } from 'node:net';

/**
 * An address as identify sees it on a socket, or null for text that is not
 * an address. `{ip}` agent names carry the address in the socket's spelling,
 * which is libuv's inet_ntop: lower case, the longest run of zero groups as
 * "::", and an IPv4-compatible address with a dotted tail ("::10.0.0.1").
 * SocketAddress formats with that same function, so the two cannot drift
 * apart (config/address.ts canonicalIp follows the URL standard instead,
 * which writes "::a00:1"). An IPv4-mapped address is unwrapped to its IPv4
 * form, as identify unwraps a dual-stack socket's ::ffff:a.b.c.d.
 */
export function canonicalAddress(text: string): string | null {
  const zoneAt = text.indexOf('%');
  const bare = zoneAt === -1 ? text : text.slice(0, zoneAt);
  const kind = isIP(bare);
  if (kind === 0 || (kind === 4 && zoneAt !== -1)) return null;
  const formatted = new SocketAddress({ address: bare, family: kind === 4 ? 'ipv4' : 'ipv6' }).address;
  if (formatted.startsWith('::ffff:') && isIPv4(formatted.slice(7))) return formatted.slice(7);
  return zoneAt === -1 ? formatted : `${formatted}${text.slice(zoneAt)}`;
}
