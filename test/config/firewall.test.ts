import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { restartOnlyChanges } from '../../src/config/reload.js';

const RESOLV = join(fileURLToPath(new URL('../fixtures/config/', import.meta.url)), 'resolv.conf');
const HEAD = 'version: 1\nlisten: {dns: ["127.0.0.1:53"]}\nclients: [{name: a, match: ["10.0.0.1"], role: r}]\nroles: {r: {}}\n';
const parse = (tail: string) => parseConfig(HEAD + tail, 'test.yaml', { resolvConf: RESOLV });

function errorsOf(tail: string): string[] {
  try {
    parse(tail);
  } catch (e) {
    if (e instanceof ConfigError) return e.format().split('\n');
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('firewall:', () => {
  it('is off unless present (v1 behaviour)', () => {
    expect(parse('').firewall).toBeNull();
    expect(parse('firewall: null\n').firewall).toBeNull();
  });

  it('takes the spec defaults', () => {
    expect(parse('firewall: {}\n').firewall).toEqual({
      backend: 'nftables', table: 'intentdns', scope: 'role', graceMs: 30_000, waitMs: 100, onError: 'closed',
    });
  });

  it('reads every key', () => {
    const fw = parse('firewall:\n  backend: nftables\n  table: agents_fw\n  scope: agent\n  grace: 0s\n  wait: 250ms\n  on_error: open\n').firewall;
    expect(fw).toEqual({ backend: 'nftables', table: 'agents_fw', scope: 'agent', graceMs: 0, waitMs: 250, onError: 'open' });
  });

  it('names the line and column of each mistake, and unknown keys', () => {
    expect(errorsOf('firewall:\n  backend: iptables\n  table: "my table"\n  scope: team\n  wait: 0ms\n  on_error: maybe\n  sets: x\n')).toEqual([
      'test.yaml:6:12 firewall.backend: expected one of nftables, got "iptables"',
      'test.yaml:7:10 firewall.table: "my table" is not a table name (a letter, then letters, digits or _; at most 63)',
      'test.yaml:8:10 firewall.scope: expected one of role, agent, got "team"',
      'test.yaml:9:9 firewall.wait: "0ms" must be more than zero',
      'test.yaml:10:13 firewall.on_error: expected one of closed, open, got "maybe"',
      'test.yaml:11:3 unknown key "sets" in firewall',
    ]);
  });

  it('a reload that turns it on or moves the table waits for a restart; the rest applies at once', () => {
    const off = parse('');
    const on = parse('firewall: {}\n');
    expect(restartOnlyChanges(off, on)).toEqual(['firewall']);
    expect(restartOnlyChanges(on, parse('firewall: {table: other}\n'))).toEqual(['firewall.table']);
    expect(restartOnlyChanges(on, parse('firewall: {grace: 5s, wait: 1s, on_error: open, scope: agent}\n'))).toEqual([]);
  });
});
