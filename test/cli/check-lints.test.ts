/**
 * `intentdns check` on configs that are valid but likely wrong: each lint is
 * printed after the summary as `warning: FILE:LINE:COL message`, the exit
 * code stays 0, and --strict turns any warning into exit 1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { cli, scratch, type Scratch } from '../helpers/cli.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/config/${name}.yaml`, import.meta.url));
const EVERY = fixture('every-lint');
const NO_APPROVAL = fixture('every-lint-no-approval');
const EXAMPLE = fileURLToPath(new URL('../../config/intentdns.yaml', import.meta.url));

describe('intentdns check lints', () => {
  let files: Scratch;
  beforeAll(() => {
    files = scratch();
  });
  afterAll(() => files.remove());

  it('prints every lint of every-lint.yaml with its place, and exits 0', async () => {
    const r = await cli(['check', '--config', EVERY]);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out.trimEnd().split('\n')).toEqual([
      `${EVERY}: ok (8 clients, 2 roles, 1 DNS listeners, mode enforce), 8 warnings`,
      `warning: ${EVERY}:8:5 clients[1] "ci-runner-1" never matches: every address in it is claimed first by clients[0] "build-pool" (line 5)`,
      `warning: ${EVERY}:21:13 clients[5].match[0] 10.40.0.0/24 never matches: every address in it is claimed first by clients[3] "low-half" (line 14), clients[4] "high-half" (line 17)`,
      `warning: ${EVERY}:32:9 roles.coding: "github.com" is allowed and denied: deny rule "github.com" (line 38) covers it, and deny wins`,
      `warning: ${EVERY}:34:9 roles.coding: "*.pages.example.org" is allowed and denied: deny rule "*.example.org" (line 40) covers it, and deny wins`,
      `warning: ${EVERY}:35:9 roles.coding: "ftp.example.net" is allowed and denied: deny rule "*.example.net" (line 41) covers it, and deny wins`,
      `warning: ${EVERY}:36:9 roles.coding: "@npm:registry.yarnpkg.com" is allowed and denied: deny rule "registry.yarnpkg.com" (line 42) covers it, and deny wins`,
      `warning: ${EVERY}:44:3 roles.forgotten: no client entry uses this role`,
      `warning: ${EVERY}:48:17 approval.hold_timeout: 6 s is not under the 5 s stub resolvers wait per try (glibc timeout:5, dig +timeout=5); they retry or give up before the hold is answered`,
    ]);
  });

  it('prints the lints that need no approval section', async () => {
    const r = await cli(['check', '--config', NO_APPROVAL]);
    expect(r.code).toBe(0);
    expect(r.out.trimEnd().split('\n')).toEqual([
      `${NO_APPROVAL}: ok (1 clients, 1 roles, 1 DNS listeners, mode enforce), 3 warnings`,
      `warning: ${NO_APPROVAL}:13:9 roles.coding.private_ok: "*.lab.internal" never applies: no allow rule of the role covers a name in it, and without approval or unlisted: forward nothing else is forwarded`,
      `warning: ${NO_APPROVAL}:14:9 roles.coding.private_ok: "printer.local" never applies: no allow rule of the role covers a name in it, and without approval or unlisted: forward nothing else is forwarded`,
      `warning: ${NO_APPROVAL}:15:15 roles.coding.unlisted: hold without an approval section acts as sinkhole (nobody can be asked)`,
    ]);
  });

  it('prints no warning for a clean config, also under --strict', async () => {
    const r = await cli(['check', '--strict', '--config', EXAMPLE]);
    expect(r.code).toBe(0);
    expect(r.out.trimEnd()).toBe(`${EXAMPLE}: ok (1 clients, 1 roles, 1 DNS listeners, mode enforce)`);
  });

  it('--strict exits 1 when there is a warning, and says why', async () => {
    const r = await cli(['check', '--strict', '--config', EVERY]);
    expect(r.code).toBe(1);
    expect(r.out.split('\n')[0]).toBe(`${EVERY}: 8 warnings, failing under --strict (8 clients, 2 roles, 1 DNS listeners, mode enforce)`);
    expect(r.out.split('\n').filter((l) => l.startsWith('warning: '))).toHaveLength(8);
  });

  it('--json lists the lints with file, line and column; ok turns false under --strict', async () => {
    const r = await cli(['check', '--json', '--config', NO_APPROVAL]);
    const result = JSON.parse(r.out) as { ok: boolean; lints: Array<{ file: string; line: number; col: number; message: string }> };
    expect(r.code).toBe(0);
    expect(result.ok).toBe(true);
    expect(result.lints.map((l) => [l.file, l.line, l.col])).toEqual([[NO_APPROVAL, 13, 9], [NO_APPROVAL, 14, 9], [NO_APPROVAL, 15, 15]]);
    const strict = await cli(['check', '--json', '--strict', '--config', NO_APPROVAL]);
    expect(strict.code).toBe(1);
    expect(JSON.parse(strict.out)).toMatchObject({ ok: false });
  });

  it('places a lint in a file given by a relative path as the user typed it', async () => {
    const file = files.write('unused.yaml', `
      version: 1
      clients: [{ name: a, match: ["127.0.0.1"], role: used }]
      roles: { used: {}, spare: {} }
    `);
    const r = await cli(['check', '--config', file]);
    expect(r.out).toContain(`warning: ${file}:3:20 roles.spare: no client entry uses this role`);
  });
});
