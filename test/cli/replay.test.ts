/**
 * `intentdns replay`: re-decides a decision log under a changed config and
 * reports what would now go differently, per role and reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, scratch, type Scratch } from '../helpers/cli.js';

const line = (fields: Record<string, unknown>): string => JSON.stringify({ level: 30, time: 1764000000000, transport: 'udp', msg: 'query', ...fields });
const coding = { client: '127.0.0.1', agent: 'agent-127.0.0.1', role: 'coding', qtype: 'A' };

/** A decision log as `serve` writes it, with the noise a real one has. */
const LOG = [
  JSON.stringify({ level: 30, time: 1764000000000, msg: 'intentdns listening' }),
  line({ ...coding, qname: 'pkg.unlisted.test', action: 'sinkhole', reason: 'unlisted', rcode: 'NXDOMAIN' }),
  line({ ...coding, qname: 'pkg.unlisted.test', action: 'sinkhole', reason: 'unlisted', rcode: 'NXDOMAIN' }),
  line({ ...coding, qname: 'api.github.com', action: 'forward', reason: 'allowlist', rule: '*.github.com', rcode: 'NOERROR' }),
  line({ ...coding, qname: 'gist.github.com', action: 'sinkhole', reason: 'denylist', rule: 'gist.github.com', rcode: 'NXDOMAIN' }),
  line({ ...coding, qname: 'cdn.evil.test', action: 'sinkhole', reason: 'denylist_cname', rcode: 'NXDOMAIN' }),
  line({ client: '127.0.0.9', qname: 'api.github.com', qtype: 'A', action: 'refuse', reason: 'unknown_client', rcode: 'REFUSED' }),
  'not json, but mentions "query"',
  '{"msg":"query","client":"127.0',
].join('\n');

const config = (allow: readonly string[]): string => `
  version: 1
  upstreams: { servers: ["127.0.0.1:5300"] }
  clients: [{ name: "agent-{ip}", match: ["127.0.0.1/32"], role: coding }]
  roles:
    coding:
      allow: ${JSON.stringify(allow)}
      deny: [gist.github.com]
      unlisted: sinkhole
`;

describe('intentdns replay', () => {
  let files: Scratch;
  let log: string;

  beforeAll(() => {
    files = scratch();
    log = files.write('decisions.ndjson', `${LOG}\n`);
  });
  afterAll(() => files.remove());

  it('reports no change under the config that wrote the log', async () => {
    const r = await cli(['replay', '--log', log, '--config', files.write('same.yaml', config(['*.github.com']))]);
    expect(r.code).toBe(0);
    expect(r.out.trimEnd()).toBe('0 of 6 queries would be decided differently (1 not replayable: grants, holds, answer checks)');
  });

  it('reports the queries an added allow rule would let through, counted per role and reason', async () => {
    const r = await cli(['replay', '--log', log, '--config', files.write('added.yaml', config(['*.github.com', 'pkg.unlisted.test']))]);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')).toEqual([
      'coding\tpkg.unlisted.test A\tsinkhole/unlisted -> forward/allowlist\t(2×)',
      '2 of 6 queries would be decided differently (1 not replayable: grants, holds, answer checks)',
      '  coding: sinkhole/unlisted -> forward/allowlist 2',
      '',
    ]);
  });

  it('reports an allow rule taken away', async () => {
    const r = await cli(['replay', '--log', log, '--config', files.write('removed.yaml', config([]))]);
    expect(r.out).toContain('coding\tapi.github.com A\tforward/allowlist -> sinkhole/unlisted\t(1×)');
    expect(r.out).toContain('1 of 6 queries would be decided differently');
  });

  it('--json prints one line per change and a summary line', async () => {
    const r = await cli(['replay', '--log', log, '--json', '--config', files.write('added-json.yaml', config(['*.github.com', 'pkg.unlisted.test']))]);
    const lines = r.out.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      { role: 'coding', from: 'sinkhole/unlisted', to: 'forward/allowlist', qname: 'pkg.unlisted.test', qtype: 'A', count: 2 },
      { total: 6, not_replayed: 1, changed: 2, by_role: { coding: { 'sinkhole/unlisted -> forward/allowlist': 2 } } },
    ]);
  });

  it('spends the tunneling budgets in file order at the logged times', async () => {
    const at = (qname: string, time: number) => line({ ...coding, qname, time, action: 'forward', reason: 'allowlist', rule: '*.github.com', rcode: 'NOERROR' });
    const tunnelLog = files.write('tunnel.ndjson', [
      at('a.github.com', 1764000000000), at('b.github.com', 1764000001000), at('c.github.com', 1764000002000),
      // 10 minutes on: a new window, nothing trips.
      at('d.github.com', 1764000600000),
    ].join('\n') + '\n');
    const withTunneling = `${config(['*.github.com'])}      tunneling: { max_names_per_domain: 2 }\n`;
    const r = await cli(['replay', '--log', tunnelLog, '--json', '--config', files.write('tunnel.yaml', withTunneling)]);
    const lines = r.out.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      { role: 'coding', from: 'forward/allowlist', to: 'sinkhole/tunneling', qname: 'c.github.com', qtype: 'A', count: 1 },
      { total: 4, not_replayed: 0, changed: 1, by_role: { coding: { 'forward/allowlist -> sinkhole/tunneling': 1 } } },
    ]);
  });

  it('--blocked prints only what enforce would still block, changed or not', async () => {
    const r = await cli(['replay', '--log', log, '--blocked', '--config', files.write('blocked.yaml', config(['*.github.com']))]);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')).toEqual([
      'coding\tpkg.unlisted.test A\tsinkhole/unlisted -> sinkhole/unlisted\t(2×)',
      'coding\tgist.github.com A\tsinkhole/denylist -> sinkhole/denylist\t(1×)',
      '-\tapi.github.com A\trefuse/unknown_client -> refuse/unknown_client\t(1×)',
      '4 of 6 queries would still be blocked under enforce (1 not replayable: grants, holds, answer checks)',
      '  coding: sinkhole/unlisted -> sinkhole/unlisted 2, sinkhole/denylist -> sinkhole/denylist 1',
      '  -: refuse/unknown_client -> refuse/unknown_client 1',
      '',
    ]);
    const allowed = await cli(['replay', '--log', log, '--blocked', '--config', files.write('blocked-fewer.yaml', config(['*.github.com', 'pkg.unlisted.test']))]);
    expect(allowed.out).not.toContain('pkg.unlisted.test');
    expect(allowed.out).toContain('2 of 6 queries would still be blocked under enforce');
  });

  it('reads the log from stdin with --log -, and reports lines it could not read on stderr', async () => {
    const r = await cli(['replay', '--log', '-', '--config', files.write('stdin.yaml', config(['*.github.com']))], {}, `${LOG}\n`);
    expect(r.out.trimEnd()).toBe('0 of 6 queries would be decided differently (1 not replayable: grants, holds, answer checks)');
    expect(r.err.trimEnd()).toBe('stdin: skipped 2 lines that are not decision log lines, the first: not json, but mentions "query"');
  });

  it('exits 2 without --log, 1 when the config is broken', async () => {
    expect((await cli(['replay'])).code).toBe(2);
    const r = await cli(['replay', '--log', log, '--config', files.write('broken.yaml', 'version: 2\n')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/broken\.yaml:1:10 version: unsupported version 2/);
  });
});
