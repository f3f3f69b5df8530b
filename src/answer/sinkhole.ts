import type { SinkholeResponse } from '../config/types.js';
import type { Reply } from '../pipeline/types.js';
import { EDE, RCODE } from '../wire/constants.js';
import { nullAddressRecord, sinkholeSoa } from '../wire/build.js';
import { QTYPE } from '../wire/qtypes.js';

/**
 * The answers we make up instead of resolving. They are plain values; encode.ts
 * turns them into bytes for the query at hand, and adds the Extended DNS
 * Error only when the query carried EDNS (RFC 8914).
 */

export function sinkholeReply(response: SinkholeResponse, qtype: number, ttlS: number, text: string): Reply {
  const ede = { code: EDE.BLOCKED, text };
  switch (response) {
    case 'refused':
      return { kind: 'synthetic', rcode: RCODE.REFUSED, ede };
    case 'nxdomain':
      return { kind: 'synthetic', rcode: RCODE.NXDOMAIN, authority: [sinkholeSoa(ttlS)], ede };
    case 'null-ip':
      if (qtype === QTYPE.A || qtype === QTYPE.AAAA) {
        return { kind: 'synthetic', rcode: RCODE.NOERROR, answers: [nullAddressRecord(qtype, ttlS)], ede };
      }
      // Other types have no null address: answer "no data", the closest meaning.
      return { kind: 'synthetic', rcode: RCODE.NOERROR, authority: [sinkholeSoa(ttlS)], ede };
    case 'nodata':
      return { kind: 'synthetic', rcode: RCODE.NOERROR, authority: [sinkholeSoa(ttlS)], ede };
  }
}

export function refusedReply(edeCode: number, text: string): Reply {
  return { kind: 'synthetic', rcode: RCODE.REFUSED, ede: { code: edeCode, text } };
}

export const SERVFAIL: Reply = { kind: 'synthetic', rcode: RCODE.SERVFAIL };

/**
 * The EDE text of a block: role, reason and the operator's `sinkhole.hint`,
 * enough for the person reading `dig` output to know what to ask for. What
 * tripped (a blocked address, a deny pattern, a hold id) stays in the
 * decision log: the agent that asked may be the one we are keeping out.
 */
export function blockedText(role: string, reason: string, hint = ''): string {
  return hint === '' ? `intentdns: ${reason} (role ${role})` : `intentdns: ${reason} (role ${role}); ${hint}`;
}
