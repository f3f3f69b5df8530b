/**
 * Hot reload end to end: a real config file in a temp directory, the watcher
 * and the Reloader as `serve` wires them, and the proxy answering over real
 * sockets. The ways a file changes in practice (edited, replaced by an
 * editor, swapped by Kubernetes), bad edits, debouncing, state that must
 * survive, listen changes, and SIGHUP to a real `intentdns serve`.
 *
 * In-process, the proxy listens on port 0 (test/helpers/proxy.ts), which a
 * config file cannot say; the server there is reloaded through an adapter that
 * keeps the running `listen`. Listen changes are tested on Server.reload
 * directly, and the whole path, listen included, on the spawned process.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createSocket, type Socket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { loadConfigFile, Reloader, type ReloadTarget } from '../../src/config/reload.js';
import type { HostPort } from '../../src/config/types.js';
import { watchConfig } from '../../src/config/watch.js';
import { ListenError } from '../../src/receive/index.js';
import type { Server } from '../../src/server.js';
import { createLogger } from '../../src/telemetry/log.js';
import { startApprovalProxy, type ApprovalProxy } from '../helpers/approval-proxy.js';
import type { Zone } from '../helpers/authority.js';
import { startAuthority } from '../helpers/authority.js';
import { udpExchange } from '../helpers/client.js';
import { decodePacket, queryBytes } from '../helpers/packets.js';
import { addresses, dedent, startProxy, type LogLine, type Proxy } from '../helpers/proxy.js';
import { freePorts, spawnServe } from '../helpers/serve-process.js';
import { delay, waitFor } from '../helpers/wait-for.js';

const ZONE: Zone = {
  'github.com': [{ type: 'A', data: '140.82.121.3', ttl: 300 }],
  'registry.npmjs.org': [{ type: 'A', data: '104.16.1.35', ttl: 300 }],
  'api.example.com': [{ type: 'A', data: '198.51.100.20', ttl: 300 }],
  'held.example.com': [{ type: 'A', data: '198.51.100.21', ttl: 300 }],
};

/** The policy under test; `allow` is what edits change. */
function policy(allow: string, extra = ''): string {
  return dedent(`
    version: 1
    upstreams: { servers: UPSTREAMS, timeout: 500ms }
    answers: { block_private: false }
    clients: [{ name: ci-1, match: ["127.0.0.1/32"], role: coding }]
    roles:
      coding: { allow: [${allow}], unlisted: sinkhole }
  `) + extra;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'intentdns-e2e-reload-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

type Layout = 'plain' | 'kubernetes';

interface Reloading {
  readonly file: string;
  readonly reloader: Reloader;
  /** The Reloader's and watcher's log lines. */
  readonly lines: LogLine[];
  /** Waits until `n` reloads have been applied in all, or failed in all. */
  applied(n: number): Promise<void>;
  failed(n: number): Promise<void>;
  /** Writes the file in place. */
  edit(text: string): void;
  /** Writes a new file and renames it over (editors, config tools). */
  replace(text: string): void;
  /** Kubernetes: a new timestamped directory, then `..data` swapped to it in one rename. */
  swap(text: string): void;
}

/**
 * A config file for `server` (same text as it runs, with the authorities'
 * addresses), a Reloader on it and a watcher, wired like `serve` does.
 */
function reloading(server: Server, upstreams: string, text: string, layout: Layout = 'plain'): Reloading {
  const dir = tempDir();
  const render = (t: string): string => t.replaceAll('UPSTREAMS', upstreams);
  let version = 0;
  const versionDir = (t: string): string => {
    const name = `..2026_11_24_10_00_0${++version}`;
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'intentdns.yaml'), render(t));
    return name;
  };
  const file = join(dir, 'intentdns.yaml');
  if (layout === 'plain') {
    writeFileSync(file, render(text));
  } else {
    symlinkSync(versionDir(text), join(dir, '..data'));
    symlinkSync('..data/intentdns.yaml', file);
  }

  const lines: LogLine[] = [];
  const log = createLogger('debug', { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  const target: ReloadTarget = {
    get config() {
      return server.config;
    },
    reload: (config) => server.reload({ ...config, listen: server.config.listen }),
  };
  const { digest } = loadConfigFile(file);
  const reloader = new Reloader({ file, digest, target, log, metrics: server.metrics });
  const watcher = watchConfig(file, () => void reloader.reload('file'), { log, debounceMs: 100 });
  cleanups.push(() => {
    watcher.close();
    return reloader.close();
  });
  const count = (msg: string): number => lines.filter((l) => l.msg === msg).length;
  return {
    file,
    reloader,
    lines,
    applied: (n) => waitFor(() => count('config reloaded') >= n, { what: `reload #${n} applied`, timeoutMs: 4000 }).then(() => undefined),
    failed: (n) => waitFor(() => count(FAILED) >= n, { what: `reload #${n} failed`, timeoutMs: 4000 }).then(() => undefined),
    edit: (t) => writeFileSync(file, render(t)),
    replace: (t) => {
      writeFileSync(`${file}.swp`, render(t));
      renameSync(`${file}.swp`, file);
    },
    swap: (t) => {
      const old = version;
      symlinkSync(versionDir(t), join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
      rmSync(join(dir, `..2026_11_24_10_00_0${old}`), { recursive: true });
    },
  };
}

const FAILED = 'config reload failed; keeping the running config';

async function started(allow: string, opts: { http?: boolean } = {}): Promise<Proxy> {
  const proxy = await startProxy({ zone: ZONE, yaml: policy(allow), http: opts.http ?? false });
  cleanups.push(() => proxy.close());
  return proxy;
}

function upstreamsOf(proxy: Proxy): string {
  return `[${proxy.authorities.map((a) => `"${a.hostPort.text}"`).join(', ')}]`;
}

async function reloadCounts(server: Server): Promise<Record<string, number>> {
  const { values } = await server.metrics.configReloads.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.result), v.value]));
}

