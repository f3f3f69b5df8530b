/**
 * The command line's frame, in-process: --help on every command, --version,
 * and exit 2 for an unknown command or a bad flag.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { cli } from '../helpers/cli.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const COMMANDS = ['serve', 'check', 'explain', 'suggest', 'replay'] as const;

describe('intentdns command line', () => {
  it('--version prints the package version', async () => {
    for (const flag of ['--version', '-v']) {
      const r = await cli([flag]);
      expect(r.code).toBe(0);
      expect(r.out).toBe(`${VERSION}\n`);
    }
  });

  it('--help lists every command and exits 0', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const name of COMMANDS) expect(r.out).toMatch(new RegExp(`^  ${name}\\s+\\S`, 'm'));
  });

  it('no command prints the help and exits 2', async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.out).toContain('Usage: intentdns <command>');
  });

  it.each(COMMANDS)('%s --help prints its usage and exits 0', async (name) => {
    const r = await cli([name, '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Usage: intentdns ${name}`);
    expect(r.err).toBe('');
  });

  it('an unknown command exits 2 naming it', async () => {
    const r = await cli(['sreve']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown command "sreve"');
    expect(r.out).toBe('');
  });

  it('an unknown flag, or a flag without its value, exits 2 with the usage', async () => {
    for (const argv of [['check', '--bogus'], ['explain', '--client'], ['suggest', 'stray-positional']]) {
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err, argv.join(' ')).toContain(`Usage: intentdns ${argv[0]}`);
    }
  });
});
