import { describe, expect, it } from 'vitest';
import { isPrivateAddress } from '../../src/check/private.js';

describe('isPrivateAddress', () => {
  it.each([
    '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '127.0.0.1', '169.254.169.254',
    '100.64.0.1', '0.0.0.0', '::1', '::', 'fd00::1', 'fc12:3456::1', 'fe80::1', '::ffff:10.0.0.1', '::ffff:a00:1',
  ])('%s is private', (address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });

  it.each([
    '8.8.8.8', '203.0.113.80', '172.32.0.1', '192.169.0.1', '100.128.0.1', '2001:db8::1', '2606:4700::1111',
    '::ffff:8.8.8.8',
  ])('%s is public', (address) => {
    expect(isPrivateAddress(address)).toBe(false);
  });
});
