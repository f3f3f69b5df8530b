/**
 * Reloads that parse in a worker thread (src/config/parse-worker.ts), over
 * real files: the new config is applied; a bad one is refused with exactly
 * the FILE:LINE:COL lines an in-thread parse gives, the running config kept;
 * a worker that crashes, ends without answering or overruns its deadline
 * fails the reload; close() stops a parse in progress.
 *
 * Under vitest this module runs from its TypeScript source, which a worker
 * thread cannot load, so the worker here is the compiled one in dist/
 * (rebuilt first when src/ is newer, as the tests of `intentdns serve` do).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { PARSE_WORKER_ENTRY } from '../../src/config/parse-worker.js';
import { loadConfigFile, Reloader, type ReloaderOptions, type ReloadTarget } from '../../src/config/reload.js';
import type { LoadOptions } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { dedent } from '../helpers/proxy.js';
import { ensureBuilt } from '../helpers/serve-process.js';

const BASE = dedent(`
  version: 1
  listen: { dns: ["127.0.0.1:5353"], http: null }
  upstreams: { servers: ["127.0.0.1:5300"] }
  clients: [{ name: ci-1, match: ["127.0.0.1/32"], role: coding }]
  roles:
    coding: { allow: [github.com], deny: ["*.evil.example"], unlisted: sinkhole }
`);
const FAILED = 'config reload failed; keeping the running config';
const FIXTURES = new URL('../fixtures/workers/', import.meta.url);

type LogLine = Record<string, unknown> & { msg: string; level: number };

let entry: URL;
let dir: string;
let file: string;
let logs: LogLine[];
let metrics: Metrics;
let target: ReloadTarget & { config: Config; applied: Config[] };
/** Of BASE, the running config. */
let digest: string;
const reloaders: Reloader[] = [];

beforeAll(async () => {
  const main = await ensureBuilt();
  entry = pathToFileURL(join(main, '..', 'config', 'parse-worker-main.js'));
}, 120_000);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'intentdns-reload-worker-'));
  file = join(dir, 'intentdns.yaml');
  writeFileSync(file, BASE);
  logs = [];
  metrics = new Metrics({ perAgent: false, version: 'test' });
  const loaded = loadConfigFile(file);
  const { config } = loaded;
  digest = loaded.digest;
  target = {
    config,
    applied: [],
    async reload(next) {
      this.config = next;
      this.applied.push(next);
    },
  };
});
afterEach(async () => {
  await Promise.all(reloaders.splice(0).map((r) => r.close()));
  rmSync(dir, { recursive: true, force: true });
});

function reloader(worker: NonNullable<ReloaderOptions['worker']>, load?: LoadOptions): Reloader {
  const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const r = new Reloader({ file, digest, target, log, metrics, worker, ...(load && { load }) });
  reloaders.push(r);
  return r;
}

const lines = (msg: string): LogLine[] => logs.filter((l) => l.msg === msg);

async function reloads(): Promise<Record<string, number>> {
  const { values } = await metrics.configReloads.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.result), v.value]));
}

/** The `errors` an in-thread reload logs for the file as it is now. */
async function inThreadErrors(): Promise<unknown> {
  const before = logs.length;
  expect(await reloader({ entry: null }).reload('signal')).toBe('failed');
  return logs.slice(before).find((l) => l.msg === FAILED)?.errors;
}

