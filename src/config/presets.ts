import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, inFileOrder } from './errors.js';
import { parsePattern, patternText } from './pattern.js';
import { Reader } from './reader.js';
import type { NamePattern } from './types.js';

/**
 * Presets ship as reviewable data files in config/presets/. This module sits
 * in src/config/ under vitest and in dist/config/ after the build: both are
 * two folders below the repository root, so one relative URL serves both.
 */
const PRESET_DIR = fileURLToPath(new URL('../../config/presets/', import.meta.url));

/** Also what keeps "@../../etc/passwd" from reaching the file system. */
const PRESET_NAME = /^[a-z0-9][a-z0-9-]*$/;

let names: readonly string[] | undefined;
const loaded = new Map<string, readonly NamePattern[]>();

/** The built-in preset names, sorted ("npm", not "@npm"). */
export function presetNames(): readonly string[] {
  names ??= readdirSync(PRESET_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .filter((n) => PRESET_NAME.test(n))
    .sort();
  return names;
}

/**
 * The patterns of a built-in preset, or undefined when there is no such
 * preset. Read once and cached: presets are part of the install, not of the
 * config, so a reload does not need to see them change.
 * @throws ConfigError when the preset file itself is invalid.
 */
export function loadPreset(name: string): readonly NamePattern[] | undefined {
  if (!presetNames().includes(name)) return undefined;
  let patterns = loaded.get(name);
  if (patterns === undefined) {
    const file = join(PRESET_DIR, `${name}.yaml`);
    patterns = parsePreset(readFileSync(file, 'utf8'), file, name);
    loaded.set(name, patterns);
  }
  return patterns;
}

/** Parses a preset file: `names:` followed by a list of patterns. */
export function parsePreset(text: string, file: string, name: string): readonly NamePattern[] {
  const { reader, root } = Reader.parse(text, file);
  const patterns: NamePattern[] = [];
  if (reader.issues.length === 0) {
    const sec = reader.section(root, '', ['names']);
    const items = sec.require('names') ? sec.list('names') : undefined;
    if (items?.length === 0) reader.report(sec.node('names'), 'names: a preset needs at least one name');
    items?.forEach((item, i) => {
      const p = reader.parse(item, `names[${i}]`, parsePattern);
      if (p) patterns.push({ ...p, source: `@${name}:${patternText(p)}` });
    });
  }
  if (reader.issues.length > 0) throw new ConfigError(inFileOrder(reader.issues, file));
  return patterns;
}
