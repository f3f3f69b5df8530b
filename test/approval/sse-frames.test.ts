/**
 * The SSE framer alone: whole events out, whatever the chunking and line
 * ends, and an event over the bound skipped up to its blank line with its id.
 */
import { describe, expect, it } from 'vitest';

import { SseFrames } from '../../src/approval/sse-frames.js';

function framer(max = 100) {
  const events: string[] = [];
  const skipped: Array<string | undefined> = [];
  const frames = new SseFrames(max, (b) => events.push(b), (id) => skipped.push(id));
  return { frames, events, skipped };
}

describe('SseFrames', () => {
  it('gives whole events, LF-joined, for LF, CR and CRLF line ends, however the stream is cut', () => {
    const stream = 'id: 1\r\nevent: a\r\ndata: x\r\n\r\n: ping\n\nid: 2\rdata: y\r\r';
    for (let cut = 0; cut <= stream.length; cut++) {
      const { frames, events } = framer();
      frames.feed(stream.slice(0, cut));
      frames.feed(stream.slice(cut));
      expect(events, `cut at ${cut}`).toEqual(['id: 1\nevent: a\ndata: x\n\n', ': ping\n\n', 'id: 2\ndata: y\n\n']);
    }
    const { frames, events } = framer();
    for (const ch of stream) frames.feed(ch);
    expect(events).toHaveLength(3);
  });

  it('an unfinished event is not given; blank lines alone give nothing', () => {
    const { frames, events } = framer();
    frames.feed('\n\n\r\ndata: half');
    expect(events).toEqual([]);
  });

  it('an event of exactly the bound passes; one character more is skipped, with its id, up to its blank line', () => {
    const body = (n: number) => `id: e\ndata: ${'x'.repeat(n - 'id: e\ndata: '.length - 1)}\n`;
    expect(body(100)).toHaveLength(100);
    const ok = framer(100);
    ok.frames.feed(`${body(100)}\n`);
    expect(ok.events).toHaveLength(1);

    const big = framer(100);
    big.frames.feed(`${body(101)}data: more\nid: last\n\ndata: next\n\n`);
    expect(big.skipped).toEqual(['last']);
    expect(big.events).toEqual(['data: next\n\n']);
  });

  it('an endless line is dropped as it arrives and the framer recovers at the next blank line', () => {
    const { frames, events, skipped } = framer(1000);
    frames.feed('event: a\ndata: ');
    for (let i = 0; i < 100; i++) frames.feed('y'.repeat(10_000));
    frames.feed('\n\nevent: b\ndata: 1\n\n');
    expect(skipped).toEqual([undefined]);
    expect(events).toEqual(['event: b\ndata: 1\n\n']);
  });
});
