import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { IntentdnsError } from '../../src/errors.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/config/', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const RESOLV = join(FIXTURES, 'resolv.conf');

const parse = (text: string, resolvConf = RESOLV): Config => parseConfig(text, 'test.yaml', { resolvConf });

/** The `FILE:LINE:COL message` lines `intentdns check` would print. */
function issuesOf(run: () => unknown): string[] {
  try {
    run();
  } catch (e) {
    if (e instanceof ConfigError) return e.format().split('\n');
    throw e;
  }
  throw new Error('expected a ConfigError');
}

const errorsOf = (text: string, resolvConf = RESOLV): string[] => issuesOf(() => parse(text, resolvConf));

/** A valid tail, so each case below only varies what comes before it. */
const TAIL = 'clients: [{name: a, match: ["10.0.0.1"], role: r}]\nroles: {r: {}}\n';

describe('the example config', () => {
  it('loads as shipped and allows the names a laptop user would try', () => {
    const c = loadConfig(join(REPO, 'config/intentdns.yaml'), { resolvConf: RESOLV });
    expect(c.listen.dns.map((d) => d.text)).toEqual(['127.0.0.1:5353']);
    expect(c.listen.http?.text).toBe('127.0.0.1:9153');
    expect(c.upstreams.servers.map((s) => s.text)).toEqual(['192.0.2.53:53', '[2001:db8::53]:53']);
    expect(c.clients).toHaveLength(1);
    expect(c.clients[0]?.match.map((m) => m.text)).toEqual(['127.0.0.0/8', '::1/128']);
    const role = c.roles.get(c.clients[0]?.role ?? '');
    const allowed = role?.allow.map((p) => p.name) ?? [];
    expect(allowed).toContain('registry.npmjs.org');
    expect(allowed).not.toContain('example.com');
    expect(role?.unlisted).toBe('sinkhole');
    expect(role?.qtypes).toEqual([1, 28, 5, 65, 64]);
    expect(c.approval).toBeNull();
    expect(c.admin.tokenFile).toBeNull();
  });
});

describe('mode per role and per client', () => {
  it('reads roles.<name>.mode and clients[].mode; absent is null (inherit), apart from an explicit enforce', () => {
    const c = parse(`version: 1\nmode: audit\nclients:\n  - {name: a, match: ["10.0.0.1"], role: r, mode: enforce}\n`
      + `  - {name: b, match: ["10.0.0.2"], role: s}\nroles:\n  r: {mode: audit}\n  s: {}\n`);
    expect(c.mode).toBe('audit');
    expect(c.clients.map((cl) => cl.mode)).toEqual(['enforce', null]);
    expect(c.roles.get('r')?.mode).toBe('audit');
    expect(c.roles.get('s')?.mode).toBeNull();
  });
});

describe('limits', () => {
  it('reads every key; client_burst 0 means twice client_qps', () => {
    const c = parse(`version: 1\nlimits:\n  client_qps: 50\n  over_limit: refuse\n  tcp_connections: 200\n  tcp_connections_per_client: 8\n`
      + `  tcp_idle_timeout: 3s\n  in_flight_per_client: 40\n  unknown_qps: 5\n  unknown_tcp_connections: 4\n  unknown_tcp_connections_per_source: 1\n${TAIL}`);
    expect(c.limits).toEqual({
      clientQps: 50, clientBurst: 100, overLimit: 'refuse', tcpConnections: 200, tcpConnectionsPerClient: 8, tcpIdleTimeoutMs: 3000,
      inFlightPerClient: 40, unknownQps: 5, unknownTcpConnections: 4, unknownTcpConnectionsPerSource: 1,
    });
    expect(parse(`version: 1\nlimits: {client_qps: 10, client_burst: 15}\n${TAIL}`).limits).toMatchObject({ clientQps: 10, clientBurst: 15 });
  });
});

