import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/** The fields of a decision log line that suggest and replay read back. */
export interface LoggedQuery {
  readonly client: string;
  readonly agent?: string;
  readonly role?: string;
  readonly qname: string;
  readonly qtype: string;
  readonly action: string;
  readonly reason: string;
  readonly rule?: string;
  /** The answer's rcode ("NOERROR", "NXDOMAIN"), when the line has one. */
  readonly rcode?: string;
  /** The addresses of the answer, when the line has them. */
  readonly answers?: readonly string[];
  readonly wouldBlock: boolean;
  /** The line's time, epoch milliseconds (pino's `time`), when it has one. */
  readonly time?: number;
}

/** Lines that were neither a decision line nor another JSON log line: counted, and the first kept to show. */
export class UnreadableLines {
  count = 0;
  first: string | undefined;

  add(line: string): void {
    this.count++;
    this.first ??= line.length > 120 ? `${line.slice(0, 120)}…` : line;
  }

  /** One line for stderr, or undefined when every line was read. */
  describe(source: string): string | undefined {
    if (this.count === 0) return undefined;
    return `${source}: skipped ${this.count} ${this.count === 1 ? 'line' : 'lines'} that are not decision log lines, the first: ${this.first}`;
  }
}

/**
 * journald's prefix before the message, as `journalctl -u intentdns` prints
 * it: `Dec 01 12:34:56 host node[1234]: ` (short, the default) or
 * `2024-12-01T12:34:56+0000 host node[1234]: ` (short-iso, short-iso-precise).
 */
const JOURNAL_PREFIX = /^(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?) \S+ [^\s:[]+(?:\[\d+\])?: /;

/**
 * Reads the `msg: "query"` lines of an NDJSON log (`-`: `stdin`), with or
 * without journald's prefix. Other JSON log lines are passed over; anything
 * else (text from other programs, a line cut off by a rotated file, a query
 * line missing its fields) goes to `unreadable`. Empty lines and journalctl's
 * own "-- Boot …" / "-- No entries --" lines are neither.
 */
export async function* readDecisionLog(
  source: string, unreadable = new UnreadableLines(), stdin: NodeJS.ReadableStream = process.stdin,
): AsyncGenerator<LoggedQuery> {
  const input = source === '-' ? stdin : createReadStream(source, 'utf8');
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const raw of lines) {
    if (raw.trim() === '' || raw.startsWith('-- ')) continue;
    const line = raw.replace(JOURNAL_PREFIX, '');
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      unreadable.add(raw);
      continue;
    }
    if (typeof entry !== 'object' || entry === null) {
      unreadable.add(raw);
      continue;
    }
    if ((entry as Record<string, unknown>).msg !== 'query') continue;
    const q = toLoggedQuery(entry as Record<string, unknown>);
    if (q) yield q;
    else unreadable.add(raw);
  }
}

function toLoggedQuery(e: Record<string, unknown>): LoggedQuery | undefined {
  const { client, qname, qtype, action, reason } = e;
  if (typeof client !== 'string' || typeof qname !== 'string' || typeof qtype !== 'string'
    || typeof action !== 'string' || typeof reason !== 'string') return undefined;
  return {
    client, qname, qtype, action, reason,
    ...(typeof e.agent === 'string' && { agent: e.agent }),
    ...(typeof e.role === 'string' && { role: e.role }),
    ...(typeof e.rule === 'string' && { rule: e.rule }),
    ...(typeof e.rcode === 'string' && { rcode: e.rcode }),
    ...(Array.isArray(e.answers) && { answers: e.answers.filter((a): a is string => typeof a === 'string') }),
    wouldBlock: e.would_block === true,
    ...(typeof e.time === 'number' && Number.isFinite(e.time) && { time: e.time }),
  };
}
