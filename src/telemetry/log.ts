import { pino, type Logger } from 'pino';

/**
 * NDJSON on stdout, as the spec asks. Bearer tokens never reach a log line,
 * whatever object someone passes in by mistake.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: null,
    redact: { paths: ['token', '*.token', 'headers.authorization', '*.headers.authorization'], censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * `text` cut to `max` characters with an ellipsis, for a log field holding a
 * string someone else chose (a URL path, an event id): a log line stays one
 * short line whatever arrives. undefined stays undefined (pino omits it).
 */
export function clip(text: string, max: number): string;
export function clip(text: string | undefined, max: number): string | undefined;
export function clip(text: string | undefined, max: number): string | undefined {
  return text === undefined || text.length <= max ? text : `${text.slice(0, max)}…`;
}
