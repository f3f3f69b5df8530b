/**
 * A Config in the form it crosses from the parse worker (parse-worker.ts) to
 * the event loop that answers DNS. Everything but the name lists is cloned
 * as it is (plain objects, arrays, strings, numbers, null: types.ts has no
 * class instance and no function). The lists are packed: cloned as they are,
 * a million { kind, name, source } objects took the receiving thread 9 s to
 * deserialise in one go (and 0.2 s for 100k); packed, each list is one
 * transferred buffer, which costs nothing to receive, and unpacking it here
 * runs in time slices.
 */
import { IntentdnsError } from '../errors.js';
import { TimeSlices } from '../slices.js';
import { patternText } from './pattern.js';
import type { Config, NamePattern, RoleConfig } from './types.js';

/** One list: each pattern's text ("*.example.org", "example.org") in UTF-8, joined by "\n". */
export interface PackedPatterns {
  readonly bytes: Uint8Array;
  readonly count: number;
  /** [index, source] of the patterns whose source is not their own text: those from presets ("@npm:registry.npmjs.org"). */
  readonly sources: ReadonlyArray<readonly [number, string]>;
}

export interface PackedRole extends Omit<RoleConfig, 'allow' | 'deny' | 'privateOk'> {
  readonly allow: PackedPatterns;
  readonly deny: PackedPatterns;
  readonly privateOk: PackedPatterns;
}

export interface PackedConfig extends Omit<Config, 'roles'> {
  /** In the config's order, like the Map they came from. */
  readonly roles: readonly PackedRole[];
}

const NL = 0x0a;
/** Bytes decoded at a time when unpacking: a few thousand names, a millisecond or two. */
const UNPACK_BYTES = 64 * 1024;

/** Packs `config` for postMessage; `transfer` lists the buffers to move rather than copy. */
export function packConfig(config: Config): { config: PackedConfig; transfer: ArrayBuffer[] } {
  const transfer: ArrayBuffer[] = [];
  const pack = (patterns: readonly NamePattern[]): PackedPatterns => {
    const p = packPatterns(patterns);
    transfer.push(p.bytes.buffer as ArrayBuffer);
    return p;
  };
  const roles = [...config.roles.values()].map((r): PackedRole => ({
    ...r, allow: pack(r.allow), deny: pack(r.deny), privateOk: pack(r.privateOk),
  }));
  return { config: { ...config, roles }, transfer };
}

/**
 * The Config again, equal to the one packed. Runs in time slices of `slices`.
 * @throws PackedConfigError when a list does not hold what it says (a bug, not a config problem).
 */
export async function unpackConfig(packed: PackedConfig, slices: TimeSlices = new TimeSlices()): Promise<Config> {
  const roles = new Map<string, RoleConfig>();
  for (const r of packed.roles) {
    roles.set(r.name, {
      ...r,
      allow: await unpackPatterns(r.allow, slices),
      deny: await unpackPatterns(r.deny, slices),
      privateOk: await unpackPatterns(r.privateOk, slices),
    });
  }
  return { ...packed, roles };
}

export function packPatterns(patterns: readonly NamePattern[]): PackedPatterns {
  const texts = new Array<string>(patterns.length);
  const sources: Array<readonly [number, string]> = [];
  patterns.forEach((p, i) => {
    const text = patternText(p);
    // Cannot happen with names parseName accepted; checked because a "\n" would shift every pattern after it.
    if (text.includes('\n')) throw new PackedConfigError(`pattern ${JSON.stringify(text)} contains a line break`);
    texts[i] = text;
    if (p.source !== text) sources.push([i, p.source]);
  });
  // TextEncoder gives a buffer of its own, safe to transfer (Buffer.from may hand out a slice of a shared pool).
  return { bytes: new TextEncoder().encode(texts.join('\n')), count: patterns.length, sources };
}

export async function unpackPatterns(packed: PackedPatterns, slices: TimeSlices): Promise<NamePattern[]> {
  const bytes = Buffer.from(packed.bytes.buffer, packed.bytes.byteOffset, packed.bytes.byteLength);
  const sources = new Map(packed.sources);
  const out: NamePattern[] = [];
  for (let at = 0; at < bytes.length;) {
    // A whole number of lines at a time: up to the first line break past UNPACK_BYTES.
    let end = bytes.indexOf(NL, Math.min(at + UNPACK_BYTES, bytes.length));
    if (end < 0) end = bytes.length;
    for (const text of bytes.toString('utf8', at, end).split('\n')) {
      const subtree = text.startsWith('*.');
      out.push({ kind: subtree ? 'subtree' : 'exact', name: subtree ? text.slice(2) : text, source: sources.get(out.length) ?? text });
    }
    at = end + 1;
    if (slices.due()) await slices.pause();
  }
  if (out.length !== packed.count) throw new PackedConfigError(`a packed list of ${packed.count} patterns unpacked to ${out.length}`);
  return out;
}

/** A list that cannot be packed, or does not unpack to what was packed: a bug here, not a problem of the config. */
export class PackedConfigError extends IntentdnsError {
  static readonly CODE = 'IDNS_ERR_CONFIG_PACKED';

  constructor(message: string) {
    super(PackedConfigError.CODE, message);
  }
}
