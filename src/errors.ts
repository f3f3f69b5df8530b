/**
 * The one base class for faults (outcomes such as "blocked" are values, not
 * errors). Callers branch on `code` or `instanceof`, never on message text.
 */
export class IntentdnsError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * The `code` of a Node error — a system error's errno name ("ENOENT",
 * "EADDRINUSE") or Node's own ("ERR_PARSE_ARGS_UNKNOWN_OPTION") — or
 * undefined when `err` has no string code.
 */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}
