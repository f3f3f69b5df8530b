/**
 * One smoke test of the built CLI as a user runs it: `node dist/main.js`.
 * Builds dist/ first only when it is missing (npm test builds it anyway).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function exec(file: string, args: readonly string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('node dist/main.js', () => {
  beforeAll(async () => {
    if (existsSync(MAIN)) return;
    const build = await exec('npm', ['run', 'build'], 110_000);
    if (build.code !== 0 || !existsSync(MAIN)) throw new Error(`npm run build failed (${build.code}):\n${build.stdout}${build.stderr}`);
  }, 120_000);

  it('--version prints the version and exits 0', async () => {
    const r = await exec(process.execPath, [MAIN, '--version'], 10_000);
    expect(r).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('--help prints the commands and exits 0; an unknown command exits 2', async () => {
    const help = await exec(process.execPath, [MAIN, '--help'], 10_000);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: intentdns <command>');
    expect(help.stdout).toMatch(/^ {2}serve\s/m);
    const bad = await exec(process.execPath, [MAIN, 'sreve'], 10_000);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown command "sreve"');
  });
});
