/**
 * Tells `serve` when the config file may have changed, so it can reload.
 *
 * It watches the file's directory, not the file: editors save by writing a
 * new file and renaming it over the old one, and Kubernetes updates a
 * ConfigMap volume by pointing its `..data` symlink at a new timestamped
 * directory (`intentdns.yaml -> ..data/intentdns.yaml`). A watch on the file
 * itself would follow the old inode and miss both. Events are filtered to the
 * file's name and `..data`, and debounced: one save is several events.
 *
 * When the file is a symlink into another directory, that directory is
 * watched too (by the name the link resolves to), and the link is resolved
 * again after every change, so a link that now points elsewhere is followed.
 *
 * A directory that disappears (deleted, or unmounted for a moment) is looked
 * for again every `retryMs`; so is a file that is missing when the debounce
 * ends, which is not reported as a change until it is back: a file halfway
 * through being replaced is not a config to reload. Nothing here keeps the
 * process alive (watchers and timers are unref'd); close() stops everything.
 */
import { existsSync, realpathSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from 'pino';

export interface WatchOptions {
  readonly log: Logger;
  /** Quiet time after the last event before onChange runs. Default 250 ms. */
  readonly debounceMs?: number;
  /** Under a steady stream of events, onChange still runs at least this often. Default 2 s. */
  readonly maxDelayMs?: number;
  /** How often to look again for a directory or file that has gone. Default 1 s. */
  readonly retryMs?: number;
}

export interface ConfigWatcher {
  close(): void;
}

export const WATCH_DEFAULTS = { debounceMs: 250, maxDelayMs: 2000, retryMs: 1000 } as const;

/** The name Kubernetes gives the symlink it swaps on every ConfigMap or Secret update. */
const K8S_DATA_LINK = '..data';

export function watchConfig(file: string, onChange: () => void, opts: WatchOptions): ConfigWatcher {
  return new DirectoryWatcher(resolve(file), onChange, opts);
}

/** One watched directory and the entry names in it that matter. */
interface Watch {
  readonly dir: string;
  readonly names: ReadonlySet<string>;
  readonly watcher: FSWatcher;
  /** dev:ino when the watch began: a directory replaced since then needs a new watch. */
  readonly identity: string;
}

class DirectoryWatcher implements ConfigWatcher {
  readonly #file: string;
  readonly #onChange: () => void;
  readonly #log: Logger;
  readonly #debounceMs: number;
  readonly #maxDelayMs: number;
  readonly #retryMs: number;
  readonly #watches = new Map<string, Watch>();
  #debounce: NodeJS.Timeout | null = null;
  #firstEventAt = 0;
  #retry: NodeJS.Timeout | null = null;
  /** Set while the file is missing, so that is logged once and its return is reported. */
  #missing = false;
  #closed = false;

  constructor(file: string, onChange: () => void, opts: WatchOptions) {
    this.#file = file;
    this.#onChange = onChange;
    this.#log = opts.log;
    this.#debounceMs = opts.debounceMs ?? WATCH_DEFAULTS.debounceMs;
    this.#maxDelayMs = opts.maxDelayMs ?? WATCH_DEFAULTS.maxDelayMs;
    this.#retryMs = opts.retryMs ?? WATCH_DEFAULTS.retryMs;
    if (!this.#arm()) this.#startRetry();
  }

  close(): void {
    this.#closed = true;
    if (this.#debounce !== null) clearTimeout(this.#debounce);
    if (this.#retry !== null) clearInterval(this.#retry);
    this.#debounce = this.#retry = null;
    for (const w of this.#watches.values()) w.watcher.close();
    this.#watches.clear();
  }

  /**
   * Directories to watch, each with the names that matter in it: the file's
   * own directory (the file, `..data`, and the directory's name, which is how
   * its own removal shows up), and the directory the file resolves to when
   * that is another one.
   */
  #targets(): Map<string, Set<string>> {
    const add = (targets: Map<string, Set<string>>, path: string): void => {
      const dir = dirname(path);
      const names = targets.get(dir) ?? new Set([basename(dir)]);
      names.add(basename(path));
      targets.set(dir, names);
    };
    const targets = new Map<string, Set<string>>();
    add(targets, this.#file);
    targets.get(dirname(this.#file))!.add(K8S_DATA_LINK);
    try {
      add(targets, realpathSync(this.#file));
    } catch {
      // Missing, or a dangling link: the file's own directory tells us when it is back.
    }
    return targets;
  }

  /** Brings the watches in line with #targets(). True when every directory is watched. */
  #arm(): boolean {
    const targets = this.#targets();
    for (const [dir, w] of this.#watches) {
      if (!targets.has(dir) || w.identity !== identityOf(dir)) this.#unwatch(dir);
    }
    let all = true;
    for (const [dir, names] of targets) {
      const current = this.#watches.get(dir);
      if (current !== undefined && sameSet(current.names, names)) continue;
      if (current !== undefined) this.#unwatch(dir);
      all = this.#watch(dir, names) && all;
    }
    return all;
  }

  #watch(dir: string, names: ReadonlySet<string>): boolean {
    const identity = identityOf(dir);
    if (identity === null) return false;
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, { persistent: false });
    } catch (err) {
      this.#log.debug({ err, dir }, 'cannot watch the config directory yet');
      return false;
    }
    watcher.on('change', (_event, name) => {
      if (this.#closed) return;
      const entry = typeof name === 'string' ? name : name?.toString('utf8');
      // Some platforms give no name: then any event may be ours.
      if (entry === undefined || names.has(entry)) this.#schedule();
    });
    watcher.on('error', (err) => {
      // The directory went away under the watch (or the platform gave up on it).
      this.#log.debug({ err, dir }, 'config directory watch ended');
      if (this.#watches.get(dir)?.watcher === watcher) this.#unwatch(dir);
      if (!this.#closed) this.#startRetry();
    });
    this.#watches.set(dir, { dir, names, watcher, identity });
    return true;
  }

  #unwatch(dir: string): void {
    this.#watches.get(dir)?.watcher.close();
    this.#watches.delete(dir);
  }

  /** Debounces: runs #fire once events have been quiet for debounceMs, or maxDelayMs after the first. */
  #schedule(): void {
    const now = Date.now();
    if (this.#debounce === null) this.#firstEventAt = now;
    else clearTimeout(this.#debounce);
    const wait = Math.max(0, Math.min(this.#debounceMs, this.#firstEventAt + this.#maxDelayMs - now));
    this.#debounce = setTimeout(() => this.#fire(), wait);
    this.#debounce.unref();
  }

  #fire(): void {
    this.#debounce = null;
    if (this.#closed) return;
    const armed = this.#arm();
    if (!existsSync(this.#file)) {
      if (!this.#missing) this.#log.warn({ config: this.#file }, 'config file is missing; keeping the running config until it is back');
      this.#missing = true;
      this.#startRetry();
      return;
    }
    this.#missing = false;
    if (!armed) this.#startRetry();
    this.#onChange();
  }

  /** Polls until every directory is watched again and the file is there, then reports a change. */
  #startRetry(): void {
    if (this.#retry !== null || this.#closed) return;
    this.#retry = setInterval(() => {
      if (!this.#arm() || !existsSync(this.#file)) return;
      clearInterval(this.#retry!);
      this.#retry = null;
      // Whatever happened while we could not watch, the file may be new now.
      this.#schedule();
    }, this.#retryMs);
    this.#retry.unref();
  }
}

function identityOf(dir: string): string | null {
  try {
    const s = statSync(dir);
    return s.isDirectory() ? `${s.dev}:${s.ino}` : null;
  } catch {
    return null;
  }
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}
