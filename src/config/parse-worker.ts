/**
 * Parsing and validating a config in a worker thread, for reloads: with a
 * role list of a million names, YAML parsing, validation and their garbage
 * take tens of seconds (100k: about 3), and on the event loop that answers
 * DNS every query waited that long, or was dropped once the socket buffer
 * filled. In a worker the loop goes on answering with the running config.
 *
 * One worker per reload (parse-worker-main.ts): it gets the bytes already
 * read (the Reloader's digest covers exactly those), posts back the packed
 * Config (packed.ts) or the ConfigError's issues, and ends, taking the
 * parse's garbage with its heap. The ConfigError is rebuilt here from the
 * issues, so its FILE:LINE:COL lines read as an in-thread parse's would.
 * A worker that crashes (out of memory, say), exits without answering, or
 * takes longer than `timeoutMs` fails the reload with a ParseWorkerError;
 * the running config stays.
 */
import { Worker } from 'node:worker_threads';
import { IntentdnsError } from '../errors.js';
import type { TimeSlices } from '../slices.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import { unpackConfig, type PackedConfig } from './packed.js';
import type { Config } from './types.js';

/** What the worker is started with (workerData). */
export interface ParseRequest {
  readonly file: string;
  /** The file's bytes (transferred), or null when they could not be read. */
  readonly bytes: Uint8Array | null;
  readonly resolvConf: string | null;
}

/** What it posts back, once. */
export type ParseReply =
  | { readonly kind: 'config'; readonly config: PackedConfig }
  | { readonly kind: 'invalid'; readonly issues: readonly ConfigIssue[] }
  /** Anything but a ConfigError: a bug, reported like one thrown in this thread. */
  | { readonly kind: 'fault'; readonly name: string; readonly message: string; readonly stack: string | null };

/**
 * The worker's entry, beside this module once compiled. Null when this runs
 * from its TypeScript source (vitest): a worker thread cannot load .ts, so
 * reloads parse in-thread there unless a test names the compiled entry.
 */
export const PARSE_WORKER_ENTRY: URL | null = import.meta.url.endsWith('.ts')
  ? null
  : new URL('./parse-worker-main.js', import.meta.url);

/**
 * Longer than a million-name list takes here (35–48 s on a loaded 2-core
 * machine), short enough that a wedged worker does not hold reloads up for good.
 */
export const PARSE_TIMEOUT_MS = 120_000;

export interface WorkerParseOptions {
  readonly entry: URL;
  readonly timeoutMs?: number;
  /** Aborting stops the worker; the promise rejects with ParseCancelledError. */
  readonly signal?: AbortSignal;
  /** LoadOptions.resolvConf; a readFile function cannot cross to a worker (the Reloader parses in-thread then). */
  readonly resolvConf?: string;
  readonly slices?: TimeSlices;
}

/**
 * Parses `bytes` (the contents of `file`) in a worker. The bytes are moved
 * there, not copied: `bytes` is empty afterwards.
 * @throws ConfigError like loadConfig, ParseWorkerError when the worker failed,
 *   ParseCancelledError when `signal` aborted.
 */
export async function parseInWorker(file: string, bytes: Uint8Array | null, opts: WorkerParseOptions): Promise<Config> {
  const reply = await runWorker({ file, bytes: bytes && ownBuffer(bytes), resolvConf: opts.resolvConf ?? null }, opts);
  switch (reply.kind) {
    case 'config':
      return unpackConfig(reply.config, opts.slices);
    case 'invalid':
      throw new ConfigError(reply.issues);
    case 'fault': {
      const err = new Error(reply.message);
      err.name = reply.name;
      if (reply.stack !== null) err.stack = reply.stack;
      throw err;
    }
  }
}

/** `bytes`, or a copy when they share their ArrayBuffer (a pooled Buffer): only a buffer of their own may be transferred. */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
}

/** Settles once: on the reply, a crash, an early exit, the deadline or the abort; the worker is gone by then. */
function runWorker(request: ParseRequest, opts: WorkerParseOptions): Promise<ParseReply> {
  const timeoutMs = opts.timeoutMs ?? PARSE_TIMEOUT_MS;
  const { signal } = opts;
  if (signal?.aborted) return Promise.reject(new ParseCancelledError());
  return new Promise((resolve, reject) => {
    const worker = new Worker(opts.entry, {
      workerData: request,
      transferList: request.bytes ? [request.bytes.buffer as ArrayBuffer] : [],
      // None of the server's Node options: a --require preload would run again here, and a
      // --cpu-prof-name would have this thread's profile overwrite the main thread's.
      execArgv: [],
    });
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      // Whatever happened, the worker is stopped before the caller goes on.
      void worker.terminate().then(outcome, outcome);
    };
    const onAbort = (): void => settle(() => reject(new ParseCancelledError()));
    const timer = setTimeout(
      () => settle(() => reject(new ParseWorkerError(`parsing the config took longer than ${seconds(timeoutMs)}; the parse worker was stopped`))),
      timeoutMs,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (reply: ParseReply) => settle(() => resolve(reply)));
    // on, not once: an 'error' without a listener would throw in this thread.
    worker.on('error', (err) => settle(() => reject(new ParseWorkerError(`the config parse worker failed: ${err.message}`, { cause: err }))));
    worker.once('exit', (code) => settle(() => reject(new ParseWorkerError(`the config parse worker exited (code ${code}) before it answered`))));
  });
}

const seconds = (ms: number): string => (ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`);

/** The parse worker crashed, ended without an answer, or ran out of time. */
export class ParseWorkerError extends IntentdnsError {
  static readonly CODE = 'IDNS_ERR_CONFIG_WORKER';

  constructor(message: string, options?: { cause?: unknown }) {
    super(ParseWorkerError.CODE, message, options);
  }
}

/** The parse was stopped on purpose (Reloader.close()): not a failure of the config. */
export class ParseCancelledError extends IntentdnsError {
  static readonly CODE = 'IDNS_ERR_CONFIG_PARSE_CANCELLED';

  constructor() {
    super(ParseCancelledError.CODE, 'the config parse was stopped (shutting down)');
  }
}