describe('defaults', () => {
  it('fills every optional key with the documented default', () => {
    const c = loadConfig(join(FIXTURES, 'minimal.yaml'), { resolvConf: RESOLV });
    expect(c).toMatchObject({
      file: join(FIXTURES, 'minimal.yaml'),
      version: 1,
      mode: 'enforce',
      listen: { dns: [{ host: '127.0.0.1', port: 5353, family: 4 }], http: { host: '127.0.0.1', port: 9153 }, workers: 1 },
      upstreams: { servers: [{ host: '192.0.2.53', port: 53 }, { host: '2001:db8::53', port: 53, family: 6 }], timeoutMs: 1500, strategy: 'ordered' },
      cache: { maxEntries: 50_000, maxBytes: 64 * 1024 * 1024 },
      answers: { maxTtlS: 60, blockPrivate: true },
      sinkhole: { response: 'nxdomain', ttlS: 5 },
      clients: [{ name: 'agent-{ip}', role: 'builder', mode: null, match: [{ network: '10.20.0.0', prefix: 16, family: 4 }] }],
      approval: null,
      admin: { tokenFile: null },
      log: { level: 'info', queries: 'all' },
      metrics: { perAgent: false },
      limits: {
        clientQps: 0, clientBurst: 0, overLimit: 'drop',
        tcpConnections: 1000, tcpConnectionsPerClient: 32, tcpIdleTimeoutMs: 10_000, inFlightPerClient: 100,
        unknownQps: 20, unknownTcpConnections: 16, unknownTcpConnectionsPerSource: 2,
      },
    });
    expect(c.roles.get('builder')).toEqual({
      name: 'builder', allow: [], deny: [], qtypes: null, privateOk: [], unlisted: 'sinkhole', tunneling: null, mode: null,
    });
  });

  it('reads listen.workers: a number, or auto for one per core', () => {
    expect(parse(`version: 1\nlisten:\n  workers: 3\n${TAIL}`).listen.workers).toBe(3);
    expect(parse(`version: 1\nlisten:\n  workers: auto\n${TAIL}`).listen.workers).toBe(Math.min(64, availableParallelism()));
  });

  it('gives approval its defaults, resolves token files next to the config and trims the URL', () => {
    const c = parseConfig(
      `version: 1\napproval:\n  url: "http://127.0.0.1:8080/"\n  token_file: secrets/approval\n` +
        `  internal_suffixes: [Corp.Internal., .lab.example]\nadmin: {token_file: /run/admin}\n${TAIL}`,
      '/etc/intentdns/intentdns.yaml',
      { resolvConf: RESOLV },
    );
    expect(c.approval).toEqual({
      url: 'http://127.0.0.1:8080',
      tokenFile: '/etc/intentdns/secrets/approval',
      grantTtlMs: 600_000,
      maxGrantTtlMs: 86_400_000,
      holdTimeoutMs: 4_000,
      onHoldTimeout: 'sinkhole',
      onLinkDown: 'sinkhole',
      maxPendingHolds: 1000,
      maxPendingHoldsPerAgent: 100,
      internalSuffixes: ['corp.internal', 'lab.example'],
    });
    expect(c.admin.tokenFile).toBe('/run/admin');
  });

  it('max_pending_holds_per_agent: a tenth of max_pending_holds (at least 1) unless set', () => {
    const per = (approval: string) => parse(`version: 1\napproval: {url: "http://127.0.0.1:8080", ${approval}}\n${TAIL}`).approval?.maxPendingHoldsPerAgent;
    expect(per('max_pending_holds: 30')).toBe(3);
    expect(per('max_pending_holds: 2')).toBe(1);
    expect(per('max_pending_holds: 2, max_pending_holds_per_agent: 2')).toBe(2);
    expect(per('max_pending_holds_per_agent: 7')).toBe(7);
  });

  it('turns the HTTP listener off with http: null', () => {
    expect(parse(`version: 1\nlisten: {http: null}\n${TAIL}`).listen.http).toBeNull();
  });

  it('reads durations in their units', () => {
    const c = parse(`version: 1\nupstreams: {timeout: 3s}\nanswers: {max_ttl: 1h}\nsinkhole: {ttl: 0s}\n` +
      `approval: {url: "https://approve.example.org", grant_ttl: 10m, hold_timeout: 500ms}\n${TAIL}`);
    expect([c.upstreams.timeoutMs, c.answers.maxTtlS, c.sinkhole.ttlS]).toEqual([3000, 3600, 0]);
    expect([c.approval?.grantTtlMs, c.approval?.holdTimeoutMs]).toEqual([600_000, 500]);
  });

  it('reads upstreams.strategy', () => {
    expect(parse(`version: 1\nupstreams: {strategy: fastest}\n${TAIL}`).upstreams.strategy).toBe('fastest');
    expect(parse(`version: 1\nupstreams: {strategy: ordered}\n${TAIL}`).upstreams.strategy).toBe('ordered');
  });
});

