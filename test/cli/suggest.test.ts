/**
 * `intentdns suggest` on a decision log written by the real proxy in audit
 * mode: the YAML it prints parses, lists each role's unlisted names, and
 * leaves out what was blocked on purpose. Pasted into the config, it allows them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
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
      zone: { 'api.github.com': [{ type: 'A', data: '140.82.121.6' }], 'pkg.unlisted.test': [{ type: 'A', data: '192.0.2.7' }] },
      yaml: POLICY(['*.github.com']),
    });
    try {
      await proxy.query('api.github.com', 'A');                       // allowlist: already covered
      await proxy.query('gist.github.com', 'A');                      // denylist: never suggested
      await proxy.query('pkg.unlisted.test', 'A');
      await proxy.query('pkg.unlisted.test', 'AAAA');
      await proxy.query('cdn.unlisted.test', 'A');
      await proxy.query('api.github.com', 'MX');                      // qtype: never suggested
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
    expect(r.err).toBe('');
    expect(parse(r.out)).toEqual({
      roles: {
        coding: { allow: ['cdn.unlisted.test', 'pkg.unlisted.test'] },
        ops: { allow: ['ops.unlisted.test'] },
      },
    });
    expect(r.out).toContain('pkg.unlisted.test  # 2 queries');
    expect(r.out).toContain('cdn.unlisted.test  # 1 query');
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
    expect(result.lines).toBe(8);
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
