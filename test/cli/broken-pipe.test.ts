/**
 * `intentdns replay … | head`: the built CLI as a child process whose reader
 * closes the pipe after the first line exits 0, with nothing on stderr
 * (before, an unhandled EPIPE error and exit 1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { scratch, type Scratch } from '../helpers/cli.js';
import { ensureBuilt } from '../helpers/serve-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('a CLI whose stdout is closed early', () => {
  let files: Scratch;
  beforeAll(() => {
    files = scratch();
  });
  afterAll(() => files.remove());

  it('replay exits 0 quietly when the reader stops reading', async () => {
    const main = await ensureBuilt();
    const config = files.write('c.yaml', `
      version: 1
      upstreams: { servers: ["127.0.0.1:5300"] }
      clients: [{ name: a, match: ["127.0.0.1/32"], role: coding }]
      roles: { coding: { unlisted: sinkhole } }
    `);
    // Enough changed lines (each one printed) to outlast any pipe buffer.
    const lines = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({
      msg: 'query', client: '127.0.0.1', role: 'coding', qname: `n${i}.example.org`, qtype: 'A', action: 'forward', reason: 'unlisted',
    }));
    const log = files.write('log.ndjson', `${lines.join('\n')}\n`);
    const child = spawn(process.execPath, [main, 'replay', '--log', log, '--config', config], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(first).toContain('n0.example.org A\tforward/unlisted -> sinkhole/unlisted');
    expect(code).toBe(0);
    expect(stderr).toBe('');
  }, 30_000);
});