describe('reload on file change', () => {
  it('an edit in place is applied: a name newly allowed resolves; counted as a success', async () => {
    const proxy = await started('github.com');
    const r = reloading(proxy.server, upstreamsOf(proxy), policy('github.com'));
    expect((await proxy.query('registry.npmjs.org')).log).toMatchObject({ action: 'sinkhole', reason: 'unlisted' });

    r.edit(policy('github.com, "@npm"'));
    await r.applied(1);
    const reply = await proxy.query('registry.npmjs.org');
    expect(addresses(reply.packet)).toEqual(['104.16.1.35']);
    expect(reply.log).toMatchObject({ action: 'forward', reason: 'allowlist', rule: '@npm:registry.npmjs.org' });
    expect(r.lines.find((l) => l.msg === 'config reloaded')).toMatchObject({ config: r.file, reason: 'file' });
    expect(await reloadCounts(proxy.server)).toEqual({ success: 1, failure: 0 });
  });

  it('an invalid edit keeps the running config, logs FILE:LINE:COL and counts a failure; fixing it applies', async () => {
    const proxy = await started('github.com');
    const r = reloading(proxy.server, upstreamsOf(proxy), policy('github.com'));
    const running = proxy.server.config;

    // Line 6 is the role; "unlisted: maybe" is not a choice, and a top-level typo is an unknown key.
    r.edit(policy('github.com, "@npm"', 'upstream: { timeout: 1s }\n').replace('unlisted: sinkhole', 'unlisted: maybe'));
    await r.failed(1);
    const failure = r.lines.find((l) => l.msg === FAILED)!;
    expect(failure).toMatchObject({ level: 50, config: r.file, reason: 'file' });
    expect(failure.errors).toEqual([
      expect.stringMatching(new RegExp(`^${escape(r.file)}:6:\\d+ .*unlisted.*maybe`)),
      `${r.file}:7:1 unknown key "upstream"`,
    ]);
    expect(await reloadCounts(proxy.server)).toEqual({ success: 0, failure: 1 });
    expect(proxy.server.config).toBe(running);
    expect(proxy.server.ready).toBe(true);
    // The old behaviour, on the same listeners.
    expect((await proxy.query('github.com')).log).toMatchObject({ action: 'forward', reason: 'allowlist' });
    expect((await proxy.query('registry.npmjs.org')).log).toMatchObject({ action: 'sinkhole', reason: 'unlisted' });

    r.edit(policy('github.com, "@npm"'));
    await r.applied(1);
    expect((await proxy.query('registry.npmjs.org')).log).toMatchObject({ action: 'forward', reason: 'allowlist' });
    expect(await reloadCounts(proxy.server)).toEqual({ success: 1, failure: 1 });
  });

  it('an editor-style replace (new file renamed over the old) is seen, each time', async () => {
    const proxy = await started('github.com');
    const r = reloading(proxy.server, upstreamsOf(proxy), policy('github.com'));
    r.replace(policy('github.com, "@npm"'));
    await r.applied(1);
    expect((await proxy.query('registry.npmjs.org')).log).toMatchObject({ reason: 'allowlist' });
    r.replace(policy('github.com'));
    await r.applied(2);
    expect((await proxy.query('registry.npmjs.org')).log).toMatchObject({ reason: 'unlisted' });
  });

  it('a Kubernetes ConfigMap update (..data symlink swapped to a new directory) is seen, each time', async () => {
    const proxy = await started('github.com');
    const r = reloading(proxy.server, upstreamsOf(proxy), policy('github.com'), 'kubernetes');
    r.swap(policy('github.com, "@npm"'));
    await r.applied(1);
    expect((await proxy.query('registry.npmjs.org')).log).toMatchObject({ reason: 'allowlist' });
    r.swap(policy('github.com'));
    await r.applied(2);
    expect((await proxy.query('registry.npmjs.org')).log).toMatchObject({ reason: 'unlisted' });
    // An update of another key of the ConfigMap swaps ..data with this file unchanged: nothing to reload.
    r.swap(policy('github.com'));
    await waitFor(() => r.lines.some((l) => l.msg === 'config file unchanged; not reloaded'), { what: 'unchanged swap seen', timeoutMs: 4000 });
    expect(r.lines.filter((l) => l.msg === 'config reloaded')).toHaveLength(2);
  });

  it('debounced: three quick writes are one reload, of the last version', async () => {
    const proxy = await started('github.com');
    const r = reloading(proxy.server, upstreamsOf(proxy), policy('github.com'));
    r.edit(policy('github.com, api.example.com'));
    r.edit(policy('github.com, held.example.com'));
    r.replace(policy('github.com, "@npm"'));
    await r.applied(1);
    // Twice the debounce: long enough for a second reload to have started, if there were one.
    await delay(250);
    expect(r.lines.filter((l) => l.msg === 'config reloaded')).toHaveLength(1);
    const allow = proxy.server.config.roles.get('coding')!.allow.map((p) => p.source);
    expect(allow).toContain('@npm:registry.npmjs.org');
    expect(allow).not.toContain('api.example.com');
    expect(allow).not.toContain('held.example.com');
  });
});

