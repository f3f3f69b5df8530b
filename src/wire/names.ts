import { MAX_LABEL_LENGTH, MAX_NAME_WIRE_LENGTH } from './constants.js';
import { DecodeError } from './errors.js';

const DOT = 0x2e;
const MAX_POINTER_HOPS = 64;

/**
 * Reads a possibly compressed domain name from a message, for names inside
 * upstream answers (CNAME targets). Returns the lower-cased presentation form
 * without the trailing dot ("" for the root) and the offset after the name in
 * the original position. Pointers may only point backwards, so loops end.
 */
export function readName(buf: Buffer, offset: number): { name: string; end: number } {
  let pos = offset;
  let end = -1;
  let hops = 0;
  let wireLength = 1;
  let name = '';
  for (;;) {
    if (pos >= buf.length) throw new DecodeError('name runs past the end', pos);
    const len = buf[pos]!;
    if (len === 0) {
      if (end < 0) end = pos + 1;
      return { name, end };
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw new DecodeError('cut compression pointer', pos);
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (target >= pos || ++hops > MAX_POINTER_HOPS) throw new DecodeError('bad compression pointer', pos);
      if (end < 0) end = pos + 2;
      pos = target;
      continue;
    }
    if (len > MAX_LABEL_LENGTH) throw new DecodeError('bad label length', pos);
    wireLength += len + 1;
    if (wireLength > MAX_NAME_WIRE_LENGTH) throw new DecodeError('name too long', pos);
    if (pos + 1 + len > buf.length) throw new DecodeError('label runs past the end', pos);
    const label = buf.toString('latin1', pos + 1, pos + 1 + len).toLowerCase();
    name = name === '' ? label : `${name}.${label}`;
    pos += 1 + len;
  }
}

/** Skips a possibly compressed name without decoding it; returns the offset after it. */
export function skipName(buf: Buffer, offset: number): number {
  let pos = offset;
  for (;;) {
    if (pos >= buf.length) throw new DecodeError('name runs past the end', pos);
    const len = buf[pos]!;
    if (len === 0) return pos + 1;
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw new DecodeError('cut compression pointer', pos);
      return pos + 2;
    }
    if (len > MAX_LABEL_LENGTH) throw new DecodeError('bad label length', pos);
    pos += 1 + len;
  }
}

/**
 * Encodes a presentation name ("www.example.org", no trailing dot, "" for the
 * root) as uncompressed wire labels. The caller has validated it.
 */
export function encodeName(name: string): Buffer {
  if (name === '') return Buffer.from([0]);
  const out = Buffer.allocUnsafe(name.length + 2);
  let pos = 0;
  for (const label of name.split('.')) {
    out[pos++] = label.length;
    pos += out.write(label, pos, 'latin1');
  }
  out[pos++] = 0;
  return out.subarray(0, pos);
}

/**
 * Walks the names strictly above a name, nearest first, without allocating:
 * the offset in `name` where the parent of `name.slice(from)` starts, or -1
 * when `name.slice(from)` has no parent. For "www.example.org" from 0: 4
 * ("example.org"), then from 4: 12 ("org"), then from 12: -1.
 *
 *   for (let at = parentAt(name, 0); at >= 0; at = parentAt(name, at)) use(name.slice(at));
 */
export function parentAt(name: string, from: number): number {
  const dot = name.indexOf('.', from);
  return dot < 0 ? -1 : dot + 1;
}

/**
 * True when `name` is strictly below `parent`: "a.example.org" and
 * "b.a.example.org" are below "example.org"; "example.org" itself and
 * "badexample.org" are not. This is what "*.example.org" covers. Equivalent
 * to `parent` being one of the names `parentAt` walks to from `name`.
 */
export function isBelow(name: string, parent: string): boolean {
  return name.length > parent.length
    && name.charCodeAt(name.length - parent.length - 1) === DOT
    && name.endsWith(parent);
}

/** True when `byte` may stand in a label we judge: printable ASCII other than the dot. */
export function isLabelByte(byte: number): boolean {
  return byte > 0x20 && byte < 0x7f && byte !== DOT;
}
