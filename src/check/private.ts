import { formatIpv4, formatIpv6, type ResponseView } from '../wire/response.js';

/**
 * Addresses a public name has no business answering with: a name that does is
 * DNS rebinding, turning an agent's HTTP client against the inside. The set is
 * the spec's "What counts as a private answer (rebinding, v1.1)", read straight
 * from the address bytes the walked answer points at: no parsing of text, no
 * allocation, nothing but a few comparisons per address.
 *
 *   IPv4: 0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.0.0/24,
 *         192.168/16, 198.18/15, 224/4 (multicast), 240/4 (reserved, and
 *         255.255.255.255).
 *   IPv6: ::/128, ::1/128, fc00::/7, fe80::/10, fec0::/10, ff00::/8, 100::/64.
 *   IPv6 that embeds IPv4, judged by the IPv4 address inside it:
 *         ::ffff:0:0/96 (mapped), ::ffff:0:0:0/96 (SIIT), ::/96 (compatible),
 *         64:ff9b::/96 and 64:ff9b:1::/48 (NAT64), 2002::/16 (6to4);
 *         2001::/32 (Teredo) is always private: its client address is
 *         obfuscated and its server address is not the destination.
 *
 * In 64:ff9b:1::/48 (RFC 8215, local-use NAT64) the IPv4 address is read from
 * the last 32 bits, where a translator with a /96 prefix (the usual length for
 * DNS64/NAT64, and the only one of 64:ff9b::/96) puts it. A prefix length
 * shorter than /96 places it elsewhere (RFC 6052 §2.2); where the local
 * translator uses one, list its inside names in `private_ok` and keep its
 * prefix out of public answers at the DNS64.
 */

/** True when the 4 bytes at `at` are in one of the private IPv4 ranges. */
export function isPrivateIpv4(b: Uint8Array, at: number): boolean {
  const a0 = b[at]!;
  const a1 = b[at + 1]!;
  return (
    a0 === 0 ||                                         // 0/8
    a0 === 10 ||                                        // 10/8
    a0 === 127 ||                                       // 127/8
    a0 >= 224 ||                                        // 224/4 multicast, 240/4 reserved, broadcast
    (a0 === 100 && (a1 & 0xc0) === 64) ||               // 100.64/10
    (a0 === 169 && a1 === 254) ||                       // 169.254/16
    (a0 === 172 && (a1 & 0xf0) === 16) ||               // 172.16/12
    (a0 === 192 && a1 === 168) ||                       // 192.168/16
    (a0 === 192 && a1 === 0 && b[at + 2] === 0) ||      // 192.0.0/24
    (a0 === 198 && (a1 & 0xfe) === 18)                  // 198.18/15
  );
}

/** True when the 16 bytes at `at` are in one of the private IPv6 ranges, or embed a private IPv4 address. */
export function isPrivateIpv6(b: Uint8Array, at: number): boolean {
  const b0 = b[at]!;
  const b1 = b[at + 1]!;
  if ((b0 & 0xfe) === 0xfc) return true;                          // fc00::/7 unique local
  if (b0 === 0xff) return true;                                   // ff00::/8 multicast
  if (b0 === 0xfe && (b1 & 0x80) === 0x80) return true;           // fe80::/10 link-local, fec0::/10 site-local
  const w0 = (b0 << 8) | b1;
  const w1 = (b[at + 2]! << 8) | b[at + 3]!;
  if (w0 === 0x2002) return isPrivateIpv4(b, at + 2);             // 6to4: 2002:AABB:CCDD::/48
  if (w0 === 0x2001 && w1 === 0) return true;                     // Teredo 2001::/32
  if (w0 === 0x0100) return w1 === 0 && zero(b, at + 4, 4);       // 100::/64 discard-only
  if (w0 === 0x0064 && w1 === 0xff9b) {
    const w2 = (b[at + 4]! << 8) | b[at + 5]!;
    if (w2 === 1) return isPrivateIpv4(b, at + 12);               // 64:ff9b:1::/48, local-use NAT64
    return w2 === 0 && zero(b, at + 6, 6) && isPrivateIpv4(b, at + 12);   // 64:ff9b::/96 NAT64
  }
  if (w0 !== 0 || w1 !== 0 || !zero(b, at + 4, 4)) return false;  // every form below starts with 64 zero bits
  const w4 = (b[at + 8]! << 8) | b[at + 9]!;
  const w5 = (b[at + 10]! << 8) | b[at + 11]!;
  if (w4 === 0 && w5 === 0) return isPrivateIpv4(b, at + 12);     // ::/96 compatible (::, ::1 are 0.0.0.0, 0.0.0.1)
  if (w4 === 0 && w5 === 0xffff) return isPrivateIpv4(b, at + 12);     // ::ffff:0:0/96 mapped
  if (w4 === 0xffff && w5 === 0) return isPrivateIpv4(b, at + 12);     // ::ffff:0:0:0/96 SIIT
  return false;
}

/** A 4-byte or 16-byte address, judged as above. */
export function isPrivateAddress(address: Uint8Array): boolean {
  if (address.length === 4) return isPrivateIpv4(address, 0);
  if (address.length === 16) return isPrivateIpv6(address, 0);
  throw new RangeError(`an address is 4 or 16 bytes, not ${address.length}`);
}

/**
 * The first private address anywhere in a walked answer (every section, and
 * HTTPS/SVCB hints), as text for the decision log, or null when there is none.
 */
export function firstPrivateAddress(view: ResponseView): string | null {
  const wire = view.wire;
  for (const at of view.ipv4At) if (isPrivateIpv4(wire, at)) return formatIpv4(wire, at);
  for (const at of view.ipv6At) if (isPrivateIpv6(wire, at)) return formatIpv6(wire, at);
  return null;
}

function zero(b: Uint8Array, from: number, count: number): boolean {
  for (let i = from; i < from + count; i++) if (b[i] !== 0) return false;
  return true;
}
