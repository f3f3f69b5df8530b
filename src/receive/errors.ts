import { IntentdnsError, errnoCode } from '../errors.js';
import type { Transport } from '../pipeline/types.js';

/**
 * A listen address could not be bound. `address` is the configured text
 * ("127.0.0.1:5353", "[::1]:5353"), `systemCode` the errno name when the OS
 * gave one (EADDRINUSE, EACCES, EADDRNOTAVAIL), `cause` the original error.
 */
export class ListenError extends IntentdnsError {
  static readonly CODE = 'IDNS_ERR_LISTEN';
  readonly address: string;
  readonly transport: Transport;
  readonly systemCode: string | null;

  constructor(address: string, transport: Transport, cause: unknown) {
    const systemCode = errnoCode(cause) ?? null;
    const why = systemCode ?? (cause instanceof Error ? cause.message : String(cause));
    super(ListenError.CODE, `cannot listen on ${address} (${transport}): ${why}`, { cause });
    this.address = address;
    this.transport = transport;
    this.systemCode = systemCode;
  }
}
