import { describe, expect, it } from 'vitest';
import { namesFromCommand, type CommandNameOptions, type PresetName } from '../../src/approval/command-names.js';
import { CONTAINER_TOOLS } from '../../src/approval/command-names/containers.js';
import { DATABASE_CLIENTS } from '../../src/approval/command-names/databases.js';
import { INTERPRETERS } from '../../src/approval/command-names/interpreters.js';
import { NETWORK_TOOLS } from '../../src/approval/command-names/network.js';
import { PACKAGE_MANAGERS } from '../../src/approval/command-names/packages.js';
import { VCS_TOOLS } from '../../src/approval/command-names/vcs.js';
import { WRAPPERS } from '../../src/approval/command-names/wrappers.js';
import { CORPUS, FAKE_PRESETS, INTERNAL_SUFFIXES } from './command-names.corpus.js';

const opts: CommandNameOptions = {
  internalSuffixes: INTERNAL_SUFFIXES,
  preset: (name: PresetName) => FAKE_PRESETS[name],
};

describe('namesFromCommand: corpus', () => {
  it('has at least 100 commands, 25 of them with no names', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(100);
    expect(CORPUS.filter((c) => c.names.length === 0).length).toBeGreaterThanOrEqual(25);
  });

  it.each(CORPUS.map((c) => [c.command, c.names] as const))('%j', (command, names) => {
    expect(namesFromCommand(command, opts)).toEqual([...new Set(names)].sort());
  });
});

describe('namesFromCommand: contract', () => {
  it('has one extractor per program name across the tool tables', () => {
    const tables = [WRAPPERS, INTERPRETERS, NETWORK_TOOLS, DATABASE_CLIENTS, VCS_TOOLS, CONTAINER_TOOLS, PACKAGE_MANAGERS];
    const names = tables.flatMap((t) => Object.keys(t));
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  it('returns unique names, sorted', () => {
    const names = namesFromCommand('curl https://b.example.com https://a.example.com; wget https://b.example.com', opts);
    expect(names).toEqual(['a.example.com', 'b.example.com']);
  });

  it('returns preset entries as they are, patterns included', () => {
    expect(namesFromCommand('gem install rails', opts)).toEqual(['*.rubygems.org', 'rubygems.org']);
  });

  it('gives nothing for a package manager whose preset does not exist', () => {
    const none: CommandNameOptions = { internalSuffixes: [], preset: () => undefined };
    expect(namesFromCommand('npm ci && curl https://api.example.com/', none)).toEqual(['api.example.com']);
  });

  it('accepts names under an internal suffix only below it, on a label boundary', () => {
    const names = namesFromCommand('ssh evilcorp.internal; ssh corp.internal; ssh a.corp.internal; ssh nas.lan', opts);
    expect(names).toEqual(['a.corp.internal', 'nas.lan']);
  });

  it('drops internal-looking names when no internal suffix is configured', () => {
    const none: CommandNameOptions = { internalSuffixes: [], preset: () => undefined };
    expect(namesFromCommand('psql -h db.corp.internal', none)).toEqual([]);
  });

  it('never gives localhost, even when listed as internal', () => {
    const odd: CommandNameOptions = { internalSuffixes: ['localhost'], preset: () => undefined };
    expect(namesFromCommand('curl http://app.localhost:3000/ http://localhost/', odd)).toEqual([]);
  });

  it('gives nothing for a command over 64 KiB', () => {
    const long = `curl https://api.example.com/ #${'x'.repeat(64 * 1024)}`;
    expect(namesFromCommand(long, opts)).toEqual([]);
  });

  it('stops following nested shells past the depth limit', () => {
    let command = 'curl https://deep.example.com/';
    for (let i = 0; i < 20; i++) command = `sudo ${command}`;
    expect(namesFromCommand(command, opts)).toEqual([]);
    expect(namesFromCommand('sudo sudo sudo curl https://deep.example.com/', opts)).toEqual(['deep.example.com']);
  });

  it('recurses into bash -c inside bash -c', () => {
    const command = `bash -c "sh -c 'curl https://inner.example.com/'"`;
    expect(namesFromCommand(command, opts)).toEqual(['inner.example.com']);
  });

  it('never throws, whatever the input', () => {
    const alphabet = ['curl ', 'ssh ', 'docker run ', '-', '--', 'x', '.', 'com', '/', ':', '@', "'", '"', '\\', '$(', ')', '`',
      '(', '{', '}', '|', '&', ';', '\n', '<<', 'EOF', '=', ' ', 'https://', 'a.example.com', '[', ']', '\u0000', 'é'];
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let n = 0; n < 2000; n++) {
      let command = '';
      const length = Math.floor(random() * 40);
      for (let i = 0; i < length; i++) command += alphabet[Math.floor(random() * alphabet.length)];
      expect(() => namesFromCommand(command, opts)).not.toThrow();
    }
    expect(namesFromCommand(undefined as unknown as string, opts)).toEqual([]);
  });

  it('gives no names past the nesting limit instead of recursing 5000 levels deep', () => {
    const command = '$('.repeat(5000) + 'curl https://x.example.com' + ')'.repeat(5000);
    expect(namesFromCommand(command, opts)).toEqual([]);
  });
});
