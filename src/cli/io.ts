/** Where a command writes and what it may read from the environment: injectable so tests run commands in-process. */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  /** What `--log -` reads; absent: the process's stdin. */
  readonly stdin?: NodeJS.ReadableStream;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  env: process.env,
  stdin: process.stdin,
};

/**
 * `intentdns replay … | head`: once the reader has what it wants and closes
 * the pipe, the rest of the output has nowhere to go, which is not a fault.
 * Exit 0 at the first EPIPE instead of dying on an unhandled stream error.
 */
export function exitQuietlyWhenStdoutCloses(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(0);
  });
}

export const DEFAULT_CONFIG = 'config/intentdns.yaml';

/** --config, else INTENTDNS_CONFIG, else the default path (the spec's order). */
export function configPath(flag: string | undefined, io: Io): string {
  return flag ?? io.env.INTENTDNS_CONFIG ?? DEFAULT_CONFIG;
}

/** A mistake in how a command was called: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}
