import { IntentdnsError, errnoCode } from '../errors.js';

/**
 * `listen.http` could not be bound. `address` is the configured text
 * ("127.0.0.1:9153"), `systemCode` the errno name when the OS gave one
 * (EADDRINUSE, EACCES, EADDRNOTAVAIL), `cause` the original error.
 */
export class HttpListenError extends IntentdnsError {
  static readonly CODE = 'IDNS_ERR_HTTP_LISTEN';
  readonly address: string;
  readonly systemCode: string | null;

  constructor(address: string, cause: unknown) {
    const systemCode = errnoCode(cause) ?? null;
    const why = systemCode ?? (cause instanceof Error ? cause.message : String(cause));
    super(HttpListenError.CODE, `cannot listen on ${address} (http): ${why}`, { cause });
    this.address = address;
    this.systemCode = systemCode;
  }
}
