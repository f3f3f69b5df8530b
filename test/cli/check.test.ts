/**
 * `intentdns check`: a good config exits 0; a bad one prints every problem as
 * FILE:LINE:COL message and exits 1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { cli, scratch, type Scratch } from '../helpers/cli.js';

const EXAMPLE = fileURLToPath(new URL('../../config/intentdns.yaml', import.meta.url));
const SEVERAL = fileURLToPath(new URL('../fixtures/config/several-errors.yaml', import.meta.url));

describe('intentdns check', () => {
  let files: Scratch;

  beforeAll(() => {
    files = scratch();
  });
  afterAll(() => files.remove());

  it('accepts the example config/intentdns.yaml', async () => {
    const r = await cli(['check', '--config', EXAMPLE]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`${EXAMPLE}: ok`);
  });

  it('prints each problem of a bad file as FILE:LINE:COL message and exits 1', async () => {
    const r = await cli(['check', '--config', SEVERAL]);
    expect(r.code).toBe(1);
    const lines = r.out.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(5);
    for (const line of lines) expect(line).toMatch(new RegExp(`^${SEVERAL.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+ \\S`));
    expect(r.out).toContain(`${SEVERAL}:2:7 mode: expected one of enforce, audit`);
    expect(r.out).toContain('unknown key "htp"');
    expect(r.out).toContain('undefined role "biulder"');
    expect(r.out).toContain('unknown preset "@nmp"');
  });

  it('points at the line and column of a mistake in a small file', async () => {
    const file = files.write('typo.yaml', `
      version: 1
      clients:
        - { name: a, match: ["127.0.0.1/32"], role: coding }
      roles:
        coding:
          allow: ["github.com"]
          unlistd: forward
    `);
    const r = await cli(['check', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.out.trimEnd()).toBe(`${file}:7:5 unknown key "unlistd" in roles.coding`);
  });

  it('--json prints one parseable line with every issue', async () => {
    const r = await cli(['check', '--config', SEVERAL, '--json']);
    expect(r.code).toBe(1);
    const result = JSON.parse(r.out) as { ok: boolean; errors: Array<{ line: number; col: number; message: string }> };
    expect(result.ok).toBe(false);
    expect(result.errors[0]).toMatchObject({ line: 2, col: 7 });
    const good = await cli(['check', '--config', EXAMPLE, '--json']);
    expect(good.code).toBe(0);
    expect(JSON.parse(good.out)).toEqual({ ok: true, file: EXAMPLE });
  });

  it('exits 1 naming the file when it cannot be read', async () => {
    const missing = `${files.dir}/missing.yaml`;
    const r = await cli(['check', '--config', missing]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(missing);
    expect(r.out).toContain('ENOENT');
  });
});
