/** Where a command writes and what it may read from the environment: injectable so tests run commands in-process. */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  /** What `--log -` reads; absent: the process's stdin. */
  readonly stdin?: NodeJS.ReadableStream;
  /** Whether stdout is a terminal (colour is only for terminals); absent: not one. */
  readonly outIsTerminal?: boolean;
  /** Aborted when whoever reads stdout has gone (`intentdns tail | head`), or to stop a command that runs until then. */
  readonly stop?: AbortSignal;
}

/** Aborted on EPIPE: the reader of stdout went away, which ends a command quietly rather than with a stack trace. */
const outputGone = new AbortController();

export const processIo: Io = {
  out: (text) => {
    if (!outputGone.signal.aborted) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  },
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  env: process.env,
  stdin: process.stdin,
  outIsTerminal: process.stdout.isTTY === true,
  stop: outputGone.signal,
};

/**
 * `intentdns replay … | head`, `intentdns tail | head`: once the reader has
 * what it wants and closes the pipe, the rest of the output has nowhere to
 * go, which is not a fault. At the first EPIPE the output stops and `stop` is
 * aborted: a command that runs until then (tail) ends, the others finish
 * quietly, exit 0, instead of dying on an unhandled stream error.
 */
export function exitQuietlyWhenStdoutCloses(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    outputGone.abort();
  });
}

export const DEFAULT_CONFIG = 'config/intentdns.yaml';

/** --config, else INTENTDNS_CONFIG, else the default path (the spec's order). */
export function configPath(flag: string | undefined, io: Io): string {
  return flag ?? io.env.INTENTDNS_CONFIG ?? DEFAULT_CONFIG;
}

/** A mistake in how a command was called: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}