describe('upstream "system"', () => {
  it('expands in place to the nameservers of resolv.conf, skipping scoped and malformed lines', () => {
    const c = parse(`version: 1\nupstreams: {servers: ["9.9.9.9", system, "[2620:fe::fe]:5300"]}\n${TAIL}`);
    expect(c.upstreams.servers.map((s) => s.text)).toEqual([
      '9.9.9.9', '192.0.2.53:53', '[2001:db8::53]:53', '[2620:fe::fe]:5300',
    ]);
    expect(c.upstreams.servers[0]?.port).toBe(53);
  });

  it('is an error when resolv.conf has only zone-scoped nameservers', () => {
    const scoped = join(FIXTURES, 'resolv-scoped-only.conf');
    expect(errorsOf(`version: 1\nupstreams: {servers: [system]}\n${TAIL}`, scoped)).toEqual([
      `test.yaml:2:23 upstreams.servers[0]: "system": no usable nameserver in ${scoped} ` +
        '(zone-scoped addresses are not supported: fe80::1%eth0)',
    ]);
  });

  it('is an error when resolv.conf cannot be read, also when system is only the default', () => {
    expect(errorsOf(`version: 1\n${TAIL}`, '/nonexistent/resolv.conf')).toEqual([
      'test.yaml:1:1 upstreams.servers: "system": cannot read /nonexistent/resolv.conf: ENOENT',
    ]);
  });

  it('refuses a nameserver that is our own listen address', () => {
    const resolvConf = '/fake/resolv.conf';
    const readFile = (): string => 'nameserver 127.0.0.1\n';
    expect(issuesOf(() => parseConfig(`version: 1\nlisten: {dns: ["127.0.0.1:53"]}\n${TAIL}`, 'test.yaml', { resolvConf, readFile }))).toEqual([
      "test.yaml:1:1 upstreams.servers: 127.0.0.1:53 (from /fake/resolv.conf) is this proxy's own listen.dns address; forwarding there would loop",
    ]);
  });
});

describe('name patterns in roles', () => {
  it('are lower-cased, lose the trailing dot, and keep "*." as a subtree rule', () => {
    const c = parse(`version: 1\nroles:\n  r:\n    allow: [GitHub.COM., "*.Example.ORG.", github.com]\n` +
      `    deny: ["*.gist.github.com"]\n    private_ok: ["*.corp.internal"]\n` +
      'clients: [{name: a, match: ["10.0.0.1"], role: r}]\n');
    const role = c.roles.get('r');
    expect(role?.allow).toEqual([
      { kind: 'exact', name: 'github.com', source: 'github.com' },
      { kind: 'subtree', name: 'example.org', source: '*.example.org' },
    ]);
    expect(role?.deny).toEqual([{ kind: 'subtree', name: 'gist.github.com', source: '*.gist.github.com' }]);
    expect(role?.privateOk).toEqual([{ kind: 'subtree', name: 'corp.internal', source: '*.corp.internal' }]);
  });

  it('expand a preset into its names, each tagged with the preset', () => {
    const c = parse(`version: 1\nroles: {r: {allow: ["@pypi"]}}\nclients: [{name: a, match: ["10.0.0.1"], role: r}]\n`);
    expect(c.roles.get('r')?.allow).toEqual([
      { kind: 'exact', name: 'pypi.org', source: '@pypi:pypi.org' },
      { kind: 'exact', name: 'files.pythonhosted.org', source: '@pypi:files.pythonhosted.org' },
    ]);
  });

  it('may be shared through YAML anchors', () => {
    const c = parse('version: 1\nroles:\n  a: {allow: &common [pypi.org]}\n  b: {allow: *common}\n' +
      'clients: [{name: a, match: ["10.0.0.1"], role: a}]\n');
    expect(c.roles.get('b')?.allow.map((p) => p.name)).toEqual(['pypi.org']);
  });
});

