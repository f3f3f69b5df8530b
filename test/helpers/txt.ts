import * as dnsPacket from 'dns-packet';
import type { ZoneRecord } from './authority.js';

/**
 * A TXT record for `name` whose answer from the test authority (one question,
 * this one record, no OPT) is exactly `messageBytes` long: for tests of the
 * largest messages DNS can carry and of memory held per answer.
 */
export function txtOfSize(name: string, messageBytes: number, ttl = 300): ZoneRecord {
  const encodedLength = (strings: readonly Buffer[]): number =>
    dnsPacket.encode({
      type: 'response',
      questions: [{ name, type: 'TXT', class: 'IN' }],
      answers: [{ name, type: 'TXT', class: 'IN', ttl, data: strings as Buffer[] }],
    }).length;
  // Each character-string takes its length plus one byte on the wire.
  let room = messageBytes - encodedLength([Buffer.alloc(0)]) + 1;
  const strings: Buffer[] = [];
  while (room > 0) {
    const length = Math.min(255, room - 1);
    strings.push(Buffer.alloc(length, 0x61 + (strings.length % 26)));
    room -= length + 1;
  }
  if (room !== 0 || encodedLength(strings) !== messageBytes) throw new Error(`no TXT record makes a ${messageBytes}-byte answer for ${name}`);
  return { type: 'TXT', data: strings, ttl };
}
