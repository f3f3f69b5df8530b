/**
 * Config reload for `intentdns serve` (spec "Configuration"): on SIGHUP and
 * when the file changes (watch.ts tells us). Each reload reads the file,
 * validates all of it with the same loader as `intentdns check`, and hands the
 * new snapshot to the server, which swaps it in whole or not at all.
 *
 *   success → intentdns_config_reloads_total{result="success"}, the
 *             last-success timestamp, and an info line `config reloaded`.
 *   failure → the running config stays; {result="failure"} and an error line
 *             `config reload failed; keeping the running config` whose
 *             `errors` are `FILE:LINE:COL message` strings (or the message of
 *             a token file or listen address that failed).
 *
 * Like CoreDNS's reload plugin, a file event whose bytes are the same as the
 * last ones tried is skipped: editors and ConfigMap updates fire several
 * events per change, and a touch is not an edit. SIGHUP always reloads, e.g.
 * after fixing a token file, which the digest does not cover.
 *
 * One reload at a time: triggers that come while one runs fold into a single
 * next one, which reads the file as it is by then.
 *
 * The file is parsed and validated in a worker thread (parse-worker.ts), and
 * what is left on the event loop (reading and hashing the file, unpacking the
 * worker's answer, the server compiling the lists) runs in time slices: with
 * long role lists a reload takes seconds, and the running config answers
 * meanwhile. Start-up parses in-thread (nothing to answer yet), and so do
 * reloads when a test injects readFile (a function cannot cross to a worker)
 * or when this runs from its TypeScript source (PARSE_WORKER_ENTRY).
 */
import type { Logger } from 'pino';
import type { Counter, Gauge } from 'prom-client';
import { IntentdnsError } from '../errors.js';
import { ConfigError } from './errors.js';
import { loadConfig, type LoadOptions } from './load.js';
import { PARSE_TIMEOUT_MS, PARSE_WORKER_ENTRY, ParseCancelledError, parseInWorker } from './parse-worker.js';
import { readConfigBytes, readConfigText, withText } from './read.js';
import type { Config } from './types.js';

/** What asked for the reload: SIGHUP, or the watcher. */
export type ReloadReason = 'signal' | 'file';

/** applied; unchanged (a file event, same bytes as last time); failed (running config kept); closed (after close()). */
export type ReloadOutcome = 'applied' | 'unchanged' | 'failed' | 'closed';

/** The running server, as far as reloading goes. */
export interface ReloadTarget {
  readonly config: Config;
  /**
   * Swaps the config in whole, or throws and changes nothing. `text` is what
   * `config` was parsed from (the workers of `listen.workers` parse the same
   * text rather than read the file again, which may have changed since).
   */
  reload(config: Config, text: string): Promise<void>;
}

export interface ReloadMetrics {
  readonly configReloads: Counter<'result'>;
  readonly configLastReloadSuccess: Gauge;
}

export interface ReloaderOptions {
  /** The config file, as the user named it (errors and log lines show it this way). */
  readonly file: string;
  /** Digest of the bytes the running config was read from (loadConfigFile). */
  readonly digest: string;
  readonly target: ReloadTarget;
  readonly log: Logger;
  readonly metrics: ReloadMetrics;
  /** Passed on to loadConfig (tests inject readFile and resolvConf). */
  readonly load?: LoadOptions;
  /**
   * The parse worker: its entry (default PARSE_WORKER_ENTRY; null parses
   * in-thread) and how long it may take (default PARSE_TIMEOUT_MS).
   */
  readonly worker?: { readonly entry?: URL | null; readonly timeoutMs?: number };
}

export interface LoadedConfig {
  readonly config: Config;
  /** Of the exact text that was parsed, for the Reloader's "unchanged" check. */
  readonly digest: string;
  /** That text. */
  readonly text: string;
}

/**
 * loadConfig, plus a digest of the bytes it parsed (read once, so the digest
 * cannot describe another version of the file than the config does).
 * @throws ConfigError like loadConfig.
 */
export function loadConfigFile(file: string, opts: LoadOptions = {}): LoadedConfig {
  const read = readConfigText(file, opts);
  const config = loadConfig(file, withText(file, read, opts));
  // loadConfig has thrown for a file it could not read, so the text is there.
  return { config, digest: read.digest, text: read.text ?? '' };
}

/**
 * Settings a running server cannot change: the cache's bounds are fixed when it
 * is made, and metric label names when they are registered. Listed by config
 * key when `next` differs from the config the server started with.
 */
export function restartOnlyChanges(started: Config, next: Config): string[] {
  const changed: string[] = [];
  if (started.cache.maxEntries !== next.cache.maxEntries) changed.push('cache.max_entries');
  if (started.cache.maxBytes !== next.cache.maxBytes) changed.push('cache.max_bytes');
  if (started.metrics.perAgent !== next.metrics.perAgent) changed.push('metrics.per_agent');
  // The process model is chosen at start: one process, or a primary that forked this many.
  if (started.listen.workers !== next.listen.workers) changed.push('listen.workers');
  // The writer is made at start (its table, what it wrote); scope, grace, wait and on_error apply at reload.
  if ((started.firewall === null) !== (next.firewall === null)) changed.push('firewall');
  else if (started.firewall && next.firewall && started.firewall.table !== next.firewall.table) changed.push('firewall.table');
  return changed;
}

