import { pino } from 'pino';

/** Bytes of log lines held for a slow reader before lines are dropped. */
export const DEFAULT_LOG_BUFFER_BYTES = 4 * 1024 * 1024;

/** How long a decision line may wait to be written with the ones after it; and how long a batch may grow. */
const BATCH_MS = 5;
const BATCH_CHARS = 64 * 1024;

/** Room above the bound for the two notices of a stall, so they are never the lines dropped. */
const NOTICE_RESERVE_BYTES = 4096;

/**
 * The most bytes a pipe takes in one atomic write (POSIX PIPE_BUF on Linux).
 * Several processes writing one pipe (the workers of `listen.workers` share
 * stdout) interleave inside a write larger than this, i.e. inside a line.
 */
export const PIPE_BUF = 4096;

/** Called with the count of lines lost, once when dropping starts and once when it stops. */
export type StallNotice = (kind: 'started' | 'stopped', dropped: number) => string;

/**
 * The logger's destination: NDJSON lines written to a file descriptor
 * (stdout) asynchronously, from a buffer of at most `maxBytes`. A reader that
 * stops reading (a paused pipe, a stuck log shipper) costs us lines, never
 * memory and never time on the query path: when the buffer is full a line is
 * dropped and counted, one notice line says that dropping started, and one
 * says when it stopped (once the buffer has drained to half) and how many
 * lines were lost.
 */
export class LogOutput implements pino.DestinationStream {
  readonly #out: ReturnType<typeof pino.destination>;
  readonly #maxBytes: number;
  readonly #notice: StallNotice;
  #buffered = 0;
  #dropped = 0;
  /** Lines dropped in the stall going on now, or -1 while nothing is being dropped. */
  #stall = -1;
  /**
   * The lines of the last BATCH_MS, handed to the file descriptor together:
   * one write call for a burst of decision lines instead of one per line (at
   * `log.queries: all` that was most of the cost of a line). Per event-loop
   * turn was still one write per few queries under load, and each write call
   * costs the loop a hand-off to libuv's thread pool (3.4 % of busy time in a
   * profile of cached answers, 7.6 % per turn).
   */
  #batch = '';
  #batchDue: NodeJS.Timeout | null = null;

  /** Each write at most this many bytes, cut on line boundaries (a line longer than it goes alone); null: no cap. */
  readonly #maxWrite: number | null;

  /**
   * `maxWriteBytes`: cap each write to the file descriptor, cut between
   * lines: PIPE_BUF when other processes write the same pipe, so that each
   * write is atomic and no line of ours is cut by one of theirs.
   */
  constructor(opts: { fd?: number; maxBytes?: number; notice: StallNotice; maxWriteBytes?: number }) {
    this.#maxBytes = opts.maxBytes ?? DEFAULT_LOG_BUFFER_BYTES;
    this.#notice = opts.notice;
    this.#maxWrite = opts.maxWriteBytes ?? null;
    this.#out = pino.destination({
      dest: opts.fd ?? 1, sync: false, maxLength: this.#maxBytes + NOTICE_RESERVE_BYTES,
      // sonic-boom joins queued writes into one up to maxWrite: with the cap, only whole pieces of ours.
      ...(this.#maxWrite !== null && { maxWrite: this.#maxWrite }),
    });
    this.#out.on('write', (n: number) => this.#written(n));
    // A reader that went away (EPIPE) must not take the process with it; the lines are lost either way.
    this.#out.on('error', () => {});
  }

  write(line: string): void {
    const bytes = Buffer.byteLength(line);
    if (this.#buffered + bytes > this.#maxBytes) {
      this.#dropped += 1;
      if (this.#stall < 0) {
        this.#stall = 0;
        this.#push(this.#notice('started', 0));
      }
      this.#stall += 1;
      return;
    }
    this.#push(line, bytes);
  }

  /** Lines dropped since start (intentdns_log_lines_dropped_total). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Bytes waiting for the reader now. */
  get buffered(): number {
    return this.#buffered;
  }

  /**
   * Waits until what is buffered has been written, for at most `timeoutMs`.
   * Resolves true when it was, false when the reader is still stalled (the
   * caller then exits without it: a stuck reader must not keep us running).
   */
  async drain(timeoutMs: number): Promise<boolean> {
    // Watched by our own count of bytes written: used once, at shutdown.
    const deadline = Date.now() + timeoutMs;
    while (this.#buffered > 0) {
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return true;
  }

  #push(line: string, bytes = Buffer.byteLength(line)): void {
    this.#buffered += bytes;
    this.#batch += line;
    if (this.#batch.length >= BATCH_CHARS) {
      this.#writeBatch();
    } else if (this.#batchDue === null) {
      this.#batchDue = setTimeout(this.#writeBatch, BATCH_MS);
    }
  }

  readonly #writeBatch = (): void => {
    if (this.#batchDue !== null) clearTimeout(this.#batchDue);
    this.#batchDue = null;
    const batch = this.#batch;
    this.#batch = '';
    if (batch === '') return;
    if (this.#maxWrite === null || Buffer.byteLength(batch) <= this.#maxWrite) {
      this.#out.write(batch);
      return;
    }
    for (const piece of linePieces(batch, this.#maxWrite)) this.#out.write(piece);
  };

  #written(bytes: number): void {
    this.#buffered -= bytes;
    if (this.#stall >= 0 && this.#buffered <= this.#maxBytes / 2) {
      const lost = this.#stall;
      this.#stall = -1;
      this.#push(this.#notice('stopped', lost));
    }
  }
}

/** The notices as NDJSON lines at level warn, shaped like every other line of the logger. */
export function stallNoticeLine(kind: 'started' | 'stopped', dropped: number): string {
  const msg = kind === 'started'
    ? 'log output is not keeping up; dropping log lines'
    : 'log output caught up; log lines were dropped';
  return `${JSON.stringify({ level: 40, time: Date.now(), ...(kind === 'stopped' && { dropped }), msg })}\n`;
}

/** `text` (whole lines) cut between lines into pieces of at most `max` bytes; a longer line is a piece of its own. */
export function linePieces(text: string, max: number): string[] {
  const pieces: string[] = [];
  let piece = '';
  let bytes = 0;
  let start = 0;
  while (start < text.length) {
    const end = text.indexOf('\n', start);
    const line = end < 0 ? text.slice(start) : text.slice(start, end + 1);
    start = end < 0 ? text.length : end + 1;
    const n = Buffer.byteLength(line);
    if (bytes + n > max && piece !== '') {
      pieces.push(piece);
      piece = '';
      bytes = 0;
    }
    piece += line;
    bytes += n;
  }
  if (piece !== '') pieces.push(piece);
  return pieces;
}
