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
