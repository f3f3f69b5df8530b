/**
 * Reading the config file for the Reloader: its contents and a digest of
 * them, read once, so the digest cannot describe another version of the
 * file than the config does. The digest is of the bytes (of the text's UTF-8
 * when a test injects readFile), the same whichever way below read them, so
 * the digest taken at start-up and those taken at reloads compare.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { errnoCode } from '../errors.js';
import { TimeSlices } from '../slices.js';
import type { LoadOptions } from './load.js';

export interface ConfigText {
  /** null when the file could not be read: loadConfig reads it again and reports why. */
  readonly text: string | null;
  readonly digest: string;
}

export interface ConfigBytes {
  /** null when the file could not be read. */
  readonly bytes: Buffer | null;
  readonly digest: string;
}

/** Hashed this much at a time on the event loop: 1–3 ms each (sha256 of a 30 MB file at once took 70–145 ms). */
const HASH_SLICE_BYTES = 1 << 20;

/** At start-up, and for reloads that parse in-thread (an injected readFile). */
export function readConfigText(file: string, opts: LoadOptions): ConfigText {
  try {
    if (opts.readFile) {
      const text = opts.readFile(file);
      return { text, digest: createHash('sha256').update(text).digest('hex') };
    }
    const bytes = readFileSync(file);
    return { text: bytes.toString('utf8'), digest: createHash('sha256').update(bytes).digest('hex') };
  } catch (err) {
    return { text: null, digest: unreadable(err) };
  }
}

/**
 * For reloads that parse in the worker: read off the event loop (the thread
 * pool) and hashed in slices, so a 30 MB file does not hold answers up.
 */
export async function readConfigBytes(file: string, slices: TimeSlices = new TimeSlices()): Promise<ConfigBytes> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    return { bytes: null, digest: unreadable(err) };
  }
  const hash = createHash('sha256');
  for (let at = 0; at < bytes.length; at += HASH_SLICE_BYTES) {
    hash.update(bytes.subarray(at, at + HASH_SLICE_BYTES));
    if (slices.due()) await slices.pause();
  }
  return { bytes, digest: hash.digest('hex') };
}

/** LoadOptions whose readFile gives loadConfig the text already read for `file` (and reads anything else as usual). */
export function withText(file: string, read: ConfigText, opts: LoadOptions): LoadOptions {
  const readFile = opts.readFile ?? readText;
  const { text } = read;
  return { ...opts, readFile: (path) => (path === file && text !== null ? text : readFile(path)) };
}

function unreadable(err: unknown): string {
  return `unreadable:${errnoCode(err) ?? String(err)}`;
}

const readText = (path: string): string => readFileSync(path, 'utf8');
