/**
 * `intentdns suggest` on a decision log written by the real proxy in audit
 * mode: the YAML it prints parses, lists each role's unlisted names, and
 * leaves out what was blocked on purpose. Pasted into the config, it allows them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { SUBTREE_MIN_NAMES } from '../../src/suggest/index.js';
import { cli, scratch, type Scratch } from '../helpers/cli.js';
import { startProxy } from '../helpers/proxy.js';

const POLICY = (codingAllow: readonly string[]) => `
  version: 1
  mode: audit
  upstreams: { servers: UPSTREAMS, timeout: 500ms }
  clients:
    - { name: "agent-{ip}", match: ["127.0.0.1/32"], role: coding }
    - { name: ops, match: ["127.0.0.3/32"], role: ops }
  roles:
    coding:
      allow: ${JSON.stringify(codingAllow)}
      deny: [gist.github.com]
      qtypes: [A, AAAA]
      unlisted: sinkhole
    ops: { unlisted: hold }
`;

describe('intentdns suggest', () => {
  let files: Scratch;
  let log: string;

  beforeAll(async () => {
    files = scratch();
    const proxy = await startProxy({
      zone: {
        'api.github.com': [{ type: 'A', data: '140.82.121.6' }],
        'pkg.unlisted.test': [{ type: 'A', data: '192.0.2.7' }],
        'cdn.unlisted.test': [{ type: 'A', data: '192.0.2.8' }],
        'ops.unlisted.test': [{ type: 'A', data: '192.0.2.9' }],
        'lan.unlisted.test': [{ type: 'A', data: '10.1.2.3' }],
      },
      yaml: POLICY(['*.github.com']),
    });
    try {
      await proxy.query('api.github.com', 'A');                       // allowlist: already covered
      await proxy.query('gist.github.com', 'A');                      // denylist: never suggested
      await proxy.query('pkg.unlisted.test', 'A');
      await proxy.query('pkg.unlisted.test', 'AAAA');
      await proxy.query('cdn.unlisted.test', 'A');
      await proxy.query('api.github.com', 'MX');                      // qtype: never suggested
      await proxy.query('typo.unlisted.test', 'A');                   // upstream NXDOMAIN: listed apart
      await proxy.query('lan.unlisted.test', 'A');                    // a private address: listed apart
      await proxy.query('ops.unlisted.test', 'A', { from: '127.0.0.3' });
      await proxy.query('stranger.test', 'A', { from: '127.0.0.2' });  // unknown client: no role
    } finally {
      await proxy.close();
    }
    log = join(files.dir, 'decisions.ndjson');
    // The proxy's whole stdout, other log lines included, and a line cut off by a log rotation.
    writeFileSync(log, `${proxy.lines.map((l) => JSON.stringify(l)).join('\n')}\n{"msg":"query","client":"127.0\n`);
  });
  afterAll(() => files.remove());

  it('prints YAML listing each role\'s unlisted names, and nothing blocked on purpose', async () => {
    const r = await cli(['suggest', '--log', log]);
    expect(r.code).toBe(0);
    expect(r.err.trimEnd()).toBe(`${log}: skipped 1 line that are not decision log lines, the first: {"msg":"query","client":"127.0`);
    expect(parse(r.out)).toEqual({
      roles: {
        coding: { allow: ['cdn.unlisted.test', 'pkg.unlisted.test'] },
        ops: { allow: ['ops.unlisted.test'] },
      },
    });
    expect(r.out).toContain('pkg.unlisted.test  # 2 queries');
    expect(r.out).toContain('cdn.unlisted.test  # 1 query');
  });

  it('lists apart, as comments, names that do not exist and names answered with a private address', async () => {
    const r = await cli(['suggest', '--log', log, '--role', 'coding']);
    expect(r.out).toContain([
      '    # not suggested, the name does not exist (every upstream answer was NXDOMAIN):',
      '    #   - typo.unlisted.test  # 1 query',
      '    # not suggested, answered with a private address (rebinding): allowed, it is still blocked unless private_ok lists it:',
      '    #   - lan.unlisted.test  # 1 query',
    ].join('\n'));
    const json = JSON.parse((await cli(['suggest', '--log', log, '--role', 'coding', '--json'])).out) as { roles: { coding: { not_suggested: unknown } } };
    expect(json.roles.coding.not_suggested).toEqual([
      { name: 'lan.unlisted.test', count: 1, why: 'rebinding' },
      { name: 'typo.unlisted.test', count: 1, why: 'nxdomain' },
    ]);
  });

  it('--role keeps one role', async () => {
    const r = await cli(['suggest', '--log', log, '--role', 'ops']);
    expect(parse(r.out)).toEqual({ roles: { ops: { allow: ['ops.unlisted.test'] } } });
    const none = await cli(['suggest', '--log', log, '--role', 'nobody']);
    expect(parse(none.out)).toEqual({ roles: {} });
  });

  it('--json prints one line with counts', async () => {
    const r = await cli(['suggest', '--log', log, '--json']);
    const lines = r.out.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0]!) as { lines: number; roles: Record<string, { allow: Array<{ name: string; count: number }> }> };
    expect(result.lines).toBe(10);
    expect(result.roles.coding?.allow).toEqual([{ name: 'cdn.unlisted.test', count: 1 }, { name: 'pkg.unlisted.test', count: 2 }]);
  });

  it('suggests names that, added to the role, are then allowed', async () => {
    const suggested = (parse((await cli(['suggest', '--log', log, '--role', 'coding'])).out) as { roles: { coding: { allow: string[] } } }).roles.coding.allow;
    const config = files.write('with-suggestions.yaml', POLICY(['*.github.com', ...suggested]).replace('UPSTREAMS', '["127.0.0.1:5300"]'));
    const r = await cli(['explain', '--config', config, '--client', '127.0.0.1', '--name', 'pkg.unlisted.test', '--json']);
    expect(JSON.parse(r.out)).toMatchObject({ action: 'forward', reason: 'allowlist', rule: 'pkg.unlisted.test' });
  });

  it('exits 2 without --log', async () => {
    const r = await cli(['suggest']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--log');
  });
});

describe('intentdns suggest on hand-written logs', () => {
  const q = (qname: string, extra: Record<string, unknown> = {}): string => JSON.stringify({
    level: 30, time: 1764000000000, msg: 'query', client: '10.0.0.1', role: 'coding', qname, qtype: 'A',
    action: 'forward', reason: 'unlisted', rcode: 'NOERROR', ...extra,
  });
  const allowOf = (out: string): unknown => (parse(out) as { roles: { coding: { allow: unknown } } }).roles.coding.allow;

  it('reads journald lines (short and short-iso) and stdin with --log -', async () => {
    const log = [
      '-- Boot 0123456789abcdef --',
      `Dec 01 12:34:56 host node[1234]: ${q('a.example.org')}`,
      `2024-12-01T12:34:56+0000 host intentdns[99]: ${q('b.example.org')}`,
      `2024-12-01T12:34:56.123456+00:00 host node[1234]: ${q('c.example.org')}`,
    ].join('\n');
    const r = await cli(['suggest', '--log', '-'], {}, `${log}\n`);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(allowOf(r.out)).toEqual(['a.example.org', 'b.example.org', 'c.example.org']);
    expect(r.out).toContain('from 3 decision lines of stdin');
  });

  it('counts the lines it could not read, shows the first, and exits 1 when it read none', async () => {
    const r = await cli(['suggest', '--log', '-'], {}, 'kernel: eth0 up\nsomething else\n');
    expect(r.code).toBe(1);
    expect(r.err).toBe('stdin: skipped 2 lines that are not decision log lines, the first: kernel: eth0 up\n'
      + 'stdin: no decision log lines (msg "query") to suggest from\n');
    expect((await cli(['suggest', '--log', '-'], {}, '')).code).toBe(1);
  });

  it(`proposes a preset when more than half of its names were seen, and "*.domain" from ${SUBTREE_MIN_NAMES} names below it`, async () => {
    const names = ['registry.npmjs.org', 'registry.yarnpkg.com', 'a.example.org', 'b.example.org', 'c.example.org', 'd.example.org', 'example.org',
      'one.example.net', 'two.example.net', 'three.example.net', 'four.example.net'];
    const r = await cli(['suggest', '--log', '-'], {}, `${names.map((n) => q(n)).join('\n')}\n${q('e.example.org')}\n`);
    expect(allowOf(r.out)).toEqual(['@npm', '*.example.org', 'example.org', 'four.example.net', 'one.example.net', 'three.example.net', 'two.example.net']);
    expect(r.out).toContain('- "*.example.org"  # 5 names below it seen, 5 queries');
    expect(r.out).toContain('- "@npm"  # 2 of its 2 names seen, 2 queries');
    // One of @npm's two names is not more than half: listed as itself.
    const half = await cli(['suggest', '--log', '-'], {}, `${q('registry.npmjs.org')}\n`);
    expect(allowOf(half.out)).toEqual(['registry.npmjs.org']);
  });

  it('does not take a sinkhole\'s NXDOMAIN for a name that does not exist', async () => {
    const r = await cli(['suggest', '--log', '-'], {}, `${q('x.example.org', { action: 'sinkhole', rcode: 'NXDOMAIN' })}\n`);
    expect(allowOf(r.out)).toEqual(['x.example.org']);
  });
});
