import { pino, type Logger } from 'pino';

/** Writes one info line of `fields` (JSON object members, without the braces) and `msg`. */
export type InfoWriter = (fields: string, msg: string) => void;

/**
 * An info-line writer for the decision log (one line per query at
 * `log.queries: all`) that skips pino's per-line work: pino walks every key
 * of the object and runs the redaction on it, which cost more than the rest
 * of a cached answer. The line is the one pino writes —
 * `{"level":30,"time":…,<the logger's bindings>,<fields>,"msg":…}` — and goes
 * to the logger's own destination, so the output bound (log-output.ts) holds
 * for it too. Nothing is redacted: only for fields that never hold a secret.
 */
export function infoWriter(log: Logger): InfoWriter {
  const stream = (log as unknown as Record<symbol, pino.DestinationStream>)[pino.symbols.streamSym]!;
  const bindings = (log as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] ?? '';
  return (fields, msg) => {
    // The level may change on reload; a number compare per line.
    if (log.levelVal > 30) return;
    stream.write(`{"level":30,"time":${Date.now()}${bindings}${fields === '' ? '' : `,${fields}`},"msg":${JSON.stringify(msg)}}\n`);
  };
}
