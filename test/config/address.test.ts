import { describe, expect, it } from 'vitest';
import { formatHostPort, parseCidr, parseHostPort } from '../../src/config/address.js';

describe('parseHostPort', () => {
  it.each([
    ['127.0.0.1:5353', undefined, { host: '127.0.0.1', port: 5353, family: 4 }],
    ['[::1]:5353', undefined, { host: '::1', port: 5353, family: 6 }],
    ['[2001:DB8:0:0::53]:853', undefined, { host: '2001:db8::53', port: 853, family: 6 }],
    ['9.9.9.9', 53, { host: '9.9.9.9', port: 53, family: 4 }],
    ['[2620:fe::fe]', 53, { host: '2620:fe::fe', port: 53, family: 6 }],
  ])('%s', (text, defaultPort, expected) => {
    expect(parseHostPort(text, defaultPort)).toEqual({ ok: true, value: { ...expected, text } });
  });

  it.each([
    ['::1', '"::1": IPv6 addresses need brackets around the address, as in "[::1]:5353"'],
    ['localhost:53', '"localhost:53": the host must be an IP address'],
    ['[127.0.0.1]:53', '"[127.0.0.1]:53": the host must be an IP address (only IPv6 goes in brackets)'],
    ['127.0.0.1:0', '"127.0.0.1:0": port must be a number from 1 to 65535'],
    ['127.0.0.1:', '"127.0.0.1:": port must be a number from 1 to 65535'],
    ['127.0.0.1:dns', '"127.0.0.1:dns": port must be a number from 1 to 65535'],
    ['127.0.0.1', '"127.0.0.1" has no port, as in "127.0.0.1:5353"'],
    ['[fe80::1%eth0]:53', '"[fe80::1%eth0]:53": zone-scoped addresses are not supported'],
    ['010.0.0.1:53', '"010.0.0.1:53": the host must be an IP address'],
  ])('rejects %s', (text, error) => {
    expect(parseHostPort(text)).toEqual({ ok: false, error });
  });
});

describe('formatHostPort', () => {
  it('brackets IPv6 only, in the form parseHostPort reads back', () => {
    expect(formatHostPort('127.0.0.1', 5353, 4)).toBe('127.0.0.1:5353');
    expect(formatHostPort('::1', 5353, 6)).toBe('[::1]:5353');
    for (const [host, family] of [['10.0.0.1', 4], ['2001:db8::53', 6]] as const) {
      const text = formatHostPort(host, 53, family);
      expect(parseHostPort(text)).toEqual({ ok: true, value: { host, port: 53, family, text } });
    }
  });
});

describe('parseCidr', () => {
  it.each([
    ['10.20.0.11/32', '10.20.0.11', 32, 4],
    ['10.20.1.0/24', '10.20.1.0', 24, 4],
    ['0.0.0.0/0', '0.0.0.0', 0, 4],
    ['10.20.0.11', '10.20.0.11', 32, 4],
    ['fd00:20:1::/64', 'fd00:20:1::', 64, 6],
    ['FD00:0020:0001:0000::/64', 'fd00:20:1::', 64, 6],
    ['::1', '::1', 128, 6],
    ['::ffff:10.0.0.0/104', '::ffff:a00:0', 104, 6],
  ])('%s is %s/%i', (text, network, prefix, family) => {
    expect(parseCidr(text)).toEqual({ ok: true, value: { network, prefix, family, text: `${network}/${prefix}` } });
  });

  it.each([
    ['10.20.1.5/24', '"10.20.1.5/24" has host bits set; did you mean "10.20.1.0/24"?'],
    ['fd00:20:1::7/64', '"fd00:20:1::7/64" has host bits set; did you mean "fd00:20:1::/64"?'],
    ['10.0.0.0/33', '"10.0.0.0/33": prefix length must be 0 to 32'],
    ['fd00::/129', '"fd00::/129": prefix length must be 0 to 128'],
    ['10.0.0.0/', '"10.0.0.0/": prefix length must be 0 to 32'],
    ['10.0.0.0/8/8', '"10.0.0.0/8/8" is not an address range, as in "10.20.1.0/24" or "fd00:20:1::/64"'],
    ['corp.example/24', '"corp.example/24" is not an address range, as in "10.20.1.0/24" or "fd00:20:1::/64"'],
  ])('rejects %s', (text, error) => {
    expect(parseCidr(text)).toEqual({ ok: false, error });
  });
});
