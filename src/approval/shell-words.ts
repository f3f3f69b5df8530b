/**
 * Splits a shell command line into simple commands, each a list of words, the
 * way a POSIX/bash shell would before it runs anything: quotes and backslashes
 * are removed, `;` `&&` `||` `|` `&` newlines and `(` `)` end a command, and
 * redirections (`> file`, `2>&1`, `<file`, here-documents) are dropped because
 * they are not arguments. Commands inside `$(...)`, backticks and `<(...)` are
 * returned as commands of their own, in the order they appear.
 *
 * Nothing is expanded: every `$VAR`, `${...}`, `$(...)`, `$((...))` or
 * backtick in a word becomes EXPANSION, a character no host name can contain,
 * so a word whose host part depends on the runtime never reads as a name.
 *
 * Returns undefined when a shell would reject the text before running any of it
 * (an unterminated quote, `$(` or backtick) or when nesting is too deep: callers
 * take that as "no names", never as an error.
 */

/** Stands in for the unknown value of an expansion inside a word. */
export const EXPANSION = '\u0000';

export type SimpleCommand = readonly string[];

/** How deep `$(...)`/backtick nesting may go before the text counts as unreadable. */
const MAX_NESTING = 16;

export function splitShell(src: string): SimpleCommand[] | undefined {
  const lexer = new Lexer(src, 0);
  return lexer.run() ? lexer.commands : undefined;
}

/** A here-document whose body starts after the next newline. */
interface PendingHeredoc {
  readonly delimiter: string;
  readonly stripTabs: boolean;
}

type Redirect = 'none' | 'target' | 'heredoc' | 'heredoc-strip';

class Lexer {
  readonly commands: SimpleCommand[] = [];
  private pos = 0;

  constructor(private readonly src: string, private readonly depth: number) {}

  run(): boolean {
    return this.depth <= MAX_NESTING && this.list(false);
  }

  /**
   * Reads commands until the end of the text or, when `nested`, until the `)`
   * that closes a `$(` / `<(` (left consumed). False when the text is unreadable.
   */
  private list(nested: boolean): boolean {
    const src = this.src;
    let words: string[] = [];
    let word = '';
    let inWord = false;
    let quoted = false;           // some part of the word was quoted or escaped
    let redirect: Redirect = 'none';
    let heredocs: PendingHeredoc[] = [];
    let parens = 0;               // open `(` subshells inside this list

    const endWord = (): void => {
      if (!inWord) return;
      if (redirect === 'target') redirect = 'none';
      else if (redirect !== 'none') {
        heredocs.push({ delimiter: word, stripTabs: redirect === 'heredoc-strip' });
        redirect = 'none';
      } else words.push(word);
      word = '';
      inWord = false;
      quoted = false;
    };
    const endCommand = (): void => {
      endWord();
      if (words.length > 0) this.commands.push(words);
      words = [];
      redirect = 'none';
    };

    while (this.pos < src.length) {
      const c = src[this.pos] as string;
      const next = src[this.pos + 1];

      if (c === '\\') {
        if (next === '\n') { this.pos += 2; continue; }   // line continuation
        word += next ?? '\\';
        inWord = true;
        quoted = true;
        this.pos += next === undefined ? 1 : 2;
        continue;
      }
      if (c === "'") {
        const end = src.indexOf("'", this.pos + 1);
        if (end < 0) return false;
        word += src.slice(this.pos + 1, end);
        inWord = true;
        quoted = true;
        this.pos = end + 1;
        continue;
      }
      if (c === '"') {
        this.pos++;
        const text = this.doubleQuoted();
        if (text === undefined) return false;
        word += text;
        inWord = true;
        quoted = true;
        continue;
      }
      if (c === '$') {
        const text = this.dollar();
        if (text === undefined) return false;
        word += text;
        inWord = true;
        continue;
      }
      if (c === '`') {
        if (!this.backtick()) return false;
        word += EXPANSION;
        inWord = true;
        continue;
      }
      if (c === ' ' || c === '\t' || c === '\r') {
        endWord();
        this.pos++;
        continue;
      }
      if (c === '\n') {
        endCommand();
        this.pos++;
        this.skipHeredocBodies(heredocs);
        heredocs = [];
        continue;
      }
      if (c === '#' && !inWord) {
        const end = src.indexOf('\n', this.pos);
        this.pos = end < 0 ? src.length : end;
        continue;
      }
      if ((c === '<' || c === '>') && next === '(') {
        // Process substitution: a word whose commands run too.
        this.pos += 2;
        if (!this.nested()) return false;
        word += EXPANSION;
        inWord = true;
        continue;
      }
      if (c === '<' || c === '>' || (c === '&' && next === '>')) {
        // An all-digit word right before the operator is a file descriptor (2>&1).
        if (inWord && !quoted && /^[0-9]+$/.test(word)) { word = ''; inWord = false; }
        endWord();
        redirect = this.redirection();
        continue;
      }
      if (c === ';' || c === '&' || c === '|') {
        endCommand();
        this.pos += operatorLength(src, this.pos);
        continue;
      }
      if (c === '(') {
        endCommand();
        parens++;
        this.pos++;
        continue;
      }
      if (c === ')') {
        endCommand();
        this.pos++;
        if (parens > 0) { parens--; continue; }
        if (nested) return true;
        continue;                 // a stray `)` (e.g. a case pattern) just ends a command
      }
      word += c;
      inWord = true;
      this.pos++;
    }
    endCommand();
    return !nested;               // a `$(` that never closed
  }

