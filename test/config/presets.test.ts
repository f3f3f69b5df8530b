import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { parsePattern } from '../../src/config/pattern.js';
import { loadPreset, parsePreset, presetNames } from '../../src/config/presets.js';

const PRESET_DIR = fileURLToPath(new URL('../../config/presets/', import.meta.url));

describe('built-in presets', () => {
  it('include every preset the spec promises', () => {
    expect(presetNames()).toEqual(expect.arrayContaining(['npm', 'pypi', 'github', 'crates', 'go', 'docker', 'debian', 'rubygems']));
  });

  it.each(presetNames().map((n) => [n]))('@%s loads, names only valid patterns and says where they come from', (name) => {
    const text = readFileSync(`${PRESET_DIR}${name}.yaml`, 'utf8');
    expect(text).toMatch(new RegExp(`^# @${name} `)); // a reviewer reads the header first
    const patterns = loadPreset(name) ?? [];
    expect(patterns.length).toBeGreaterThan(0);
    for (const p of patterns) {
      expect(parsePattern(p.name)).toEqual({ ok: true, value: { kind: p.kind, name: p.name } });
      expect(p.source).toMatch(new RegExp(`^@${name}:`));
    }
  });

  it('are read once and then served from the cache', () => {
    expect(loadPreset('npm')).toBe(loadPreset('npm'));
  });

  it('cover what the client resolves by default', () => {
    const names = (preset: string): string[] => (loadPreset(preset) ?? []).map((p) => p.name);
    expect(names('npm')).toContain('registry.npmjs.org');
    expect(names('pypi')).toEqual(expect.arrayContaining(['pypi.org', 'files.pythonhosted.org']));
    expect(names('crates')).toEqual(expect.arrayContaining(['index.crates.io', 'static.crates.io']));
    expect(names('go')).toEqual(expect.arrayContaining(['proxy.golang.org', 'sum.golang.org']));
    expect(names('docker')).toEqual(expect.arrayContaining(['registry-1.docker.io', 'auth.docker.io']));
  });

  it('leave out the upload and gist hosts that move data out', () => {
    const all = presetNames().flatMap((n) => loadPreset(n) ?? []);
    expect(all.filter((p) => p.kind === 'subtree')).toEqual([]); // a wildcard would reach user content
    const names = all.map((p) => p.name);
    for (const exfil of ['upload.pypi.org', 'gist.github.com', 'gist.githubusercontent.com', 'uploads.github.com', 'storage.googleapis.com']) {
      expect(names).not.toContain(exfil);
    }
  });

  it('do not resolve names outside the preset folder', () => {
    expect(loadPreset('../intentdns')).toBeUndefined();
    expect(loadPreset('nope')).toBeUndefined();
  });
});

describe('parsePreset', () => {
  it('reports bad entries at their line and column in the preset file', () => {
    try {
      parsePreset('# header\nnames:\n  - ok.example.org\n  - "*.*.example.org"\nextra: 1\n', '/p/bad.yaml', 'bad');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).format().split('\n')).toEqual([
        '/p/bad.yaml:4:5 names[1]: "*.*.example.org": "*" is only allowed as the whole first label, as in "*.example.org"',
        '/p/bad.yaml:5:1 unknown key "extra"',
      ]);
    }
  });

  it('rejects an empty preset', () => {
    expect(() => parsePreset('names: []\n', '/p/empty.yaml', 'empty')).toThrow('names: a preset needs at least one name');
  });
});
