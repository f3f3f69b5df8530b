/**
 * The Reloader over real files, with a fake server: what is applied, what is
 * refused and how that is logged and counted, what is skipped as unchanged,
 * and that triggers never overlap.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { loadConfigFile, Reloader, restartOnlyChanges, type ReloadTarget } from '../../src/config/reload.js';
import type { Config } from '../../src/config/types.js';
import { ListenError } from '../../src/receive/index.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { dedent } from '../helpers/proxy.js';

const BASE = dedent(`
  version: 1
  listen: { dns: ["127.0.0.1:5353"], http: null }
  upstreams: { servers: ["127.0.0.1:5300"] }
  clients: [{ name: ci-1, match: ["127.0.0.1/32"], role: coding }]
  roles:
    coding: { allow: [github.com] }
`);

type LogLine = Record<string, unknown> & { msg: string; level: number };

/** Stands in for the Server: records each reload, can be held up or made to fail. */
class FakeServer implements ReloadTarget {
  config: Config;
  readonly applied: Config[] = [];
  active = 0;
  maxActive = 0;
  failWith: Error | null = null;
  #gate: { promise: Promise<void>; open: () => void } | null = null;

  constructor(config: Config) {
    this.config = config;
  }

  /** Reloads wait until open() is called. */
  hold(): { open: () => void } {
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    this.#gate = { promise, open };
    return { open: () => { this.#gate = null; open(); } };
  }

  async reload(config: Config): Promise<void> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await this.#gate?.promise;
      if (this.failWith) throw this.failWith;
      this.config = config;
      this.applied.push(config);
    } finally {
      this.active--;
    }
  }
}

let dir: string;
let file: string;
let logs: LogLine[];
let metrics: Metrics;
let server: FakeServer;
let reloader: Reloader;

function write(yaml: string): void {
  writeFileSync(file, yaml);
}

function allowOf(config: Config): string[] {
  return config.roles.get('coding')!.allow.map((p) => p.source);
}

async function reloads(): Promise<Record<string, number>> {
  const { values } = await metrics.configReloads.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.result), v.value]));
}

const lines = (msg: string): LogLine[] => logs.filter((l) => l.msg === msg);
const FAILED = 'config reload failed; keeping the running config';

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'intentdns-reload-'));
  file = join(dir, 'intentdns.yaml');
  write(BASE);
  logs = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  metrics = new Metrics({ perAgent: false, version: 'test' });
  const { config, digest } = loadConfigFile(file);
  server = new FakeServer(config);
  reloader = new Reloader({ file, digest, target: server, log, metrics });
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('Reloader: a valid change', () => {
  it('is applied whole, counted as a success with its time, and logged with its reason', async () => {
    expect(await reloads()).toEqual({ success: 0, failure: 0 });
    const before = Date.now() / 1000;
    write(BASE.replace('[github.com]', '[github.com, "*.npmjs.org"]'));
    expect(await reloader.reload('file')).toBe('applied');
    expect(allowOf(server.config)).toEqual(['github.com', '*.npmjs.org']);
    expect(await reloads()).toEqual({ success: 1, failure: 0 });
    const stamp = (await metrics.configLastReloadSuccess.get()).values[0]!.value;
    expect(stamp).toBeGreaterThanOrEqual(before - 0.001);
    expect(lines('config reloaded')).toEqual([expect.objectContaining({ level: 30, config: file, reason: 'file' })]);
  });

  it('names settings that only a restart applies (cache.max_entries, cache.max_bytes, metrics.per_agent), still applying the rest', async () => {
    write(`${BASE}cache: { max_entries: 10, max_bytes: 1MiB }\nmetrics: { per_agent: true }\n`.replace('[github.com]', '[gitlab.com]'));
    expect(await reloader.reload('signal')).toBe('applied');
    expect(allowOf(server.config)).toEqual(['gitlab.com']);
    const warn = logs.find((l) => l.level === 40);
    expect(warn).toMatchObject({ settings: ['cache.max_entries', 'cache.max_bytes', 'metrics.per_agent'] });
    expect(warn?.msg).toBe('changed settings take effect at the next restart: cache.max_entries, cache.max_bytes, metrics.per_agent');
    // Still pending on the next reload, because the server still runs with the old ones.
    write(`${BASE}cache: { max_entries: 10, max_bytes: 1MiB }\nmetrics: { per_agent: true }\n`);
    await reloader.reload('signal');
    expect(logs.filter((l) => l.level === 40)).toHaveLength(2);
  });
});