describe('a reload parsed in the worker', () => {
  it('runs from its TypeScript source here, where the default entry is none (in-thread)', () => {
    expect(PARSE_WORKER_ENTRY).toBeNull();
  });

  it('applies the new config, equal to what an in-thread parse gives', async () => {
    writeFileSync(file, BASE.replace('[github.com]', '[github.com, "@npm", "*.pypi.org"]'));
    expect(await reloader({ entry }).reload('file')).toBe('applied');
    expect(lines('config parsed in a worker thread')).toHaveLength(1);
    expect(lines('config reloaded')).toEqual([expect.objectContaining({ config: file, reason: 'file' })]);
    expect(target.config).toStrictEqual(loadConfigFile(file).config);
    expect(target.config.roles.get('coding')!.allow.map((p) => p.source)).toContain('@npm:registry.npmjs.org');
    expect(await reloads()).toEqual({ success: 1, failure: 0 });
  });

  it('a bad config: the same FILE:LINE:COL lines as in-thread, the running config kept, a failure counted', async () => {
    const running = target.config;
    writeFileSync(file, `${BASE.replace('version: 1', 'version: 2').replace('unlisted: sinkhole', 'unlisted: maybe')}bogus: true\n`);
    expect(await reloader({ entry }).reload('file')).toBe('failed');
    const [failed] = lines(FAILED);
    expect(failed).toMatchObject({ level: 50, config: file, reason: 'file' });
    expect(failed).not.toHaveProperty('err');
    expect(failed!.errors).toEqual([
      `${file}:1:10 version: unsupported version 2 (this intentdns reads version 1)`,
      expect.stringMatching(new RegExp(`^${escape(file)}:6:\\d+ .*unlisted.*maybe`)),
      `${file}:7:1 unknown key "bogus"`,
    ]);
    expect(failed!.errors).toEqual(await inThreadErrors());
    expect(target.config).toBe(running);
    expect(target.applied).toHaveLength(0);
  });

  it('a YAML syntax error and a missing file read as they do in-thread', async () => {
    writeFileSync(file, 'version: 1\nroles: { coding: [\n');
    expect(await reloader({ entry }).reload('signal')).toBe('failed');
    expect(lines(FAILED)[0]!.errors).toEqual(await inThreadErrors());
    expect((lines(FAILED)[0]!.errors as string[])[0]).toMatch(new RegExp(`^${escape(file)}:3:1 `));

    logs.length = 0;
    rmSync(file);
    expect(await reloader({ entry }).reload('signal')).toBe('failed');
    expect(lines(FAILED)[0]!.errors).toEqual([`${file}: cannot read config file: ENOENT`]);
  });

  it('an injected readFile cannot cross to a worker: that reload parses in-thread', async () => {
    const r = reloader({ entry: new URL('throws.mjs', FIXTURES) }, { readFile: () => BASE.replace('[github.com]', '[gitlab.com]') });
    expect(await r.reload('signal')).toBe('applied');
    expect(lines('config parsed in a worker thread')).toHaveLength(0);
    expect(target.config.roles.get('coding')!.allow.map((p) => p.source)).toEqual(['gitlab.com']);
  });
});

describe('a worker that fails: the reload fails, the running config stays', () => {
  const changed = (): void => writeFileSync(file, BASE.replace('[github.com]', '[gitlab.com]'));

  it.each([
    ['crashes', 'throws.mjs', 'the config parse worker failed: boom in the worker'],
    ['ends without answering', 'exits.mjs', 'the config parse worker exited (code 3) before it answered'],
  ])('one that %s', async (_what, script, message) => {
    const running = target.config;
    changed();
    expect(await reloader({ entry: new URL(script, FIXTURES) }).reload('signal')).toBe('failed');
    expect(lines(FAILED)).toEqual([expect.objectContaining({ level: 50, errors: [message] })]);
    expect(target.config).toBe(running);
    expect(await reloads()).toEqual({ success: 0, failure: 1 });
  });

  it('one that overruns its deadline is stopped', async () => {
    const running = target.config;
    changed();
    const began = Date.now();
    expect(await reloader({ entry: new URL('hangs.mjs', FIXTURES), timeoutMs: 300 }).reload('signal')).toBe('failed');
    expect(Date.now() - began).toBeLessThan(5000);
    expect(lines(FAILED)[0]!.errors).toEqual(['parsing the config took longer than 300 ms; the parse worker was stopped']);
    expect(target.config).toBe(running);
  });

  it('close() stops a parse in progress: the reload ends as closed, not as a failure', async () => {
    changed();
    const r = reloader({ entry: new URL('hangs.mjs', FIXTURES) });
    const outcome = r.reload('signal');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const began = Date.now();
    await r.close();
    expect(Date.now() - began).toBeLessThan(5000);
    expect(await outcome).toBe('closed');
    expect(lines(FAILED)).toHaveLength(0);
    expect(lines('config reload stopped: shutting down')).toHaveLength(1);
    expect(await reloads()).toEqual({ success: 0, failure: 0 });
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
