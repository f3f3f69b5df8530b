import { pino, type Logger } from 'pino';

/** Info lines of the decision log, made as text and written to the logger's destination. */
export interface InfoLines {
  /** Whether the logger writes info lines now: the level may change on reload, so a number compare per line. */
  enabled(): boolean;
  /** The line for `fields` (JSON object members, without the braces) and `msg`, ending in "\n". */
  format(fields: string, msg: string): string;
  write(line: string): void;
}

/**
 * Info lines for the decision log (one line per query at `log.queries: all`)
 * that skip pino's per-line work: pino walks every key of the object and runs
 * the redaction on it, which cost more than the rest of a cached answer. The
 * line is the one pino writes —
 * `{"level":30,"time":…,<the logger's bindings>,<fields>,"msg":…}` — and goes
 * to the logger's own destination, so the output bound (log-output.ts) holds
 * for it too. Nothing is redacted: only for fields that never hold a secret.
 * Formatting and writing are apart so the decision stream can send the same
 * text without the log writing it (log.queries, log.level).
 */
export function infoLines(log: Logger): InfoLines {
  const stream = (log as unknown as Record<symbol, pino.DestinationStream>)[pino.symbols.streamSym]!;
  const bindings = (log as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] ?? '';
  return {
    enabled: () => log.levelVal <= 30,
    format: (fields, msg) => `{"level":30,"time":${Date.now()}${bindings}${fields === '' ? '' : `,${fields}`},"msg":${JSON.stringify(msg)}}\n`,
    write: (line) => void stream.write(line),
  };
}
