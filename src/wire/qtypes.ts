/**
 * Query type names and numbers. Our own table, because dns-packet decodes
 * HTTPS (65) and SVCB (64) as "UNKNOWN_65" / "UNKNOWN_64", and config files,
 * logs and metrics need the names people use.
 */

const TYPES: ReadonlyArray<readonly [string, number]> = [
  ['A', 1], ['NS', 2], ['CNAME', 5], ['SOA', 6], ['PTR', 12], ['HINFO', 13],
  ['MX', 15], ['TXT', 16], ['RP', 17], ['AFSDB', 18], ['SIG', 24], ['KEY', 25],
  ['AAAA', 28], ['LOC', 29], ['SRV', 33], ['NAPTR', 35], ['KX', 36],
  ['CERT', 37], ['DNAME', 39], ['OPT', 41], ['APL', 42], ['DS', 43],
  ['SSHFP', 44], ['IPSECKEY', 45], ['RRSIG', 46], ['NSEC', 47], ['DNSKEY', 48],
  ['DHCID', 49], ['NSEC3', 50], ['NSEC3PARAM', 51], ['TLSA', 52],
  ['SMIMEA', 53], ['HIP', 55], ['CDS', 59], ['CDNSKEY', 60],
  ['OPENPGPKEY', 61], ['CSYNC', 62], ['ZONEMD', 63], ['SVCB', 64],
  ['HTTPS', 65], ['SPF', 99], ['TKEY', 249], ['TSIG', 250], ['IXFR', 251],
  ['AXFR', 252], ['ANY', 255], ['URI', 256], ['CAA', 257],
];

const byName = new Map<string, number>(TYPES);
const byNumber = new Map<number, string>(TYPES.map(([n, v]) => [v, n]));

export const QTYPE = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, TXT: 16, AAAA: 28, OPT: 41,
  SVCB: 64, HTTPS: 65, IXFR: 251, AXFR: 252, ANY: 255,
} as const;

/** "AAAA" → 28; also accepts the RFC 3597 form "TYPE65". Undefined when unknown. */
export function qtypeNumber(name: string): number | undefined {
  const upper = name.toUpperCase();
  const known = byName.get(upper);
  if (known !== undefined) return known;
  const m = /^TYPE(\d{1,5})$/.exec(upper);
  if (m) {
    const n = Number(m[1]);
    if (n <= 0xffff) return n;
  }
  return undefined;
}

/** 28 → "AAAA"; types without a mnemonic use the RFC 3597 form "TYPE65280". */
export function qtypeName(n: number): string {
  return byNumber.get(n) ?? `TYPE${n}`;
}

/** True when the type has a mnemonic in our table (used to keep metric labels a closed set). */
export function isKnownQtype(n: number): boolean {
  return byNumber.has(n);
}
