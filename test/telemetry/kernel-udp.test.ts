import { describe, expect, it } from 'vitest';
import { parseSnmp, parseSnmp6, readUdpReceiveErrors } from '../../src/telemetry/kernel-udp.js';

const SNMP = `Ip: Forwarding DefaultTTL
Ip: 1 64
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 4951085 106 731 4951192 729 0 2 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 0 0 0 0 0 0 0 0 0
`;
const SNMP6 = `Udp6InDatagrams                 \t222
Udp6NoPorts                     \t0
Udp6InErrors                    \t5
Udp6OutDatagrams                \t222
Udp6RcvbufErrors                \t4
`;

describe('kernel UDP receive errors', () => {
  it('reads InErrors and RcvbufErrors of the Udp lines, not UdpLite', () => {
    expect(parseSnmp(SNMP)).toEqual({ in: 731, rcvbuf: 729 });
    expect(parseSnmp6(SNMP6)).toEqual({ in: 5, rcvbuf: 4 });
  });

  it('has nothing to say about files without those counters, or without the files', () => {
    expect(parseSnmp('Ip: Forwarding\nIp: 1\n')).toBeNull();
    expect(parseSnmp6('Ip6InReceives 3\n')).toBeNull();
    expect(readUdpReceiveErrors(() => {
      throw new Error('ENOENT');
    })).toEqual({});
    expect(readUdpReceiveErrors((path) => (path.endsWith('6') ? SNMP6 : SNMP))).toEqual({ ipv4: { in: 731, rcvbuf: 729 }, ipv6: { in: 5, rcvbuf: 4 } });
  });
});
