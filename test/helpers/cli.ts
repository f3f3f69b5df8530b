/**
 * Runs CLI commands in-process through `run()` with an Io that captures what
 * they print, and gives each test a scratch directory for config and log files.
 *
 *   const r = await cli(['explain', '--client', '127.0.0.1', '--name', 'x.test', '--config', file]);
 *   expect(r.code).toBe(0);
 *   expect(r.out).toContain('decision: forward');
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/cli/run.js';
import type { Io } from '../../src/cli/io.js';
import { dedent } from './proxy.js';

export interface CliResult {
  readonly code: number;
  /** Everything written to stdout, each write ending in a newline as processIo writes it. */
  readonly out: string;
  readonly err: string;
}

/**
 * One CLI invocation. `env` replaces the environment the command sees
 * (default: none, so INTENTDNS_CONFIG is unset); `stdin` is what it reads
 * for `--log -` (default: nothing).
 */
export async function cli(argv: readonly string[], env: NodeJS.ProcessEnv = {}, stdin = ''): Promise<CliResult> {
  let out = '';
  let err = '';
  const line = (text: string): string => (text.endsWith('\n') ? text : `${text}\n`);
  const io: Io = { out: (t) => void (out += line(t)), err: (t) => void (err += line(t)), env, stdin: Readable.from([stdin]) };
  const code = await run(argv, io);
  return { code, out, err };
}

export interface Scratch {
  readonly dir: string;
  /** Writes `text` (dedented) to `name` in the scratch directory; returns the path. */
  write(name: string, text: string): string;
  remove(): void;
}

export function scratch(): Scratch {
  const dir = mkdtempSync(join(tmpdir(), 'intentdns-cli-'));
  return {
    dir,
    write(name, text) {
      const path = join(dir, name);
      writeFileSync(path, dedent(text));
      return path;
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
