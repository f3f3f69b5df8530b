/**
 * Reading the config file for reloads (src/config/read.ts): the digest taken
 * at start-up (readConfigText) and the one a worker reload takes
 * (readConfigBytes, read off the loop and hashed in slices) agree, so the
 * first file event after start does not reload bytes already running.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readConfigBytes, readConfigText } from '../../src/config/read.js';
import { TimeSlices } from '../../src/slices.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'intentdns-read-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('readConfigText / readConfigBytes', () => {
  it('give the same digest of the same bytes, also for a file of several hash slices', async () => {
    const file = join(dir, 'intentdns.yaml');
    const text = `version: 1\n# é, and a long tail\n${'x'.repeat(3 * 1024 * 1024 + 17)}\n`;
    writeFileSync(file, text);
    const sync = readConfigText(file, {});
    const sliced = await readConfigBytes(file, new TimeSlices(0));
    expect(sync.text).toBe(text);
    expect(sliced.bytes?.toString('utf8')).toBe(text);
    expect(sliced.digest).toBe(sync.digest);
    expect(sync.digest).toBe(createHash('sha256').update(text).digest('hex'));
    // An injected readFile hashes the text it gives: the same for a UTF-8 file.
    expect(readConfigText(file, { readFile: () => text }).digest).toBe(sync.digest);
  });

  it('an unreadable file: no contents, and a digest naming why, the same both ways', async () => {
    const file = join(dir, 'missing.yaml');
    expect(readConfigText(file, {})).toEqual({ text: null, digest: 'unreadable:ENOENT' });
    expect(await readConfigBytes(file)).toEqual({ bytes: null, digest: 'unreadable:ENOENT' });
  });
});
