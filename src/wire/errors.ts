import { IntentdnsError } from '../errors.js';

/** A DNS message that does not follow the wire format. `offset` says where reading stopped. */
export class DecodeError extends IntentdnsError {
  readonly offset: number;

  constructor(message: string, offset: number, options?: { cause?: unknown }) {
    super('IDNS_ERR_DECODE', `${message} (at byte ${offset})`, options);
    this.offset = offset;
  }
}
