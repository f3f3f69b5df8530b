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
