/**
 * The config watcher over real files in a temp directory: the ways a config
 * file gets changed in practice (edited in place, replaced by an editor's
 * rename, swapped by Kubernetes through `..data`, relinked), debouncing, and
 * the directory or file going away for a while.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { watchConfig, type ConfigWatcher, type WatchOptions } from '../../src/config/watch.js';
import { delay, waitFor } from '../helpers/wait-for.js';

const DEBOUNCE_MS = 60;
/** Long enough for an event that should not count to have arrived and been debounced. */
const QUIET_MS = DEBOUNCE_MS * 5;

let dir: string;
let watcher: ConfigWatcher | null = null;
let logs: Array<Record<string, unknown>>;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'intentdns-watch-'));
  logs = [];
});
afterEach(() => {
  watcher?.close();
  watcher = null;
  rmSync(dir, { recursive: true, force: true });
});

/** Watches `file`; `calls()` is how many changes were reported so far. */
function watchFile(file: string, opts: Partial<WatchOptions> = {}): { calls: () => number; next: (n: number) => Promise<void> } {
  let calls = 0;
  const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  watcher = watchConfig(file, () => void calls++, { log, debounceMs: DEBOUNCE_MS, retryMs: 50, ...opts });
  return {
    calls: () => calls,
    next: (n) => waitFor(() => calls >= n, { what: `change #${n} reported`, timeoutMs: 3000 }).then(() => undefined),
  };
}

