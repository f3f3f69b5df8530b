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
  readonly wouldBlock: boolean;
  /** The line's time, epoch milliseconds (pino's `time`), when it has one. */
  readonly time?: number;
}

/**
 * Reads the `msg: "query"` lines of an NDJSON log, skipping everything else
 * (other log lines, lines cut off by a rotated file, lines from other programs).
 */
export async function* readDecisionLog(file: string): AsyncGenerator<LoggedQuery> {
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.includes('"query"')) continue;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    const q = toLoggedQuery(entry);
    if (q) yield q;
  }
}

function toLoggedQuery(entry: unknown): LoggedQuery | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const e = entry as Record<string, unknown>;
  if (e.msg !== 'query') return undefined;
  const { client, qname, qtype, action, reason } = e;
  if (typeof client !== 'string' || typeof qname !== 'string' || typeof qtype !== 'string'
    || typeof action !== 'string' || typeof reason !== 'string') return undefined;
  return {
    client, qname, qtype, action, reason,
    ...(typeof e.agent === 'string' && { agent: e.agent }),
    ...(typeof e.role === 'string' && { role: e.role }),
    ...(typeof e.rule === 'string' && { rule: e.rule }),
    wouldBlock: e.would_block === true,
    ...(typeof e.time === 'number' && Number.isFinite(e.time) && { time: e.time }),
  };
}
