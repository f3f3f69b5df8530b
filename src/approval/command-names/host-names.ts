/**
 * Decides whether a candidate read from a host position is a name worth a
 * grant: a syntactically valid DNS host name under a public suffix (with a
 * registrable domain below it) or under a suffix the operator calls internal.
 * Everything else — IP literals, `localhost`, single labels, file names whose
 * "suffix" is not a TLD, names under reserved TLDs — is dropped.
 */
import { domainToASCII } from 'node:url';
import { parse } from 'tldts';
import { isBelow } from '../../wire/names.js';

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * ICANN suffixes that never reach public DNS: `.onion` is Tor-only and
 * `home.arpa` is for home networks (RFC 8375). The other reserved names
 * (`localhost`, `.local`, `.test`, `.invalid`, `.example`, `.internal`) are not
 * ICANN suffixes in the list, so the isIcann test already drops them.
 * `example.com` stays: it is a real, resolvable domain used in every doc.
 */
const UNREACHABLE_SUFFIXES = new Set(['onion', 'home.arpa']);

/** The normalised host name, or undefined when `candidate` gives no name. */
export function validHostName(candidate: string, internalSuffixes: readonly string[]): string | undefined {
  let host = candidate.toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);            // FQDN form
  if (/[^\x21-\x7e]/.test(host)) {
    // Non-ASCII: what the resolver will be asked is the punycode form. Control
    // characters (our EXPANSION stand-in) make domainToASCII return ''.
    host = domainToASCII(host);
  }
  if (host.length === 0 || host.length > 253) return undefined;
  const labels = host.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return undefined;
  const last = labels[labels.length - 1] as string;
  if (/^[0-9]+$/.test(last)) return undefined;                  // an IPv4 address, or not a name
  if (last === 'localhost') return undefined;                   // never, whatever the operator lists

  if (internalSuffixes.some((s) => s.length > 0 && isBelow(host, s))) return host;

  // ICANN section only: a private-section suffix (github.io, herokuapp.com) is
  // still a public name, and with private suffixes on, "github.io" itself
  // would have no registrable domain and be dropped.
  const info = parse(host, {
    allowPrivateDomains: false,
    detectIp: true,
    extractHostname: false,
    mixedInputs: false,
    validateHostname: true,
  });
  if (info.isIp === true || info.isIcann !== true || info.domain === null) return undefined;
  if (info.publicSuffix !== null && UNREACHABLE_SUFFIXES.has(info.publicSuffix)) return undefined;
  return host;
}
