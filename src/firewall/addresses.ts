import type { ResponseView } from '../wire/response.js';
import { formatIpv4, formatIpv6 } from '../wire/response.js';

/** One address an agent was handed, with the TTL it was handed it for. */
export interface HandedAddress {
  readonly family: 4 | 6;
  readonly address: string;
  /** Seconds: the record's TTL after ageing and the cap, exactly as encode writes it. */
  readonly ttlS: number;
}

/**
 * The addresses of the answer section an agent can connect to (A, AAAA, and
 * the ipv4hint/ipv6hint of HTTPS/SVCB records), each with the TTL of the
 * record that carries it as the agent gets it: aged by `ageS` and capped at
 * `capS` (answers.max_ttl and the grant's remaining life), as renderAnswer
 * does. Authority and additional addresses are not handed out as answers.
 */
export function handedAddresses(view: ResponseView, ageS: number, capS: number): HandedAddress[] {
  const out: HandedAddress[] = [];
  const collect = (offsets: readonly number[], family: 4 | 6): void => {
    for (const at of offsets) {
      const record = recordIndexOf(view.ttlOffsets, at);
      if (record < 0 || record >= view.answerCount) continue;
      const aged = view.ttls[record]! - ageS;
      const ttlS = aged <= 0 ? 0 : Math.min(aged, capS);
      out.push({ family, address: family === 4 ? formatIpv4(view.wire, at) : formatIpv6(view.wire, at), ttlS });
    }
  };
  collect(view.ipv4At, 4);
  collect(view.ipv6At, 6);
  return out;
}

/** The record holding the byte at `at`: the last one whose TTL field comes before it (offsets are ascending). */
function recordIndexOf(ttlOffsets: readonly number[], at: number): number {
  let lo = 0;
  let hi = ttlOffsets.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ttlOffsets[mid]! < at) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}
