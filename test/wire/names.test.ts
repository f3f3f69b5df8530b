import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../src/wire/errors.js';
import { encodeName, isBelow, isLabelByte, parentAt, readName, skipName } from '../../src/wire/names.js';
import { wireName } from '../helpers/packets.js';

/** A buffer with `prefix` bytes of padding, so pointers can point backwards. */
const at = (pad: number, ...parts: Buffer[]): Buffer => Buffer.concat([Buffer.alloc(pad), ...parts]);

describe('readName (names inside upstream answers: CNAME targets)', () => {
  it('reads an uncompressed name, lower-cased, with no trailing dot', () => {
    expect(readName(wireName('CDN', 'Example', 'NET'), 0)).toEqual({ name: 'cdn.example.net', end: 17 });
  });

  it('reads the root as ""', () => {
    expect(readName(Buffer.from([0]), 0)).toEqual({ name: '', end: 1 });
  });

  it('follows a compression pointer and ends right after the pointer', () => {
    // offset 0: example.com ; offset 13: "www" + pointer to 0
    const buf = Buffer.concat([wireName('example', 'com'), Buffer.from([3, 0x77, 0x77, 0x77, 0xc0, 0x00])]);
    expect(readName(buf, 13)).toEqual({ name: 'www.example.com', end: 19 });
  });

  it('follows a chain of pointers', () => {
    const buf = Buffer.concat([
      wireName('com'),                              // 0..4
      Buffer.from([7]), Buffer.from('example'), Buffer.from([0xc0, 0x00]),   // 5: example -> com
      Buffer.from([1, 0x61, 0xc0, 0x05]),           // 15: a -> example.com
    ]);
    expect(readName(buf, 15)).toEqual({ name: 'a.example.com', end: 19 });
  });

  it.each([
    ['a pointer to itself', at(4, Buffer.from([0xc0, 0x04])), 4],
    ['a forward pointer', Buffer.concat([Buffer.from([0xc0, 0x02]), wireName('x')]), 0],
    ['a cut pointer', at(4, Buffer.from([0xc0])), 4],
    ['a label running past the end', Buffer.from([5, 0x61, 0x62]), 0],
    ['a missing root byte', Buffer.from([1, 0x61]), 0],
    ['label length 64', Buffer.concat([Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0])]), 0],
    ['label type 0x80', Buffer.from([0x80, 0]), 0],
    ['a name over 255 bytes', wireName(...Array.from({ length: 5 }, () => 'a'.repeat(63))), 0],
    ['an offset past the end', Buffer.from([0]), 1],
  ])('throws DecodeError (never RangeError) on %s', (_label, buf, offset) => {
    expect(() => readName(buf, offset)).toThrow(DecodeError);
  });

  it('ends a two-pointer loop (B -> A -> B): one of the two must point forward', () => {
    const buf = Buffer.from([0xc0, 0x02, 0xc0, 0x00]);
    expect(() => readName(buf, 2)).toThrow(DecodeError);
  });

  it('reads bytes >= 0x80 one to one (latin1), so different wire names stay different strings', () => {
    const a = readName(wireName(Buffer.from([0xe9])), 0).name;
    const b = readName(wireName(Buffer.from([0xc3, 0xa9])), 0).name;
    expect(a).not.toBe(b);
  });
});

describe('skipName', () => {
  it('returns the offset after an uncompressed name', () => {
    expect(skipName(at(3, wireName('example', 'com')), 3)).toBe(16);
  });

  it('stops after the first pointer, without following it', () => {
    expect(skipName(at(2, Buffer.from([1, 0x61, 0xc0, 0x00])), 2)).toBe(6);
  });

  it.each([
    ['an empty tail', Buffer.alloc(0)],
    ['a cut pointer', Buffer.from([0xc0])],
    ['label length 64', Buffer.from([64, 0])],
    ['a missing root byte', Buffer.from([1, 0x61])],
  ])('throws DecodeError on %s', (_label, buf) => {
    expect(() => skipName(buf, 0)).toThrow(DecodeError);
  });
});

describe('encodeName', () => {
  it('writes labels and the root byte', () => {
    expect(encodeName('www.example.org')).toEqual(wireName('www', 'example', 'org'));
  });

  it('writes the root as one zero byte', () => {
    expect(encodeName('')).toEqual(Buffer.from([0]));
  });

  it('round-trips through readName', () => {
    expect(readName(encodeName('hostmaster.intentdns.invalid'), 0).name).toBe('hostmaster.intentdns.invalid');
  });
});

describe('isLabelByte', () => {
  it('accepts printable ASCII except the dot', () => {
    for (const c of 'az09-_*AZ~!') expect(isLabelByte(c.charCodeAt(0)), c).toBe(true);
  });

  it.each([0x00, 0x07, 0x1f, 0x20, 0x2e, 0x7f, 0x80, 0xc3, 0xff])('rejects byte %i', (byte) => {
    expect(isLabelByte(byte)).toBe(false);
  });
});

/** Every name parentAt walks to from `name`, nearest first. */
function parents(name: string): string[] {
  const out: string[] = [];
  for (let at = parentAt(name, 0); at >= 0; at = parentAt(name, at)) out.push(name.slice(at));
  return out;
}

describe('parentAt', () => {
  it('walks every name strictly above, nearest first', () => {
    expect(parents('www.cdn.example.org')).toEqual(['cdn.example.org', 'example.org', 'org']);
    expect(parentAt('www.example.org', 0)).toBe(4);
    expect(parentAt('www.example.org', 4)).toBe(12);
    expect(parentAt('www.example.org', 12)).toBe(-1);
  });

  it('gives nothing above a single label or the root', () => {
    expect(parents('org')).toEqual([]);
    expect(parents('')).toEqual([]);
  });
});

describe('isBelow', () => {
  it('is true for names strictly below, at any depth', () => {
    expect(isBelow('a.example.org', 'example.org')).toBe(true);
    expect(isBelow('b.a.example.org', 'example.org')).toBe(true);
  });

  it('is false for the name itself, a name that only ends alike, or a name above', () => {
    expect(isBelow('example.org', 'example.org')).toBe(false);
    expect(isBelow('badexample.org', 'example.org')).toBe(false);
    expect(isBelow('org', 'example.org')).toBe(false);
  });

  it('agrees with the parentAt walk', () => {
    const names = ['www.cdn.example.org', 'cdn.example.org', 'example.org', 'org', 'xample.org', 'badexample.org'];
    for (const name of names) {
      for (const parent of names) expect(isBelow(name, parent)).toBe(parents(name).includes(parent));
    }
  });
});
