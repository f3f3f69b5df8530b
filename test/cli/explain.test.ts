/**
 * `intentdns explain`: the decision for one query and the rule that made it,
 * from the config alone, in words and as one JSON line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, scratch, type Scratch } from '../helpers/cli.js';

const CONFIG = `
  version: 1
  upstreams: { servers: ["127.0.0.1:5300"] }
  clients:
    - { name: "agent-{ip}", match: ["127.0.0.1/32"], role: coding }
  roles:
    coding:
      allow: [github.com, "*.github.com", "@npm"]
      deny: [gist.github.com]
      qtypes: [A, AAAA]
      unlisted: sinkhole
`;

describe('intentdns explain', () => {
  let files: Scratch;
  let config: string;

  beforeAll(() => {
    files = scratch();
    config = files.write('intentdns.yaml', CONFIG);
  });
  afterAll(() => files.remove());

  const explain = (...args: string[]) => cli(['explain', '--config', config, ...args]);

  it('explains an allowed name: forward, allowlist, the matching rule', async () => {
    const r = await explain('--client', '127.0.0.1', '--name', 'API.github.com.');
    expect(r.code).toBe(0);
    expect(r.out).toBe([
      'api.github.com A from 127.0.0.1: agent agent-127.0.0.1 (role coding)',
      '  mode:     enforce (global)',
      '  decision: forward',
      '  reason:   allowlist',
      '  rule:     *.github.com',
      '',
    ].join('\n'));
  });

  it('names the preset a rule came from', async () => {
    const r = await explain('--client', '127.0.0.1', '--name', 'registry.npmjs.org');
    expect(r.out).toContain('rule:     @npm:registry.npmjs.org');
  });

  it('explains a denied name: sinkhole, denylist, the deny rule', async () => {
    const r = await explain('--client', '127.0.0.1', '--name', 'gist.github.com');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/decision: sinkhole\n\s+reason:\s+denylist\n\s+rule:\s+gist\.github\.com\n/);
  });

  it('explains an unlisted name: the role\'s unlisted action, no rule', async () => {
    const r = await explain('--client', '127.0.0.1', '--name', 'example.com');
    expect(r.out).toMatch(/decision: sinkhole\n\s+reason:\s+unlisted\n$/);
    expect(r.out).not.toContain('rule:');
  });

  it('explains an unknown client: refuse, unknown_client', async () => {
    const r = await explain('--client', '10.9.9.9', '--name', 'api.github.com');
    expect(r.code).toBe(0);
    expect(r.out).toContain('no agent');
    expect(r.out).not.toContain('mode:');   // refused in every mode: no mode applies
    expect(r.out).toMatch(/decision: refuse\n\s+reason:\s+unknown_client\n/);
  });

  it('explains a query type the role does not allow: refuse, qtype', async () => {
    const r = await explain('--client', '127.0.0.1', '--name', 'api.github.com', '--type', 'MX');
    expect(r.out).toContain('api.github.com MX from 127.0.0.1');
    expect(r.out).toMatch(/decision: refuse\n\s+reason:\s+qtype\n\s+rule:\s+qtypes of coding \(MX\)\n/);
  });

  it('prints one parseable JSON line with --json', async () => {
    const r = await explain('--client', '127.0.0.1', '--name', 'gist.github.com', '--json');
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      client: '127.0.0.1', qname: 'gist.github.com', qtype: 'A', agent: 'agent-127.0.0.1', role: 'coding',
      mode: 'enforce', mode_from: 'global', action: 'sinkhole', reason: 'denylist', rule: 'gist.github.com',
    });
  });

  it('shows a name\'s own tunneling signal, sinkholed or logged; the windowed budgets need a running server', async () => {
    const tunnelConfig = (action: string) => files.write(`tunnel-${action}.yaml`, `${CONFIG}      tunneling: { action: ${action}, max_names_per_domain: 1 }\n`);
    const name = `${Array.from({ length: 3 }, () => 'a'.repeat(57)).join('.')}.t.github.com`;   // a full-size tunnel name
    const sinkholed = await cli(['explain', '--config', tunnelConfig('sinkhole'), '--client', '127.0.0.1', '--name', name, '--json']);
    expect(JSON.parse(sinkholed.out)).toMatchObject({ action: 'sinkhole', reason: 'tunneling', rule: 'max_name_length (186 > 180) under github.com' });
    const logged = await cli(['explain', '--config', tunnelConfig('log'), '--client', '127.0.0.1', '--name', name]);
    expect(logged.out).toContain('  reason:   allowlist');
    expect(logged.out).toContain('  tunneling: max_name_length (186 > 180) under github.com (logged, not enforced)');
    // Every explain is a first query: max_names_per_domain 1 never trips here.
    const plain = await cli(['explain', '--config', tunnelConfig('sinkhole'), '--client', '127.0.0.1', '--name', 'api.github.com', '--json']);
    expect(JSON.parse(plain.out)).toMatchObject({ reason: 'allowlist' });
  });

  it('reads the config from INTENTDNS_CONFIG when --config is not given', async () => {
    const r = await cli(['explain', '--client', '127.0.0.1', '--name', 'github.com', '--json'], { INTENTDNS_CONFIG: config });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ action: 'forward', reason: 'allowlist', rule: 'github.com' });
  });

  it('exits 2 with the usage when --client or --name is missing or wrong', async () => {
    for (const args of [['--name', 'github.com'], ['--client', 'not-an-ip', '--name', 'github.com'], ['--client', '127.0.0.1']]) {
      const r = await explain(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toContain('Usage: intentdns explain');
      expect(r.out).toBe('');
    }
  });

  it('exits 1 with FILE:LINE:COL when the config is broken', async () => {
    const bad = files.write('bad.yaml', 'version: 1\nclients: []\nroles: {}\n');
    const r = await cli(['explain', '--client', '127.0.0.1', '--name', 'github.com', '--config', bad]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/bad\.yaml:2:\d+ clients: needs at least one client/);
  });

  describe('which mode applies, and where it came from', () => {
    const MODES = `
  version: 1
  mode: enforce
  upstreams: { servers: ["127.0.0.1:5300"] }
  clients:
    - { name: ci-runner-1, match: ["127.0.0.1/32"], role: coding, mode: audit }
    - { name: ci-runner-2, match: ["127.0.0.2/32"], role: coding }
    - { name: "laptop-{ip}", match: ["127.0.0.3/32"], role: trying, mode: enforce }
    - { name: "trial-{ip}", match: ["127.0.0.4/32"], role: trying }
  roles:
    coding: { allow: [github.com], mode: enforce }
    trying: { allow: [github.com], mode: audit }
`;
    let modes: string;
    beforeAll(() => { modes = files.write('modes.yaml', MODES); });
    const explainIn = (client: string, ...more: string[]) =>
      cli(['explain', '--config', modes, '--client', client, '--name', 'example.com', ...more]);

    it.each([
      ['127.0.0.1', 'audit (client ci-runner-1)', true],    // the client's audit over its role's enforce
      ['127.0.0.2', 'enforce (role coding)', false],
      ['127.0.0.3', 'enforce (client laptop-{ip})', false], // the entry as written, for every agent it makes
      ['127.0.0.4', 'audit (role trying)', true],           // the role's audit over the global enforce
    ])('%s: mode %s', async (client, shown, audit) => {
      const r = await explainIn(client);
      expect(r.code).toBe(0);
      expect(r.out.split('\n')[1]).toBe(`  mode:     ${shown}`);
      expect(r.out).toContain(audit ? 'decision: sinkhole (audit mode: would block, forwarded anyway)' : 'decision: sinkhole\n');
    });

    it('says the same in --json: mode and mode_from, and would_block only for the audit agent', async () => {
      const audit = JSON.parse((await explainIn('127.0.0.1', '--json')).out);
      expect(audit).toMatchObject({ agent: 'ci-runner-1', mode: 'audit', mode_from: 'client ci-runner-1', action: 'sinkhole', would_block: true });
      const enforce = JSON.parse((await explainIn('127.0.0.2', '--json')).out);
      expect(enforce).toMatchObject({ agent: 'ci-runner-2', mode: 'enforce', mode_from: 'role coding', action: 'sinkhole' });
      expect(enforce).not.toHaveProperty('would_block');
      expect(JSON.parse((await explainIn('127.0.0.4', '--json')).out)).toMatchObject({ mode: 'audit', mode_from: 'role trying' });
    });
  });
});
