import { IntentdnsError } from '../errors.js';

/** Text given as a quarantine range that is not one ("10.0.0.1/8", "nope"); the message says why, for a 400. */
export class QuarantineTargetError extends IntentdnsError {
  static readonly CODE = 'IDNS_ERR_QUARANTINE_TARGET';

  constructor(message: string) {
    super(QuarantineTargetError.CODE, message);
  }
}

/** Adding would pass MAX_QUARANTINE_ENTRIES: a bound, like everything an API caller can make us hold. */
export class QuarantineFullError extends IntentdnsError {
  static readonly CODE = 'IDNS_ERR_QUARANTINE_FULL';

  constructor(readonly max: number) {
    super(QuarantineFullError.CODE, `the quarantine list is full (${max} entries); lift some first`);
  }
}