export class Reloader {
  readonly file: string;
  readonly #target: ReloadTarget;
  readonly #log: Logger;
  readonly #metrics: ReloadMetrics;
  readonly #load: LoadOptions;
  /** Null: parse in-thread. */
  readonly #workerEntry: URL | null;
  readonly #workerTimeoutMs: number;
  /** Stops the running reload's worker on close(). */
  readonly #stop = new AbortController();
  /** The config the server started with: what restart-only settings still are. */
  readonly #started: Config;
  /** Digest of the text last tried, applied or not. */
  #digest: string;
  #running: Promise<ReloadOutcome> | null = null;
  #next: { reason: ReloadReason; readonly outcome: Promise<ReloadOutcome> } | null = null;
  #closed = false;

  constructor(opts: ReloaderOptions) {
    this.file = opts.file;
    this.#target = opts.target;
    this.#log = opts.log;
    this.#metrics = opts.metrics;
    this.#load = opts.load ?? {};
    // An injected readFile is a function: it cannot cross to a worker, so tests that inject one parse here.
    this.#workerEntry = this.#load.readFile ? null : opts.worker?.entry === undefined ? PARSE_WORKER_ENTRY : opts.worker.entry;
    this.#workerTimeoutMs = opts.worker?.timeoutMs ?? PARSE_TIMEOUT_MS;
    this.#started = opts.target.config;
    this.#digest = opts.digest;
    // Both series from the start, so `increase(…{result="failure"}[5m])` sees the first failure.
    opts.metrics.configReloads.inc({ result: 'success' }, 0);
    opts.metrics.configReloads.inc({ result: 'failure' }, 0);
  }

  /** Reloads now, or right after the reload that is running. Never rejects. */
  reload(reason: ReloadReason): Promise<ReloadOutcome> {
    if (this.#closed) return Promise.resolve('closed');
    const running = this.#running;
    if (running === null) return this.#start(reason);
    if (this.#next !== null) {
      // A signal always reloads; a file event may be skipped as unchanged. The folded run keeps the stronger.
      if (reason === 'signal') this.#next.reason = 'signal';
      return this.#next.outcome;
    }
    const next: { reason: ReloadReason; outcome: Promise<ReloadOutcome> } = {
      reason,
      outcome: running.then(() => {
        this.#next = null;
        return this.#closed ? 'closed' : this.#start(next.reason);
      }),
    };
    this.#next = next;
    return next.outcome;
  }

  /** No reloads from now on; a parse in the worker is stopped; resolves once the running reload (if any) has finished. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stop.abort();
    await this.#running;
  }

  #start(reason: ReloadReason): Promise<ReloadOutcome> {
    const run = this.#run(reason).finally(() => {
      this.#running = null;
    });
    this.#running = run;
    return run;
  }

  async #run(reason: ReloadReason): Promise<ReloadOutcome> {
    const { file } = this;
    const entry = this.#workerEntry;
    const read = entry ? await readConfigBytes(file) : readConfigText(file, this.#load);
    if (this.#closed) return 'closed';
    if (reason === 'file' && read.digest === this.#digest) {
      this.#log.debug({ config: file, reason }, 'config file unchanged; not reloaded');
      return 'unchanged';
    }
    this.#digest = read.digest;
    // Decoded before the parse: the bytes are handed (transferred) to the parse worker.
    const text = 'bytes' in read ? (read.bytes?.toString('utf8') ?? '') : (read.text ?? '');
    try {
      const config = 'bytes' in read ? await this.#parseInWorker(entry!, read.bytes) : loadConfig(file, withText(file, read, this.#load));
      // close() came while the worker's answer was being unpacked: the server is going away.
      if (this.#closed) return 'closed';
      await this.#target.reload(config, text);
      this.#metrics.configReloads.inc({ result: 'success' });
      this.#metrics.configLastReloadSuccess.setToCurrentTime();
      this.#log.info({ config: file, reason }, 'config reloaded');
      const later = restartOnlyChanges(this.#started, config);
      if (later.length > 0) {
        this.#log.warn({ config: file, settings: later }, `changed settings take effect at the next restart: ${later.join(', ')}`);
      }
      return 'applied';
    } catch (err) {
      if (err instanceof ParseCancelledError) {
        this.#log.info({ config: file, reason }, 'config reload stopped: shutting down');
        return 'closed';
      }
      this.#metrics.configReloads.inc({ result: 'failure' });
      const known = err instanceof IntentdnsError;
      this.#log.error(
        { config: file, reason, errors: reloadErrors(err), ...(!known && { err }) },
        'config reload failed; keeping the running config',
      );
      return 'failed';
    }
  }

  async #parseInWorker(entry: URL, bytes: Uint8Array | null): Promise<Config> {
    const { file } = this;
    const began = performance.now();
    const config = await parseInWorker(file, bytes, {
      entry, timeoutMs: this.#workerTimeoutMs, signal: this.#stop.signal,
      ...(this.#load.resolvConf !== undefined && { resolvConf: this.#load.resolvConf }),
    });
    this.#log.debug({ config: file, parse_ms: Math.round(performance.now() - began) }, 'config parsed in a worker thread');
    return config;
  }
}

/** One line per problem: `FILE:LINE:COL message` for the config itself, the message for anything else. */
function reloadErrors(err: unknown): string[] {
  if (err instanceof ConfigError) return err.format().split('\n');
  return [err instanceof Error ? err.message : String(err)];
}