/** Writes a whole new file next to `path` and renames it over, as editors and config tools do. */
function replace(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

describe('watchConfig', () => {
  it('reports an edit in place', async () => {
    const file = join(dir, 'intentdns.yaml');
    writeFileSync(file, 'version: 1\n');
    const w = watchFile(file);
    writeFileSync(file, 'version: 1\nmode: audit\n');
    await w.next(1);
    await delay(QUIET_MS);
    expect(w.calls()).toBe(1);
  });

  it('reports a file an editor replaced (new file renamed over the old one), and keeps watching', async () => {
    const file = join(dir, 'intentdns.yaml');
    writeFileSync(file, 'version: 1\n');
    const w = watchFile(file);
    replace(file, 'version: 1\nmode: audit\n');
    await w.next(1);
    replace(file, 'version: 1\nmode: enforce\n');
    await w.next(2);
  });

  it('ignores other files in the directory', async () => {
    const file = join(dir, 'intentdns.yaml');
    writeFileSync(file, 'version: 1\n');
    const w = watchFile(file);
    writeFileSync(join(dir, 'notes.txt'), 'x');
    replace(join(dir, 'other.yaml'), 'y');
    await delay(QUIET_MS);
    expect(w.calls()).toBe(0);
  });

  it('debounces: three quick writes are one change', async () => {
    const file = join(dir, 'intentdns.yaml');
    writeFileSync(file, 'version: 1\n');
    const w = watchFile(file, { debounceMs: 200 });
    writeFileSync(file, 'version: 1\n# 1\n');
    writeFileSync(file, 'version: 1\n# 2\n');
    replace(file, 'version: 1\n# 3\n');
    await w.next(1);
    await delay(400);
    expect(w.calls()).toBe(1);
  });

  it('under a steady stream of events it still reports within maxDelayMs', async () => {
    const file = join(dir, 'intentdns.yaml');
    writeFileSync(file, 'version: 1\n');
    const w = watchFile(file, { debounceMs: 150, maxDelayMs: 300 });
    const started = Date.now();
    for (let i = 0; Date.now() - started < 1000 && w.calls() === 0; i++) {
      writeFileSync(file, `version: 1\n# ${i}\n`);
      await delay(30);
    }
    expect(w.calls()).toBeGreaterThanOrEqual(1);
  });

  it('Kubernetes ConfigMap volume: sees every swap of the ..data symlink to a new timestamped directory', async () => {
    // The layout the kubelet makes: intentdns.yaml -> ..data/intentdns.yaml, ..data -> ..2026_11_24_1
    const version = (name: string, text: string): void => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'intentdns.yaml'), text);
    };
    const swapData = (name: string): void => {
      symlinkSync(name, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    };
    version('..2026_11_24_1', 'version: 1\n');
    symlinkSync('..2026_11_24_1', join(dir, '..data'));
    symlinkSync('..data/intentdns.yaml', join(dir, 'intentdns.yaml'));
    const w = watchFile(join(dir, 'intentdns.yaml'));

    version('..2026_11_24_2', 'version: 1\nmode: audit\n');
    swapData('..2026_11_24_2');
    rmSync(join(dir, '..2026_11_24_1'), { recursive: true });
    await w.next(1);

    version('..2026_11_24_3', 'version: 1\nmode: enforce\n');
    swapData('..2026_11_24_3');
    rmSync(join(dir, '..2026_11_24_2'), { recursive: true });
    await w.next(2);
  });

  it('a symlink into another directory: sees the target replaced there, and follows the link when it is repointed', async () => {
    const real = join(dir, 'real');
    const other = join(dir, 'other');
    const conf = join(dir, 'etc');
    for (const d of [real, other, conf]) mkdirSync(d);
    writeFileSync(join(real, 'intentdns.yaml'), 'version: 1\n');
    writeFileSync(join(other, 'intentdns.yaml'), 'version: 1\nmode: audit\n');
    symlinkSync(join(real, 'intentdns.yaml'), join(conf, 'intentdns.yaml'));
    const w = watchFile(join(conf, 'intentdns.yaml'));

    // Only the target's directory changes here.
    replace(join(real, 'intentdns.yaml'), 'version: 1\n# edited\n');
    await w.next(1);

    // Repointed: seen in the link's own directory...
    symlinkSync(join(other, 'intentdns.yaml'), join(conf, 'tmp-link'));
    renameSync(join(conf, 'tmp-link'), join(conf, 'intentdns.yaml'));
    await w.next(2);
    // ...and from now on the new target's directory is the one watched.
    replace(join(other, 'intentdns.yaml'), 'version: 1\n# edited too\n');
    await w.next(3);
  });

  it('a missing file is not a change: it is logged once and reported when it is back', async () => {
    const file = join(dir, 'intentdns.yaml');
    writeFileSync(file, 'version: 1\n');
    const w = watchFile(file);
    unlinkSync(file);
    await waitFor(() => logs.some((l) => l.msg === 'config file is missing; keeping the running config until it is back'), { what: 'missing warning' });
    expect(w.calls()).toBe(0);
    writeFileSync(file, 'version: 1\nmode: audit\n');
    await w.next(1);
    expect(logs.filter((l) => String(l.msg).startsWith('config file is missing'))).toHaveLength(1);
  });

  it('survives its directory being removed and made again', async () => {
    const conf = join(dir, 'conf');
    mkdirSync(conf);
    const file = join(conf, 'intentdns.yaml');
    writeFileSync(file, 'version: 1\n');
    const w = watchFile(file);
    rmSync(conf, { recursive: true });
    await delay(QUIET_MS);
    mkdirSync(conf);
    writeFileSync(file, 'version: 1\nmode: audit\n');
    await w.next(1);
    // Watching the new directory, not the removed one.
    const seen = w.calls();
    replace(file, 'version: 1\nmode: enforce\n');
    await w.next(seen + 1);
  });

  it('starts even when the directory does not exist yet', async () => {
    const conf = join(dir, 'later');
    const file = join(conf, 'intentdns.yaml');
    const w = watchFile(file);
    mkdirSync(conf);
    writeFileSync(file, 'version: 1\n');
    await w.next(1);
  });

  it('reports nothing after close()', async () => {
    const file = join(dir, 'intentdns.yaml');
    writeFileSync(file, 'version: 1\n');
    const w = watchFile(file);
    writeFileSync(file, 'version: 1\n# before close\n');
    watcher!.close();
    writeFileSync(file, 'version: 1\n# after close\n');
    await delay(QUIET_MS);
    expect(w.calls()).toBe(0);
  });
});