describe('state that survives a reload', () => {
  it('cache, grants, pending holds and quarantine carry over', async () => {
    const ap: ApprovalProxy = await startApprovalProxy({
      zone: ZONE, http: true, approval: { hold_timeout: '3s' }, role: '{ allow: [github.com], unlisted: hold }',
    });
    cleanups.push(() => ap.close());
    const { proxy, service } = ap;
    const yaml = (allow: string): string => dedent(ap.configYaml(`{ allow: [${allow}], unlisted: hold }`));
    const r = reloading(proxy.server, upstreamsOf(proxy), yaml('github.com'));

    // Cache: one upstream query for github.com, before the reload.
    expect((await proxy.query('github.com')).log).toMatchObject({ reason: 'allowlist' });
    // Grant: an approved command opens api.example.com for ci-1.
    service.send('command.approved', {
      id: 'cmd_1', agent: 'ci-1', command: 'curl https://api.example.com/v1', approved_by: 'alice', approved_at: new Date().toISOString(),
    });
    await waitFor(() => proxy.server.grants.activeCount(Date.now()) === 1, { what: 'grant applied' });
    // Quarantine, over the admin API.
    const http = proxy.server.httpAddress()!;
    const res = await fetch(`http://127.0.0.1:${http.port}/v1/agents/ci-2/quarantine`, { method: 'POST' });
    expect(res.status).toBe(200);
    // A hold, pending across the reload.
    const held = proxy.query('held.example.com', 'A', { timeoutMs: 4000 });
    const hold = await ap.holdFor('held.example.com');
    const link = proxy.server.approvals.link;

    r.edit(yaml('github.com, "@npm"'));
    await r.applied(1);
    expect((await proxy.query('registry.npmjs.org')).log).toMatchObject({ reason: 'allowlist' });

    service.send('hold.decided', { hold_id: hold.hold_id, decision: 'allow', scope: 'name', decided_by: 'bob' });
    expect((await held).log).toMatchObject({ reason: 'hold_approved', hold_id: hold.hold_id });
    expect((await proxy.query('github.com')).log).toMatchObject({ reason: 'allowlist' });
    expect(proxy.authority.queries.filter((q) => q.name === 'github.com')).toHaveLength(1);
    expect((await proxy.query('api.example.com')).log).toMatchObject({ reason: 'grant', grant: { id: 'cmd_1' } });
    expect((await proxy.query('github.com', 'A', { from: '127.0.0.2' })).log).toMatchObject({ agent: 'ci-2', action: 'sinkhole', reason: 'quarantine' });
    // Same URL, token and grant_ttl: the event link was kept.
    expect(proxy.server.approvals.link).toBe(link);
  });
});

