/**
 * Cuts a Server-Sent Events stream into whole events (the lines up to a blank
 * line), none longer than a bound, before the SSE parser sees them. The
 * parser buffers an unfinished event without limit; fed only whole, bounded
 * events it never holds more than one of them.
 *
 * An event longer than the bound (its lines, comments included, counted
 * together) is skipped: its lines are dropped as they arrive, up to the
 * blank line that ends it, and `onOversize` is told its `id`, if a short
 * `id:` line was among them, so the resume point can move past it. Skipping
 * keeps the link up: dropping the link instead would replay the same event on
 * every reconnect and keep the link down for good.
 *
 * Line ends are LF, CR or CRLF, also when a CRLF is split across two chunks.
 */

/** The longest `id:` line remembered while skipping (longer ids cannot be sent back as Last-Event-ID anyway). */
const MAX_ID_LINE = 1100;

export class SseFrames {
  readonly #max: number;
  readonly #onEvent: (block: string) => void;
  readonly #onOversize: (id: string | undefined) => void;

  /** Complete lines of the event being read. */
  #lines: string[] = [];
  /** Characters of the event so far: its lines with one character per line end, and the unfinished line. */
  #chars = 0;
  /** The unfinished line, in pieces. */
  #partial: string[] = [];
  #partialChars = 0;
  /** The event went over the bound: its lines are dropped up to the blank line. */
  #skipping = false;
  /** While skipping, the unfinished line is too long to be an `id:` line worth keeping. */
  #partialDropped = false;
  #skippedId: string | undefined = undefined;
  /** The last chunk ended in CR: an LF at the start of the next one belongs to it. */
  #afterCr = false;

  constructor(maxEventChars: number, onEvent: (block: string) => void, onOversize: (id: string | undefined) => void) {
    this.#max = maxEventChars;
    this.#onEvent = onEvent;
    this.#onOversize = onOversize;
  }

  feed(text: string): void {
    let i = 0;
    if (this.#afterCr && text.charCodeAt(0) === LF) i = 1;
    this.#afterCr = false;
    // Where the next LF and CR are, each searched again only once passed: one pass over the chunk.
    let lf = text.indexOf('\n', i);
    let cr = text.indexOf('\r', i);
    while (i < text.length) {
      if (lf >= 0 && lf < i) lf = text.indexOf('\n', i);
      if (cr >= 0 && cr < i) cr = text.indexOf('\r', i);
      const end = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
      if (end < 0) {
        this.#append(text.slice(i));
        return;
      }
      this.#append(text.slice(i, end));
      this.#endLine();
      i = end + 1;
      if (end === cr) {
        if (i === text.length) this.#afterCr = true;
        else if (text.charCodeAt(i) === LF) i += 1;
      }
    }
  }

  #append(piece: string): void {
    if (piece.length === 0) return;
    if (this.#skipping) {
      if (this.#partialDropped) return;
      if (this.#partialChars + piece.length > MAX_ID_LINE) {
        this.#dropPartial();
        return;
      }
    } else if (this.#chars + piece.length > this.#max) {
      this.#startSkipping();
      return;
    }
    this.#partial.push(piece);
    this.#partialChars += piece.length;
    this.#chars += piece.length;
  }

  #endLine(): void {
    const dropped = this.#partialDropped;
    const line = this.#partial.length === 1 ? this.#partial[0]! : this.#partial.join('');
    this.#partial = [];
    this.#partialChars = 0;
    this.#partialDropped = false;
    if (this.#skipping) {
      if (dropped) return;
      if (line === '') {
        const id = this.#skippedId;
        this.#reset();
        this.#onOversize(id);
        return;
      }
      this.#noteId(line);
      return;
    }
    if (line === '') {
      const lines = this.#lines;
      this.#reset();
      if (lines.length > 0) this.#onEvent(`${lines.join('\n')}\n\n`);
      return;
    }
    // The line end counts one character; an event that ends exactly at the bound is still whole.
    if (this.#chars + 1 > this.#max) {
      this.#lines.push(line);
      this.#startSkipping();
      return;
    }
    this.#chars += 1;
    this.#lines.push(line);
  }

  /** Drops what the event holds, keeping only its id (the last `id:` line so far). */
  #startSkipping(): void {
    this.#skipping = true;
    for (const line of this.#lines) this.#noteId(line);
    this.#lines = [];
    this.#dropPartial();
  }

  #dropPartial(): void {
    this.#partial = [];
    this.#partialChars = 0;
    this.#partialDropped = true;
  }

  #noteId(line: string): void {
    if (line.length > MAX_ID_LINE || !line.startsWith('id')) return;
    if (line === 'id') this.#skippedId = '';
    else if (line.charCodeAt(2) === COLON) this.#skippedId = line.slice(line.charCodeAt(3) === SPACE ? 4 : 3);
  }

  #reset(): void {
    this.#lines = [];
    this.#chars = 0;
    this.#skipping = false;
    this.#skippedId = undefined;
  }
}

const LF = 0x0a;
const COLON = 0x3a;
const SPACE = 0x20;

