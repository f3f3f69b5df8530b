import type { Logger } from 'pino';
import { encodeAnswer, encodeRejection } from '../answer/encode.js';
import type { Config } from '../config/types.js';
import type { Peer } from '../receive/types.js';
import { decodeQuery, type Rejection } from '../wire/query.js';
import { Query, type Next } from './types.js';

/** Told about every packet decode/ would not accept, e.g. for malformed_packets_total. */
export type RejectionObserver = (rejection: Rejection, peer: Peer) => void;

/**
 * One config snapshot's way from bytes to bytes: decode, the stage chain,
 * encode. Reload builds a new Pipeline and swaps it in one assignment; queries
 * already inside the old one finish there.
 */
export class Pipeline {
  constructor(
    readonly config: Config,
    private readonly chain: Next,
    private readonly log: Logger,
    private readonly onRejection?: RejectionObserver,
  ) {}

  async handle(message: Buffer, peer: Peer): Promise<Buffer | null> {
    const receivedAt = performance.now();
    const decoded = decodeQuery(message);
    if (!decoded.ok) {
      const { rejection } = decoded;
      this.onRejection?.(rejection, peer);
      this.log.debug({ client: peer.address, transport: peer.transport, reason: rejection.reason, detail: rejection.detail }, 'malformed packet');
      return encodeRejection(rejection);
    }
    const query = new Query(decoded.query, peer.address, peer.transport, this.log, receivedAt);
    const answer = await this.chain(query);
    return encodeAnswer(query, answer);
  }
}
