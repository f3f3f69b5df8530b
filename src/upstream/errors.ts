import { IntentdnsError } from '../errors.js';

/**
 * How one attempt at one upstream ended. A closed set, so it is safe as the
 * `outcome` label of `upstream_requests_total`.
 *  - ok: a usable answer (NOERROR or NXDOMAIN)
 *  - timeout: no acceptable answer within the per-attempt timeout
 *  - servfail: the upstream answered SERVFAIL
 *  - refused: the upstream answered REFUSED (usually its ACL does not include us)
 *  - error: network error (ECONNREFUSED, reset, …), an undecodable answer, or another rcode
 *  - truncated: TC over UDP; the same upstream is asked again over TCP
 */
export type AttemptOutcome = 'ok' | 'timeout' | 'servfail' | 'refused' | 'error' | 'truncated';

export const ATTEMPT_OUTCOMES: readonly AttemptOutcome[] = ['ok', 'timeout', 'servfail', 'refused', 'error', 'truncated'];

export type UpstreamTransport = 'udp' | 'tcp';

/**
 * One failed attempt. Never thrown out of `Upstreams.exchange`: collected in
 * the `ok: false` result so the caller can log them and answer SERVFAIL.
 * The message is short ("udp timeout", "tcp ECONNRESET", "answered SERVFAIL").
 */
export abstract class UpstreamError extends IntentdnsError {
  abstract readonly outcome: Exclude<AttemptOutcome, 'ok' | 'truncated'>;
  readonly upstream: string;
  readonly transport: UpstreamTransport;

  constructor(code: string, upstream: string, transport: UpstreamTransport, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.upstream = upstream;
    this.transport = transport;
  }
}

export class UpstreamTimeoutError extends UpstreamError {
  static readonly CODE = 'IDNS_ERR_UPSTREAM_TIMEOUT';
  readonly outcome = 'timeout' as const;

  constructor(upstream: string, transport: UpstreamTransport, timeoutMs: number) {
    super(UpstreamTimeoutError.CODE, upstream, transport, `${transport} timeout after ${timeoutMs}ms`);
  }
}

/**
 * A socket error: ECONNREFUSED (ICMP port unreachable on our connected UDP
 * socket), ECONNRESET, a closed TCP stream, a TCP stream that runs past the
 * read cap without an answer, …
 */
export class UpstreamNetworkError extends UpstreamError {
  static readonly CODE = 'IDNS_ERR_UPSTREAM_NETWORK';
  readonly outcome = 'error' as const;

  constructor(upstream: string, transport: UpstreamTransport, detail: string, options?: { cause?: unknown }) {
    super(UpstreamNetworkError.CODE, upstream, transport, `${transport} ${detail}`, options);
  }
}

/** An answer that matched our query but could not be walked (`cause` is the DecodeError). */
export class UpstreamMalformedError extends UpstreamError {
  static readonly CODE = 'IDNS_ERR_UPSTREAM_MALFORMED';
  readonly outcome = 'error' as const;

  constructor(upstream: string, transport: UpstreamTransport, options?: { cause?: unknown }) {
    super(UpstreamMalformedError.CODE, upstream, transport, `${transport} undecodable answer`, options);
  }
}

/** A well-formed answer with an rcode we do not pass on (SERVFAIL, REFUSED, FORMERR, NOTIMP, …). */
export class UpstreamRcodeError extends UpstreamError {
  static readonly CODE = 'IDNS_ERR_UPSTREAM_RCODE';
  readonly outcome: 'servfail' | 'refused' | 'error';
  readonly rcode: number;

  constructor(upstream: string, transport: UpstreamTransport, rcode: number, rcodeText: string) {
    super(UpstreamRcodeError.CODE, upstream, transport, `answered ${rcodeText}`);
    this.rcode = rcode;
    this.outcome = rcode === 2 ? 'servfail' : rcode === 5 ? 'refused' : 'error';
  }
}

/**
 * No socket could be opened for an attempt (the SocketBudget is used up, or
 * the pool has none left): our shortage, not the upstream's. Not an attempt:
 * it changes no upstream's health, is not counted per upstream, and is not
 * remembered in the failure cache.
 */
export class NoSocketError extends IntentdnsError {
  static readonly CODE = 'IDNS_ERR_NO_UPSTREAM_SOCKET';

  constructor(max: number) {
    super(NoSocketError.CODE, `no upstream socket free (all ${max} in use)`);
  }
}
