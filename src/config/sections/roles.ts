import type { Node } from 'yaml';
import { qtypeNumber } from '../../wire/qtypes.js';
import { ConfigError } from '../errors.js';
import { parsePattern, patternText } from '../pattern.js';
import { loadPreset, presetNames } from '../presets.js';
import { fail, ok, stringOf, type Reader, type Section } from '../reader.js';
import type { NamePattern, RoleConfig, UnlistedAction } from '../types.js';
import { readModeOverride } from './mode.js';
import { readTunneling } from './tunneling.js';

const ROLE_KEYS = ['allow', 'deny', 'qtypes', 'private_ok', 'unlisted', 'tunneling', 'mode'] as const;
const UNLISTED: readonly UnlistedAction[] = ['forward', 'sinkhole', 'hold'];

/**
 * `roles`: name → policy. `unlisted` defaults to sinkhole: a role that forgot
 * to say fails closed, and the decision log shows what it would have needed.
 */
export function readRoles(root: Section): Map<string, RoleConfig> {
  const r = root.reader;
  const roles = new Map<string, RoleConfig>();
  for (const { key: name, keyNode, value } of r.entries(root.node('roles'), 'roles')) {
    if (name.trim() === '') r.report(keyNode, 'roles: a role needs a name');
    const sec = r.section(value, `roles.${name}`, ROLE_KEYS, keyNode);
    roles.set(name, {
      name,
      allow: readPatterns(sec, 'allow'),
      deny: readPatterns(sec, 'deny'),
      qtypes: readQtypes(sec),
      privateOk: readPatterns(sec, 'private_ok'),
      unlisted: sec.oneOf('unlisted', UNLISTED, 'sinkhole'),
      tunneling: readTunneling(sec),
      mode: readModeOverride(sec),
    });
  }
  return roles;
}

/** A list of "example.org", "*.example.org" and "@preset" entries, duplicates dropped. */
function readPatterns(sec: Section, key: string): NamePattern[] {
  const out = new Map<string, NamePattern>();
  (sec.list(key) ?? []).forEach((item, i) => {
    for (const p of readPatternItem(sec.reader, item, `${sec.pathOf(key)}[${i}]`)) {
      const id = `${p.kind}:${p.name}`;
      if (!out.has(id)) out.set(id, p);
    }
  });
  return [...out.values()];
}

function readPatternItem(r: Reader, item: Node, path: string): readonly NamePattern[] {
  const text = stringOf(item);
  if (text?.startsWith('@')) return readPreset(r, item, path, text.slice(1));
  const p = r.parse(item, path, parsePattern);
  return p ? [{ ...p, source: patternText(p) }] : [];
}

function readPreset(r: Reader, item: Node, path: string, name: string): readonly NamePattern[] {
  try {
    const patterns = loadPreset(name);
    if (patterns) return patterns;
    r.report(item, `${path}: unknown preset "@${name}" (built-in: ${presetNames().map((n) => `@${n}`).join(', ')})`);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    r.issues.push(...e.issues); // the problem is in the preset file; point there
    r.report(item, `${path}: preset "@${name}" is invalid`);
  }
  return [];
}

/** Absent means any type; an empty list would refuse everything, so it is rejected. */
function readQtypes(sec: Section): number[] | null {
  const items = sec.list('qtypes');
  if (items === undefined) return null;
  if (items.length === 0) sec.reader.report(sec.node('qtypes'), `${sec.pathOf('qtypes')}: must not be empty (leave it out to allow every type)`);
  const types = new Set<number>();
  items.forEach((item, i) => {
    const n = sec.reader.parse(item, `${sec.pathOf('qtypes')}[${i}]`, (t) => {
      const q = qtypeNumber(t);
      return q === undefined ? fail(`unknown query type "${t}"`) : ok(q);
    });
    if (n !== undefined) types.add(n);
  });
  return [...types];
}
