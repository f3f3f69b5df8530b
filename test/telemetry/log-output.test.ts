/**
 * The log output against a real pipe whose reader has stopped reading: lines
 * are dropped and counted once the buffer is full (memory stays bounded, the
 * writer never waits), one notice says so, and once the reader catches up a
 * second notice says how many lines were lost.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { LogOutput, stallNoticeLine } from '../../src/telemetry/log-output.js';
import { delay, waitFor } from '../helpers/wait-for.js';

const opened: number[] = [];
let dir = '';
afterEach(() => {
  for (const fd of opened.splice(0)) closeSync(fd);
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

/** A FIFO with both ends open and non-blocking; nothing reads it until the test does. */
function stalledPipe(): { reader: number; writer: number } {
  dir = mkdtempSync(join(tmpdir(), 'intentdns-log-'));
  const path = join(dir, 'stdout');
  execFileSync('mkfifo', [path]);
  const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  opened.push(reader, writer);
  return { reader, writer };
}

/** Reads what the pipe holds now. */
function readAvailable(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    try {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
      throw err;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

const line = (i: number): string => `${JSON.stringify({ level: 30, i, msg: 'query', pad: 'x'.repeat(160) })}\n`;

describe('LogOutput', () => {
  it('drops and counts lines a stalled reader cannot take, holds at most its bound, and reports the stall when it ends', async () => {
    const { reader, writer } = stalledPipe();
    const maxBytes = 64 * 1024;
    const output = new LogOutput({ fd: writer, maxBytes, notice: stallNoticeLine });
    const LINES = 5000;   // about 1 MB: far more than the pipe (64 KiB) and the buffer together
    const started = performance.now();
    for (let i = 0; i < LINES; i++) output.write(line(i));
    // The writer never waited on the reader.
    expect(performance.now() - started).toBeLessThan(1000);
    await delay(50);
    expect(output.dropped).toBeGreaterThan(LINES / 2);
    expect(output.buffered).toBeLessThanOrEqual(maxBytes + 4096);

    // The reader catches up: everything it gets parses, the notices bracket the gap, and the count adds up.
    let text = '';
    await waitFor(() => {
      text += readAvailable(reader);
      return text.includes('log output caught up');
    }, { what: 'the stopped notice', timeoutMs: 5000 });
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const notices = lines.filter((l) => l.level === 40);
    expect(notices.map((l) => l.msg)).toEqual(['log output is not keeping up; dropping log lines', 'log output caught up; log lines were dropped']);
    expect(notices[1]!.dropped).toBe(output.dropped);
    expect(lines.filter((l) => l.msg === 'query')).toHaveLength(LINES - output.dropped);
  });

  it('loses nothing while the reader keeps up', async () => {
    const { reader, writer } = stalledPipe();
    const output = new LogOutput({ fd: writer, notice: stallNoticeLine });
    let text = '';
    for (let i = 0; i < 200; i++) {
      output.write(line(i));
      text += readAvailable(reader);
    }
    expect(await output.drain(2000)).toBe(true);
    text += readAvailable(reader);
    expect(output.dropped).toBe(0);
    expect(text.trimEnd().split('\n')).toHaveLength(200);
  });
});
