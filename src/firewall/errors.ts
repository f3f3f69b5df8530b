import { IntentdnsError } from '../errors.js';

/**
 * Why an nft run failed, so `serve` can name the missing piece:
 *   nft_missing  the nft binary is not on PATH;
 *   permission   the kernel said no (CAP_NET_ADMIN missing);
 *   nft_failed   nft ran and rejected the batch (its stderr is the message);
 *   nft_timeout  nft did not finish in time and was killed.
 */
export type NftFailure = 'nft_missing' | 'permission' | 'nft_failed' | 'nft_timeout';

export class NftError extends IntentdnsError {
  constructor(readonly failure: NftFailure, message: string, options?: { cause?: unknown }) {
    super(`firewall_${failure}`, message, options);
  }
}

/** The table (or a role's sets) could not be created at start: `serve` exits with this message. */
export class FirewallStartError extends IntentdnsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('firewall_start', message, options);
  }
}
