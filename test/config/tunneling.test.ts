import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { packConfig, unpackConfig } from '../../src/config/packed.js';
import { TUNNELING_DEFAULTS } from '../../src/config/sections/tunneling.js';

const HEAD = 'version: 1\nlisten: {dns: ["127.0.0.1:53"]}\nupstreams: {servers: ["127.0.0.1:5300"]}\nclients: [{name: a, match: ["10.0.0.1"], role: r}]\nroles:\n  r:\n';
const parse = (role: string) => parseConfig(HEAD + role, 'test.yaml');
const tunnelingOf = (role: string) => parse(role).roles.get('r')!.tunneling;

function errorsOf(role: string): string[] {
  try {
    parse(role);
  } catch (e) {
    if (e instanceof ConfigError) return e.format().split('\n');
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('roles.<name>.tunneling', () => {
  it('is off when the section is absent', () => {
    expect(tunnelingOf('    unlisted: forward\n')).toBeNull();
  });

  it('is on with the measured defaults when present, also when empty (docs/tunneling.md: label 63 and entropy 4.8, not the spec\'s 52 and 4.0)', () => {
    const defaults = { action: 'sinkhole', maxLabelLength: 63, maxNameLength: 180, maxLabelEntropy: 4.8, maxNamesPerDomain: 300, maxBytesPerDomain: 8192 };
    expect(TUNNELING_DEFAULTS).toEqual(defaults);
    expect(tunnelingOf('    tunneling: {}\n')).toEqual(defaults);
    expect(tunnelingOf('    tunneling:\n')).toEqual(defaults);
  });

  it('takes each key it is given and the default for the others', () => {
    expect(tunnelingOf('    tunneling:\n      action: log\n      max_label_entropy: 3.5\n      max_bytes_per_domain: 4096\n')).toEqual({
      ...TUNNELING_DEFAULTS, action: 'log', maxLabelEntropy: 3.5, maxBytesPerDomain: 4096,
    });
    expect(tunnelingOf('    tunneling: { max_label_length: 52, max_name_length: 253, max_names_per_domain: 1 }\n')).toEqual({
      ...TUNNELING_DEFAULTS, maxLabelLength: 52, maxNameLength: 253, maxNamesPerDomain: 1,
    });
    // 63, the default, is the longest label DNS allows: accepted, though it can never trip (64 is an error, below).
    expect(tunnelingOf('    tunneling: { max_label_length: 63 }\n')?.maxLabelLength).toBe(63);
  });

  it('names the file, line and column of each bad value, and unknown keys', () => {
    expect(errorsOf([
      '    tunneling:',
      '      action: block',
      '      max_label_length: 64',
      '      max_name_length: 0',
      '      max_label_entropy: 7',
      '      max_names_per_domain: 1.5',
      '      max_bytes_per_domain: "8k"',
      '      max_qps: 10',
      '',
    ].join('\n'))).toEqual([
      'test.yaml:8:15 roles.r.tunneling.action: expected one of sinkhole, log, got "block"',
      'test.yaml:9:25 roles.r.tunneling.max_label_length: expected a whole number from 1 to 63',
      'test.yaml:10:24 roles.r.tunneling.max_name_length: expected a whole number from 1 to 253',
      'test.yaml:11:26 roles.r.tunneling.max_label_entropy: expected a number above 0 and at most 5.98',
      'test.yaml:12:29 roles.r.tunneling.max_names_per_domain: expected a positive whole number',
      'test.yaml:13:29 roles.r.tunneling.max_bytes_per_domain: expected a positive whole number',
      'test.yaml:14:7 unknown key "max_qps" in roles.r.tunneling',
    ]);
  });

  it('rejects a section that is not a map', () => {
    expect(errorsOf('    tunneling: on\n')).toEqual(['test.yaml:7:16 roles.r.tunneling: expected a map']);
  });

  it('crosses from the parse worker unchanged', async () => {
    const config = parse('    tunneling: { action: log, max_names_per_domain: 50 }\n');
    const { config: packed } = packConfig(config);
    expect((await unpackConfig(structuredClone(packed))).roles.get('r')!.tunneling).toEqual(config.roles.get('r')!.tunneling);
  });
});