describe('Reloader: a change that cannot be applied', () => {
  it('an invalid config: the running config stays; FILE:LINE:COL lines logged; counted as a failure', async () => {
    const running = server.config;
    write(`${BASE.replace('version: 1', 'version: 2')}bogus: true\n`);
    expect(await reloader.reload('file')).toBe('failed');
    expect(server.config).toBe(running);
    expect(server.applied).toHaveLength(0);
    expect(await reloads()).toEqual({ success: 0, failure: 1 });
    const [failed] = lines(FAILED);
    expect(failed).toMatchObject({ level: 50, config: file, reason: 'file' });
    expect(failed!.errors).toEqual([
      `${file}:1:10 version: unsupported version 2 (this intentdns reads version 1)`,
      `${file}:7:1 unknown key "bogus"`,
    ]);
  });

  it('a YAML syntax error names its line and column', async () => {
    writeFileSync(file, 'version: 1\nroles: { coding: [\n');
    expect(await reloader.reload('signal')).toBe('failed');
    const errors = lines(FAILED)[0]!.errors as string[];
    expect(errors.length).toBeGreaterThan(0);
    for (const line of errors) expect(line).toMatch(new RegExp(`^${escape(file)}:3:1 `));
  });

  it('a missing file fails with the reason (on SIGHUP; the watcher waits for it instead)', async () => {
    rmSync(file);
    expect(await reloader.reload('signal')).toBe('failed');
    expect(lines(FAILED)[0]!.errors).toEqual([`${file}: cannot read config file: ENOENT`]);
  });

  it('the server refusing it (a token file, a listen address): its message is the error; nothing applied', async () => {
    write(BASE.replace('127.0.0.1:5353', '127.0.0.1:5354'));
    server.failWith = new ListenError('127.0.0.1:5354', 'udp', Object.assign(new Error('bind'), { code: 'EADDRINUSE' }));
    expect(await reloader.reload('signal')).toBe('failed');
    expect(lines(FAILED)[0]).toMatchObject({ errors: ['cannot listen on 127.0.0.1:5354 (udp): EADDRINUSE'] });
    expect(lines(FAILED)[0]).not.toHaveProperty('err');
    expect(await reloads()).toEqual({ success: 0, failure: 1 });
  });

  it('an unexpected fault is logged with its stack, counted, and does not reject', async () => {
    write(BASE.replace('[github.com]', '[gitlab.com]'));
    server.failWith = new TypeError('boom');
    expect(await reloader.reload('signal')).toBe('failed');
    expect(lines(FAILED)[0]).toMatchObject({ errors: ['boom'], err: { type: 'TypeError', message: 'boom' } });
  });
});

describe('Reloader: unchanged bytes', () => {
  it('a file event with the bytes already running is skipped (not counted); SIGHUP reloads anyway', async () => {
    write(BASE);
    expect(await reloader.reload('file')).toBe('unchanged');
    expect(server.applied).toHaveLength(0);
    expect(lines('config file unchanged; not reloaded')).toHaveLength(1);
    expect(await reloads()).toEqual({ success: 0, failure: 0 });
    expect(await reloader.reload('signal')).toBe('applied');
    expect(await reloads()).toEqual({ success: 1, failure: 0 });
  });

  it('the same broken bytes are reported once per change, not once per event; SIGHUP tries again', async () => {
    write('version: 1\nbogus: 1\n');
    expect(await reloader.reload('file')).toBe('failed');
    expect(await reloader.reload('file')).toBe('unchanged');
    expect(lines(FAILED)).toHaveLength(1);
    expect(await reloader.reload('signal')).toBe('failed');
    expect(await reloads()).toEqual({ success: 0, failure: 2 });
    write(BASE.replace('[github.com]', '[gitlab.com]'));
    expect(await reloader.reload('file')).toBe('applied');
  });
});

describe('Reloader: triggers while a reload runs', () => {
  it('never two at once: triggers during a reload fold into one more, which reads the file as it is by then', async () => {
    const gate = server.hold();
    write(BASE.replace('[github.com]', '[one.example]'));
    const first = reloader.reload('file');
    write(BASE.replace('[github.com]', '[two.example]'));
    const second = reloader.reload('file');
    write(BASE.replace('[github.com]', '[three.example]'));
    const third = reloader.reload('file');
    expect(third).toBe(second);
    gate.open();
    expect(await first).toBe('applied');
    expect(await second).toBe('applied');
    expect(server.maxActive).toBe(1);
    expect(server.applied.map(allowOf)).toEqual([['one.example'], ['three.example']]);
  });

  it('a SIGHUP folded with file events still reloads unchanged bytes', async () => {
    const gate = server.hold();
    write(BASE.replace('[github.com]', '[one.example]'));
    const first = reloader.reload('file');
    const folded = reloader.reload('file');
    void reloader.reload('signal');
    gate.open();
    await first;
    // The file did not change after the first reload read it: only the signal makes the second one run.
    expect(await folded).toBe('applied');
    expect(server.applied).toHaveLength(2);
  });

  it('close() waits for the running reload; later triggers do nothing', async () => {
    const gate = server.hold();
    write(BASE.replace('[github.com]', '[one.example]'));
    const running = reloader.reload('signal');
    const queued = reloader.reload('signal');
    let closed = false;
    const closing = reloader.close().then(() => (closed = true));
    await Promise.resolve();
    expect(closed).toBe(false);
    gate.open();
    await closing;
    expect(await running).toBe('applied');
    expect(await queued).toBe('closed');
    expect(await reloader.reload('signal')).toBe('closed');
    expect(server.applied).toHaveLength(1);
  });
});

describe('restartOnlyChanges', () => {
  it('lists only the settings a running server cannot change', () => {
    const { config } = loadConfigFile(file);
    expect(restartOnlyChanges(config, { ...config, mode: 'audit', log: { level: 'debug', queries: 'none' } })).toEqual([]);
    expect(restartOnlyChanges(config, { ...config, cache: { ...config.cache, maxEntries: 1 } })).toEqual(['cache.max_entries']);
    expect(restartOnlyChanges(config, { ...config, cache: { ...config.cache, maxBytes: 1024 } })).toEqual(['cache.max_bytes']);
    expect(restartOnlyChanges(config, { ...config, listen: { ...config.listen, workers: 4 } })).toEqual(['listen.workers']);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