  /** Reads a redirection operator at pos; returns what the next word is. */
  private redirection(): Redirect {
    const src = this.src;
    for (const op of ['<<<', '<<-', '&>>', '<<', '>>', '>|', '<>', '<&', '>&', '&>', '<', '>']) {
      if (src.startsWith(op, this.pos)) {
        this.pos += op.length;
        if (op === '<<-') return 'heredoc-strip';
        if (op === '<<') return 'heredoc';
        return 'target';
      }
    }
    this.pos++;
    return 'target';
  }

  /** Skips the bodies of here-documents opened on the line just ended. */
  private skipHeredocBodies(heredocs: readonly PendingHeredoc[]): void {
    for (const doc of heredocs) {
      while (this.pos < this.src.length) {
        const end = this.src.indexOf('\n', this.pos);
        const stop = end < 0 ? this.src.length : end;
        let line = this.src.slice(this.pos, stop);
        this.pos = end < 0 ? stop : stop + 1;
        if (doc.stripTabs) line = line.replace(/^\t+/, '');
        if (line === doc.delimiter) break;
      }
    }
  }

  /** After an opening `"`: the text up to the closing `"`, or undefined if none. */
  private doubleQuoted(): string | undefined {
    const src = this.src;
    let out = '';
    while (this.pos < src.length) {
      const c = src[this.pos] as string;
      if (c === '"') { this.pos++; return out; }
      if (c === '\\') {
        const next = src[this.pos + 1];
        if (next === '\n') { this.pos += 2; continue; }
        if (next === '"' || next === '\\' || next === '$' || next === '`') {
          out += next;
          this.pos += 2;
          continue;
        }
        out += c;
        this.pos++;
        continue;
      }
      if (c === '$') {
        const text = this.dollar();
        if (text === undefined) return undefined;
        out += text;
        continue;
      }
      if (c === '`') {
        if (!this.backtick()) return undefined;
        out += EXPANSION;
        continue;
      }
      out += c;
      this.pos++;
    }
    return undefined;
  }

  /** At a `$`: consumes the expansion and returns its stand-in text. */
  private dollar(): string | undefined {
    const src = this.src;
    const next = src[this.pos + 1];
    if (next === '(' && src[this.pos + 2] === '(') {
      // Arithmetic: no commands run, the value is a number.
      const end = src.indexOf('))', this.pos + 3);
      if (end < 0) return undefined;
      this.pos = end + 2;
      return EXPANSION;
    }
    if (next === '(') {
      this.pos += 2;
      return this.nested() ? EXPANSION : undefined;
    }
    if (next === '{') {
      const end = src.indexOf('}', this.pos + 2);
      if (end < 0) return undefined;
      this.pos = end + 1;
      return EXPANSION;
    }
    if (next === "'") {
      // $'...' (ANSI-C quoting): keep the text, drop the escapes' backslashes.
      let out = '';
      let i = this.pos + 2;
      while (i < src.length && src[i] !== "'") {
        if (src[i] === '\\' && i + 1 < src.length) i++;
        out += src[i];
        i++;
      }
      if (i >= src.length) return undefined;
      this.pos = i + 1;
      return out;
    }
    if (next !== undefined && /[A-Za-z_]/.test(next)) {
      let i = this.pos + 2;
      while (i < src.length && /[A-Za-z0-9_]/.test(src[i] as string)) i++;
      this.pos = i;
      return EXPANSION;
    }
    if (next !== undefined && /[0-9@*#?$!-]/.test(next)) {
      this.pos += 2;
      return EXPANSION;
    }
    this.pos++;
    return '$';
  }

  /** After `$(` or `<(`: reads the inner commands into this.commands. */
  private nested(): boolean {
    if (this.depth + 1 > MAX_NESTING) return false;
    const inner = new Lexer(this.src, this.depth + 1);
    inner.pos = this.pos;
    const ok = inner.list(true);
    this.commands.push(...inner.commands);
    this.pos = inner.pos;
    return ok;
  }

  /** At a backtick: reads the inner text (its own escaping rules) as commands. */
  private backtick(): boolean {
    const src = this.src;
    let inner = '';
    let i = this.pos + 1;
    while (i < src.length && src[i] !== '`') {
      const c = src[i] as string;
      const next = src[i + 1];
      if (c === '\\' && (next === '`' || next === '\\' || next === '$')) {
        inner += next;
        i += 2;
        continue;
      }
      inner += c;
      i++;
    }
    if (i >= src.length) return false;
    this.pos = i + 1;
    const lexer = new Lexer(inner, this.depth + 1);
    if (!lexer.run()) return false;
    this.commands.push(...lexer.commands);
    return true;
  }
}

/** Length of the control operator at `pos` (`;;&`, `&&`, `|&`, `;`, …). */
function operatorLength(src: string, pos: number): number {
  for (const op of [';;&', ';;', ';&', '&&', '||', '|&']) {
    if (src.startsWith(op, pos)) return op.length;
  }
  return 1;
}
