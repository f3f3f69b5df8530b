import { describe, expect, it } from 'vitest';
import { FrameReader, MAX_FRAME_LENGTH, frame } from '../../src/wire/framing.js';

const msg = (n: number, fill: number): Buffer => Buffer.alloc(n, fill);

function drain(reader: FrameReader): Buffer[] {
  const out: Buffer[] = [];
  for (let m = reader.next(); m !== null; m = reader.next()) out.push(m);
  return out;
}

describe('frame', () => {
  it('prefixes the 2-byte big-endian length', () => {
    expect(frame(Buffer.from([1, 2, 3]))).toEqual(Buffer.from([0, 3, 1, 2, 3]));
  });

  it('refuses a message longer than 65535 bytes', () => {
    expect(() => frame(msg(MAX_FRAME_LENGTH + 1, 0))).toThrow(RangeError);
  });
});

describe('FrameReader', () => {
  it('returns one frame delivered in one chunk', () => {
    const r = new FrameReader();
    expect(r.push(frame(msg(20, 7)))).toBe(true);
    expect(drain(r)).toEqual([msg(20, 7)]);
    expect(r.buffered).toBe(0);
  });

  it('returns several frames delivered in one chunk, in order', () => {
    const r = new FrameReader();
    r.push(Buffer.concat([frame(msg(3, 1)), frame(msg(5, 2)), frame(msg(1, 3))]));
    expect(drain(r)).toEqual([msg(3, 1), msg(5, 2), msg(1, 3)]);
  });

  it('reassembles a frame delivered byte by byte, the length prefix included', () => {
    const r = new FrameReader();
    const bytes = frame(msg(4, 9));
    for (let i = 0; i < bytes.length - 1; i++) {
      r.push(bytes.subarray(i, i + 1));
      expect(r.next()).toBeNull();
    }
    r.push(bytes.subarray(bytes.length - 1));
    expect(drain(r)).toEqual([msg(4, 9)]);
  });

  it('keeps the start of the next frame when a chunk ends mid-frame', () => {
    const r = new FrameReader();
    const bytes = Buffer.concat([frame(msg(3, 1)), frame(msg(6, 2))]);
    r.push(bytes.subarray(0, 8));
    expect(drain(r)).toEqual([msg(3, 1)]);
    expect(r.buffered).toBe(3);
    r.push(bytes.subarray(8));
    expect(drain(r)).toEqual([msg(6, 2)]);
  });

  it('reports a zero-length frame as an empty buffer', () => {
    const r = new FrameReader();
    r.push(Buffer.from([0, 0, 0, 1, 5]));
    expect(r.next()).toEqual(Buffer.alloc(0));
    expect(r.next()).toEqual(Buffer.from([5]));
  });

  it('returns copies that do not change when the chunk is reused', () => {
    const r = new FrameReader();
    const chunk = frame(msg(4, 1));
    r.push(chunk);
    const m = r.next();
    chunk.fill(0xff);
    expect(m).toEqual(msg(4, 1));
  });

  it('refuses a chunk that would pass the buffer cap and keeps what it had', () => {
    const r = new FrameReader(2 + MAX_FRAME_LENGTH);
    expect(r.push(Buffer.from([0xff, 0xff]))).toBe(true);
    expect(r.push(msg(MAX_FRAME_LENGTH, 0))).toBe(true);
    expect(r.push(Buffer.from([1]))).toBe(false);
    expect(r.next()?.length).toBe(MAX_FRAME_LENGTH);
  });

  it('rejects a cap smaller than one maximum-size frame', () => {
    expect(() => new FrameReader(1000)).toThrow(RangeError);
  });

  it('forgets a partial frame on reset', () => {
    const r = new FrameReader();
    r.push(Buffer.from([0, 10, 1, 2]));
    r.reset();
    expect(r.buffered).toBe(0);
    r.push(frame(msg(1, 4)));
    expect(drain(r)).toEqual([msg(1, 4)]);
  });
});