describe('errors point at the offending key or value', () => {
  const cases: Array<[string, string, string]> = [
    // [what, config text, the one expected line]
    ['missing version', TAIL, 'test.yaml:1:1 missing required key "version"'],
    ['unsupported version', `version: 2\n${TAIL}`, 'test.yaml:1:10 version: unsupported version 2 (this intentdns reads version 1)'],
    ['unknown top-level key', `version: 1\nlisen: {}\n${TAIL}`, 'test.yaml:2:1 unknown key "lisen"'],
    ['unknown nested key', `version: 1\nlisten:\n  dnss: ["127.0.0.1:53"]\n${TAIL}`, 'test.yaml:3:3 unknown key "dnss" in listen'],
    ['unknown key in a client', `version: 1\nclients: [{name: a, match: ["10.0.0.1"], role: r, roel: r}]\nroles: {r: {}}\n`,
      'test.yaml:2:51 unknown key "roel" in clients[0]'],
    ['unknown key in a role', `version: 1\nroles: {r: {alow: [x.org]}}\nclients: [{name: a, match: ["10.0.0.1"], role: r}]\n`,
      'test.yaml:2:13 unknown key "alow" in roles.r'],
    ['section that is not a map', `version: 1\nlisten: ["127.0.0.1:53"]\n${TAIL}`, 'test.yaml:2:9 listen: expected a map'],
    ['list that is a string', `version: 1\nroles: {r: {allow: github.com}}\nclients: [{name: a, match: ["10.0.0.1"], role: r}]\n`,
      'test.yaml:2:20 roles.r.allow: expected a list'],
    ['bad mode', `version: 1\nmode: strict\n${TAIL}`, 'test.yaml:2:7 mode: expected one of enforce, audit, got "strict"'],
    ['bad role mode', `version: 1\nroles: {r: {mode: warn}}\nclients: [{name: a, match: ["10.0.0.1"], role: r}]\n`,
      'test.yaml:2:19 roles.r.mode: expected one of enforce, audit, got "warn"'],
    ['bad client mode', `version: 1\nclients:\n  - {name: a, match: ["10.0.0.1"], role: r, mode: Audit}\nroles: {r: {}}\n`,
      'test.yaml:3:51 clients[0].mode: expected one of enforce, audit, got "Audit"'],
    ['a mode that is not a string', `version: 1\nclients:\n  - {name: a, match: ["10.0.0.1"], role: r, mode: [audit]}\nroles: {r: {}}\n`,
      'test.yaml:3:51 clients[0].mode: expected a string'],
    ['duration in words', `version: 1\nupstreams:\n  timeout: 5 seconds\n${TAIL}`,
      'test.yaml:3:12 upstreams.timeout: "5 seconds" is not a duration; write a whole number and a unit (ms, s, m, h), as in 500ms or 10m'],
    ['duration without unit', `version: 1\nupstreams:\n  timeout: 1500\n${TAIL}`, 'test.yaml:3:12 upstreams.timeout: expected a string'],
    ['negative duration', `version: 1\nsinkhole:\n  ttl: -5s\n${TAIL}`, 'test.yaml:3:8 sinkhole.ttl: "-5s" is negative; durations must be zero or more'],
    ['zero timeout', `version: 1\nupstreams:\n  timeout: 0ms\n${TAIL}`, 'test.yaml:3:12 upstreams.timeout: "0ms" must be more than zero'],
    ['unknown upstream strategy', `version: 1\nupstreams:\n  strategy: random\n${TAIL}`,
      'test.yaml:3:13 upstreams.strategy: expected one of ordered, fastest, got "random"'],
    ['TTL in milliseconds', `version: 1\nanswers:\n  max_ttl: 1500ms\n${TAIL}`,
      'test.yaml:3:12 answers.max_ttl: "1500ms" is not a whole number of seconds (DNS TTLs count seconds)'],
    ['yes is not a boolean', `version: 1\nanswers:\n  block_private: yes\n${TAIL}`, 'test.yaml:3:18 answers.block_private: expected true or false'],
    ['zero cache', `version: 1\ncache:\n  max_entries: 0\n${TAIL}`, 'test.yaml:3:16 cache.max_entries: expected a positive whole number'],
    ['cache size in decimal units', `version: 1\ncache:\n  max_bytes: 64MB\n${TAIL}`,
      'test.yaml:3:14 cache.max_bytes: "64MB" is not a size; write a whole number and a unit (KiB, MiB, GiB), as in 64MiB'],
    ['cache size without unit', `version: 1\ncache:\n  max_bytes: 67108864\n${TAIL}`,
      'test.yaml:3:14 cache.max_bytes: 67108864 has no unit; write a size such as 64MiB (units KiB, MiB, GiB)'],
    ['zero cache size', `version: 1\ncache:\n  max_bytes: 0MiB\n${TAIL}`, 'test.yaml:3:14 cache.max_bytes: "0MiB" must be more than zero'],
    ['zero holds per agent', `version: 1\napproval:\n  url: "http://127.0.0.1:8080"\n  max_pending_holds_per_agent: 0\n${TAIL}`,
      'test.yaml:4:32 approval.max_pending_holds_per_agent: expected a positive whole number'],
    ['negative client_qps', `version: 1\nlimits:\n  client_qps: -1\n${TAIL}`, 'test.yaml:3:15 limits.client_qps: expected a whole number, 0 or more'],
    ['fractional client_burst', `version: 1\nlimits:\n  client_burst: 1.5\n${TAIL}`, 'test.yaml:3:17 limits.client_burst: expected a whole number, 0 or more'],
    ['unknown over_limit', `version: 1\nlimits:\n  over_limit: servfail\n${TAIL}`,
      'test.yaml:3:15 limits.over_limit: expected one of drop, refuse, got "servfail"'],
    ['zero unknown_qps', `version: 1\nlimits:\n  unknown_qps: 0\n${TAIL}`, 'test.yaml:3:16 limits.unknown_qps: expected a positive whole number'],
    ['zero tcp_idle_timeout', `version: 1\nlimits:\n  tcp_idle_timeout: 0s\n${TAIL}`, 'test.yaml:3:21 limits.tcp_idle_timeout: "0s" must be more than zero'],
    ['unknown key in limits', `version: 1\nlimits:\n  client_rate: 5\n${TAIL}`, 'test.yaml:3:3 unknown key "client_rate" in limits'],
    ['unbracketed IPv6', `version: 1\nlisten:\n  dns: ["::1:5353"]\n${TAIL}`,
      'test.yaml:3:9 listen.dns[0]: "::1:5353": IPv6 addresses need brackets around the address, as in "[::1]:5353"'],
    ['host name instead of address', `version: 1\nlisten:\n  http: "localhost:9153"\n${TAIL}`,
      'test.yaml:3:9 listen.http: "localhost:9153": the host must be an IP address'],
    ['port out of range', `version: 1\nlisten:\n  dns: ["127.0.0.1:70000"]\n${TAIL}`,
      'test.yaml:3:9 listen.dns[0]: "127.0.0.1:70000": port must be a number from 1 to 65535'],
    ['listen without port', `version: 1\nlisten:\n  dns: ["[::1]"]\n${TAIL}`, 'test.yaml:3:9 listen.dns[0]: "[::1]" has no port, as in "[::1]:5353"'],
    ['duplicate listen address', `version: 1\nlisten:\n  dns: ["127.0.0.1:5353", "127.0.0.1:5353"]\n${TAIL}`,
      'test.yaml:3:27 listen.dns[1]: "127.0.0.1:5353" is listed twice'],
    ['zero workers', `version: 1\nlisten:\n  workers: 0\n${TAIL}`, 'test.yaml:3:12 listen.workers: expected auto or a whole number from 1 to 64'],
    ['too many workers', `version: 1\nlisten:\n  workers: 65\n${TAIL}`, 'test.yaml:3:12 listen.workers: expected auto or a whole number from 1 to 64'],
    ['workers as a word', `version: 1\nlisten:\n  workers: all\n${TAIL}`, 'test.yaml:3:12 listen.workers: expected auto or a whole number from 1 to 64'],
    ['empty listen list', `version: 1\nlisten:\n  dns: []\n${TAIL}`, 'test.yaml:3:8 listen.dns: needs at least one address'],
    ['http on a DNS address', `version: 1\nlisten:\n  dns: ["127.0.0.1:9153"]\n${TAIL}`,
      'test.yaml:3:3 listen.http: "127.0.0.1:9153" (the default) is also a listen.dns address'],
    ['no clients', 'version: 1\nroles: {r: {}}\n', 'test.yaml:1:1 missing required key "clients"'],
    ['empty clients', 'version: 1\nclients: []\n', 'test.yaml:2:10 clients: needs at least one client (unmatched sources are refused)'],
    ['client without role', 'version: 1\nclients:\n  - name: a\n    match: ["10.0.0.1"]\n', 'test.yaml:3:5 missing required key "role" in clients[0]'],
    ['undefined role', `version: 1\nclients:\n  - {name: a, match: ["10.0.0.1"], role: codeing}\nroles: {coding: {}}\n`,
      'test.yaml:3:42 clients[0].role: undefined role "codeing" (defined: coding)'],
    ['unknown placeholder', `version: 1\nclients:\n  - {name: "ci-{host}", match: ["10.0.0.1"], role: r}\nroles: {r: {}}\n`,
      'test.yaml:3:12 clients[0].name: unknown placeholder "{host}" (only {ip} is supported)'],
    ['empty client name', `version: 1\nclients:\n  - {name: "", match: ["10.0.0.1"], role: r}\nroles: {r: {}}\n`,
      'test.yaml:3:12 clients[0].name: must not be empty'],
    ['host bits set', `version: 1\nclients:\n  - {name: a, match: ["10.20.1.5/24"], role: r}\nroles: {r: {}}\n`,
      'test.yaml:3:23 clients[0].match[0]: "10.20.1.5/24" has host bits set; did you mean "10.20.1.0/24"?'],
    ['IPv6 host bits set', `version: 1\nclients:\n  - {name: a, match: ["fd00:20:1::7/64"], role: r}\nroles: {r: {}}\n`,
      'test.yaml:3:23 clients[0].match[0]: "fd00:20:1::7/64" has host bits set; did you mean "fd00:20:1::/64"?'],
    ['unknown preset', `version: 1\nroles: {r: {allow: ["@nmp"]}}\nclients: [{name: a, match: ["10.0.0.1"], role: r}]\n`,
      'test.yaml:2:21 roles.r.allow[0]: unknown preset "@nmp" (built-in: @crates, @debian, @docker, @github, @go, @npm, @pypi, @rubygems)'],
    ['partial wildcard', `version: 1\nroles: {r: {deny: ["foo*.example.org"]}}\nclients: [{name: a, match: ["10.0.0.1"], role: r}]\n`,
      'test.yaml:2:20 roles.r.deny[0]: "foo*.example.org": "*" is only allowed as the whole first label, as in "*.example.org"'],
    ['invalid characters', `version: 1\nroles: {r: {private_ok: ["ex ample.org"]}}\nclients: [{name: a, match: ["10.0.0.1"], role: r}]\n`,
      'test.yaml:2:26 roles.r.private_ok[0]: "ex ample.org" may only contain letters, digits, "_", "-" and dots'],
    ['unknown qtype', `version: 1\nroles: {r: {qtypes: [A, AAAAA]}}\nclients: [{name: a, match: ["10.0.0.1"], role: r}]\n`,
      'test.yaml:2:25 roles.r.qtypes[1]: unknown query type "AAAAA"'],
    ['empty qtypes', `version: 1\nroles: {r: {qtypes: []}}\nclients: [{name: a, match: ["10.0.0.1"], role: r}]\n`,
      'test.yaml:2:21 roles.r.qtypes: must not be empty (leave it out to allow every type)'],
    ['bad unlisted', `version: 1\nroles: {r: {unlisted: ask}}\nclients: [{name: a, match: ["10.0.0.1"], role: r}]\n`,
      'test.yaml:2:23 roles.r.unlisted: expected one of forward, sinkhole, hold, got "ask"'],
    ['bad sinkhole response', `version: 1\nsinkhole: {response: servfail}\n${TAIL}`,
      'test.yaml:2:22 sinkhole.response: expected one of nxdomain, nodata, refused, null-ip, got "servfail"'],
    ['sinkhole hint not ASCII', `version: 1\nsinkhole: {hint: "frag den Prüfer"}\n${TAIL}`,
      'test.yaml:2:18 sinkhole.hint: must be printable ASCII'],
    ['bad log level', `version: 1\nlog: {level: verbose}\n${TAIL}`,
      'test.yaml:2:14 log.level: expected one of fatal, error, warn, info, debug, trace, silent, got "verbose"'],
    ['approval without url', `version: 1\napproval:\n  grant_ttl: 5m\n${TAIL}`, 'test.yaml:3:3 missing required key "url" in approval'],
    ['approval url not http', `version: 1\napproval: {url: "ftp://approve.example.org"}\n${TAIL}`,
      'test.yaml:2:17 approval.url: "ftp://approve.example.org" must be an http:// or https:// URL'],
    ['approval url with credentials', `version: 1\napproval: {url: "https://u:p@approve.example.org"}\n${TAIL}`,
      'test.yaml:2:17 approval.url: must not contain credentials; use token_file'],
    ['upstream loop', `version: 1\nupstreams: {servers: ["127.0.0.1:5353"]}\n${TAIL}`,
      "test.yaml:2:23 upstreams.servers[0]: 127.0.0.1:5353 is this proxy's own listen.dns address; forwarding there would loop"],
    ['YAML duplicate key', `version: 1\nlisten:\n  http: null\n  http: "127.0.0.1:80"\n${TAIL}`, 'test.yaml:4:3 duplicate key "http"'],
    ['YAML unknown alias', `version: 1\nroles: {r: {allow: *nope}}\nclients: [{name: a, match: ["10.0.0.1"], role: r}]\n`,
      'test.yaml:2:20 unknown anchor "*nope"'],
  ];

  it.each(cases)('%s', (_what, text, expected) => {
    expect(errorsOf(text)).toEqual([expected]);
  });

  it('reports YAML syntax errors with their position and stops there', () => {
    const lines = errorsOf('version: 1\nlisten: {dns: ["127.0.0.1:53"]\nmode: nope\n');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines[0]).toMatch(/^test\.yaml:\d+:\d+ \S/);
    expect(lines.join('\n')).not.toContain('mode');
  });

  it('reports every problem of a file in file order, not just the first', () => {
    const file = join(FIXTURES, 'several-errors.yaml');
    const err = (() => {
      try {
        loadConfig(file, { resolvConf: RESOLV });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toBeInstanceOf(IntentdnsError);
    expect((err as ConfigError).code).toBe('IDNS_ERR_CONFIG');
    expect((err as ConfigError).format().split('\n')).toEqual([
      `${file}:2:7 mode: expected one of enforce, audit, got "enforcing"`,
      `${file}:5:3 unknown key "htp" in listen`,
      `${file}:7:24 upstreams.servers[1]: "dns.google:53": the host must be an IP address`,
      `${file}:8:12 upstreams.timeout: "2 s" is not a duration; write a whole number and a unit (ms, s, m, h), as in 500ms or 10m`,
      `${file}:11:13 clients[0].match[0]: "10.20.1.5/24" has host bits set; did you mean "10.20.1.0/24"?`,
      `${file}:12:11 clients[0].role: undefined role "biulder" (defined: builder)`,
      `${file}:15:30 roles.builder.allow[1]: "a.*.example.org": "*" is only allowed as the whole first label, as in "*.example.org"`,
      `${file}:15:49 roles.builder.allow[2]: unknown preset "@nmp" (built-in: @crates, @debian, @docker, @github, @go, @npm, @pypi, @rubygems)`,
      `${file}:16:23 roles.builder.qtypes[2]: unknown query type "HTTPZ"`,
    ]);
    expect((err as ConfigError).issues[0]).toEqual({ file, line: 2, col: 7, message: 'mode: expected one of enforce, audit, got "enforcing"' });
  });

  it('reports a config file that cannot be read without a position', () => {
    const file = resolve(FIXTURES, 'no-such.yaml');
    expect(issuesOf(() => loadConfig(file))).toEqual([`${file}: cannot read config file: ENOENT`]);
  });

  it('reports an empty file as missing its required keys', () => {
    expect(errorsOf('')).toEqual(['test.yaml:1:1 missing required key "version"', 'test.yaml:1:1 missing required key "clients"']);
  });
});