describe('listen changes', () => {
  const at = (host: string, port = 0): HostPort => ({ host, port, family: 4, text: `${host}:${port}` });
  const ask = (target: HostPort, name = 'github.com'): Promise<Buffer | null> =>
    udpExchange({ host: target.host, port: target.port }, queryBytes({ name }), { timeoutMs: 300 });

  it('apply: a new address is bound and served, a removed one closes, the one kept keeps its socket', async () => {
    const proxy = await started('github.com');
    const first = proxy.server.addresses()[0]!;
    await proxy.server.reload({ ...proxy.server.config, listen: { dns: [at('127.0.0.1'), at('127.0.0.2')], http: null, workers: 1 } });
    const [kept, added] = proxy.server.addresses();
    expect(kept).toEqual(first);
    expect(added).toMatchObject({ host: '127.0.0.2' });
    expect(decodePacket((await ask(added!))!).rcode).toBe('NOERROR');

    await proxy.server.reload({ ...proxy.server.config, listen: { dns: [at('127.0.0.2')], http: null, workers: 1 } });
    expect(proxy.server.addresses()).toEqual([added]);
    expect(await ask(first)).toBeNull();
    expect(decodePacket((await ask(added!))!).rcode).toBe('NOERROR');
  });

  it('all or nothing: when one new address cannot be bound, the others just bound are closed and the running config stays', async () => {
    const proxy = await started('github.com');
    const running = proxy.server.config;
    const before = proxy.server.addresses();
    const blocker: Socket = createSocket('udp4');
    await new Promise<void>((resolve) => blocker.bind(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const taken = blocker.address().port;

    const next = { ...running, listen: { dns: [at('127.0.0.1'), at('127.0.0.3'), at('127.0.0.1', taken)], http: null, workers: 1 } };
    await expect(proxy.server.reload(next)).rejects.toThrow(ListenError);
    await expect(proxy.server.reload(next)).rejects.toThrow(`cannot listen on 127.0.0.1:${taken} (udp): EADDRINUSE`);
    expect(proxy.server.config).toBe(running);
    expect(proxy.server.addresses()).toEqual(before);
    expect(decodePacket((await ask(before[0]!))!).rcode).toBe('NOERROR');
  });

  it('listen.http moves: the new address serves, the old one is closed', async () => {
    const proxy = await started('github.com', { http: true });
    const old = proxy.server.httpAddress()!;
    await proxy.server.reload({ ...proxy.server.config, listen: { ...proxy.server.config.listen, http: at('127.0.0.2') } });
    const moved = proxy.server.httpAddress()!;
    expect(moved.host).toBe('127.0.0.2');
    expect((await fetch(`http://127.0.0.2:${moved.port}/readyz`)).status).toBe(200);
    await expect(fetch(`http://127.0.0.1:${old.port}/readyz`)).rejects.toThrow();
  });
});

describe('intentdns serve: SIGHUP and file changes', () => {
  it('SIGHUP reloads; an edit reloads; a bad edit is refused with FILE:LINE:COL; all counted in /metrics', async () => {
    const authority = await startAuthority({ zone: ZONE });
    cleanups.push(() => authority.stop());
    const dir = tempDir();
    const file = join(dir, 'intentdns.yaml');
    let text = (allow: string): string => allow;
    const { proc, ports } = await spawnServe((p) => {
      text = (allow) => policy(allow, `listen: { dns: ["127.0.0.1:${p.dns}"], http: "127.0.0.1:${p.http}" }\n`)
        .replace('UPSTREAMS', `["${authority.hostPort.text}"]`);
      writeFileSync(file, text('github.com'));
      return file;
    });
    cleanups.push(() => proc.kill());
    const ask = async (name: string): Promise<string> =>
      decodePacket((await udpExchange({ host: '127.0.0.1', port: ports.dns }, queryBytes({ name }), { timeoutMs: 2000 }))!).rcode;
    const counted = async (): Promise<string> => {
      const body = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text();
      return body.split('\n').filter((l) => l.startsWith('intentdns_config_reloads_total{')).sort().join('\n');
    };
    const reloaded = (n: number): Promise<unknown> =>
      waitFor(() => proc.lines.filter((l) => l.msg === 'config reloaded').length >= n || undefined, { what: `reload #${n}`, timeoutMs: 5000 });

    expect(await ask('registry.npmjs.org')).toBe('NXDOMAIN');
    proc.signal('SIGHUP');
    await reloaded(1);
    expect(proc.lines.find((l) => l.msg === 'config reloaded')).toMatchObject({ config: file, reason: 'signal' });

    writeFileSync(`${file}.tmp`, text('github.com, "@npm"'));
    renameSync(`${file}.tmp`, file);
    await reloaded(2);
    expect(proc.lines.filter((l) => l.msg === 'config reloaded')[1]).toMatchObject({ reason: 'file' });
    expect(await ask('registry.npmjs.org')).toBe('NOERROR');

    writeFileSync(file, `${text('github.com')}bogus: 1\n`);
    await waitFor(() => proc.lines.find((l) => l.msg === FAILED), { what: 'failed reload', timeoutMs: 5000 });
    expect(proc.lines.find((l) => l.msg === FAILED)).toMatchObject({ errors: [`${file}:8:1 unknown key "bogus"`] });
    expect(await ask('registry.npmjs.org')).toBe('NOERROR');
    expect(await counted()).toBe([
      'intentdns_config_reloads_total{result="failure"} 1',
      'intentdns_config_reloads_total{result="success"} 2',
    ].join('\n'));

    proc.signal('SIGTERM');
    expect(await proc.exited).toEqual({ code: 0, signal: null });
  }, 30_000);

  it('a listen.dns change in the file binds the new port and closes the old one', async () => {
    const authority = await startAuthority({ zone: ZONE });
    cleanups.push(() => authority.stop());
    const dir = tempDir();
    const file = join(dir, 'intentdns.yaml');
    let write = (_dns: number): void => {};
    const { proc, ports } = await spawnServe((p) => {
      write = (dns) => writeFileSync(file, policy('github.com', `listen: { dns: ["127.0.0.1:${dns}"], http: "127.0.0.1:${p.http}" }\n`)
        .replace('UPSTREAMS', `["${authority.hostPort.text}"]`));
      write(p.dns);
      return file;
    });
    cleanups.push(() => proc.kill());
    const ask = (port: number): Promise<Buffer | null> => udpExchange({ host: '127.0.0.1', port }, queryBytes({ name: 'github.com' }), { timeoutMs: 500 });

    const { dns: next } = await freePorts();
    write(next);
    await waitFor(() => proc.lines.find((l) => l.msg === 'config reloaded'), { what: 'reload', timeoutMs: 5000 });
    expect(proc.lines.filter((l) => l.msg === 'DNS listener added')).toEqual([expect.objectContaining({ address: `127.0.0.1:${next}` })]);
    expect(proc.lines.filter((l) => l.msg === 'DNS listener removed')).toEqual([expect.objectContaining({ address: `127.0.0.1:${ports.dns}` })]);
    expect(decodePacket((await ask(next))!).rcode).toBe('NOERROR');
    expect(await ask(ports.dns)).toBeNull();
  }, 30_000);
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
