import { isIP } from 'node:net';
import type { Cidr, HostPort } from './types.js';
import { fail, ok, type Parsed } from './reader.js';

/**
 * "127.0.0.1:5353" or "[::1]:5353". Hosts are IP literals only: resolving a
 * name here would make the DNS proxy depend on DNS to start. `defaultPort`
 * lets upstreams be written as a bare address.
 */
export function parseHostPort(text: string, defaultPort?: number): Parsed<HostPort> {
  const m = /^\[([^\]]*)\](?::([^:]*))?$/.exec(text) ?? /^([^:[\]]*)(?::([^:]*))?$/.exec(text);
  if (!m) {
    return isIP(text) === 6
      ? fail(`"${text}": IPv6 addresses need brackets around the address, as in "[::1]:5353"`)
      : fail(`"${text}" is not host:port, as in "127.0.0.1:5353" or "[::1]:5353"`);
  }
  const host = m[1] ?? '';
  const family = isIP(host);
  const bracketed = text.startsWith('[');
  if (host.includes('%')) return fail(`"${text}": zone-scoped addresses are not supported`);
  if (family === 0 || (family === 6) !== bracketed) {
    return fail(`"${text}": the host must be an IP address${family === 4 ? ' (only IPv6 goes in brackets)' : ''}`);
  }
  let port = defaultPort;
  if (m[2] !== undefined) {
    port = /^\d{1,5}$/.test(m[2]) ? Number(m[2]) : NaN;
    if (!(port >= 1 && port <= 65535)) return fail(`"${text}": port must be a number from 1 to 65535`);
  }
  if (port === undefined) return fail(`"${text}" has no port, as in "${bracketed ? text : host}:5353"`);
  return ok({ host: canonicalIp(host), port, family: family === 4 ? 4 : 6, text });
}

/**
 * How an address reads in logs and in `HostPort.text`: "127.0.0.1:5353", or
 * "[::1]:5353" (brackets around IPv6, the form parseHostPort reads back).
 */
export function formatHostPort(host: string, port: number, family: 4 | 6): string {
  return family === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * "10.20.1.0/24", "fd00:20:1::/64", or a bare address meaning that one host.
 * An address with host bits set ("10.20.1.5/24") is rejected, not masked: it
 * usually means the operator meant one host and mistyped the prefix.
 */
export function parseCidr(text: string): Parsed<Cidr> {
  const [addr = '', prefixText, ...rest] = text.split('/');
  const family = isIP(addr);
  if (family === 0 || addr.includes('%') || rest.length > 0) {
    return fail(`"${text}" is not an address range, as in "10.20.1.0/24" or "fd00:20:1::/64"`);
  }
  const bits = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? bits : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= bits)) return fail(`"${text}": prefix length must be 0 to ${bits}`);
  const value = ipToBigInt(addr, family);
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  const network = bigIntToIp(value & ~hostMask, family);
  if ((value & hostMask) !== 0n) {
    return fail(`"${text}" has host bits set; did you mean "${network}/${prefix}"?`);
  }
  return ok({ network, prefix, family: family === 4 ? 4 : 6, text: `${network}/${prefix}` });
}

/** One spelling per address, so "::1" and "0:0::1" compare equal. */
export function canonicalIp(ip: string): string {
  return isIP(ip) === 6 ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}

/** An address as a number, for range arithmetic (lint/clients.ts splits ranges with it). */
export function ipToBigInt(ip: string, family: number): bigint {
  if (family === 4) return ip.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(octet), 0n);
  // The URL parser folds an embedded dotted quad into hex groups, leaving only "::" to expand.
  const [head = '', tail] = canonicalIp(ip).split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(`0x${g}`), 0n);
}

export function bigIntToIp(value: bigint, family: number): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  return canonicalIp(groups.join(':'));
}
