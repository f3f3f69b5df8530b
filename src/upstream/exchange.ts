import { randomFillSync } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import type { Logger } from 'pino';
import type { HostPort } from '../config/types.js';
import { IntentdnsError, errnoCode } from '../errors.js';
import { buildQuery } from '../wire/build.js';
import { FLAG, RCODE, rcodeName } from '../wire/constants.js';
import { DEFAULT_MAX_BUFFERED, FrameReader, frame } from '../wire/framing.js';
import { answersQuery, walkResponse, type ResponseView } from '../wire/response.js';
import {
  UpstreamMalformedError, UpstreamNetworkError, UpstreamRcodeError, UpstreamTimeoutError,
  type AttemptOutcome, type UpstreamError, type UpstreamTransport,
} from './errors.js';
import { questionKey } from '../wire/question-key.js';

/**
 * Exchange with the upstream servers: tried in order, one attempt each, UDP
 * first and the same server again over TCP when the UDP answer is truncated.
 *
 * Spoof resistance (RFC 5452): every attempt uses a fresh random id and a
 * fresh socket, so a fresh random source port, `connect()`ed to the upstream so
 * the kernel delivers only that address and port. A packet counts only if it
 * is the answer to our question (`answersQuery`: id, QR, question); anything
 * else is ignored and the wait for the real answer goes on until the timeout
 * (over TCP, also until the read cap, MAX_TCP_READ).
 *
 * Failover: on timeout, network error (ECONNREFUSED from an ICMP port
 * unreachable), an undecodable answer, and on any rcode other than NOERROR or
 * NXDOMAIN. SERVFAIL is the upstream's own failure. REFUSED from a recursive
 * upstream almost always means its ACL does not include us — a
 * misconfiguration, not an answer for the agent — so it is a failure too, and
 * logged once per upstream at warn. FORMERR / NOTIMP to a query we built
 * ourselves say the same about that server. An upstream NXDOMAIN is an answer
 * and is passed through.
 *
 * Bound: each attempt (a UDP exchange, or its TCP retry) gets `timeoutMs`, so
 * an exchange with every upstream silent ends after timeoutMs × servers.
 */

export type UpstreamResult =
  | { readonly ok: true; readonly view: ResponseView; readonly upstream: string }
  | {
      readonly ok: false;
      /** One line for the log: "all upstreams failed: 127.0.0.1:5300 udp timeout after 1500ms; [::1]:5300 udp ECONNREFUSED". */
      readonly error: string;
      /** Each failed attempt, in order. */
      readonly failures: readonly UpstreamError[];
    };

export interface ExchangeOptions {
  readonly dnssecOk: boolean;
  readonly checkingDisabled: boolean;
}

/** Called once per attempt: for `upstream_requests_total{upstream,outcome}` and `upstream_duration_seconds{upstream}`. */
export type AttemptHook = (upstream: string, outcome: AttemptOutcome, seconds: number) => void;

export interface UpstreamsOptions {
  readonly servers: readonly HostPort[];
  readonly timeoutMs: number;
  readonly log: Logger;
  readonly onAttempt?: AttemptHook;
}

export class UpstreamConfigError extends IntentdnsError {
  static readonly CODE = 'IDNS_ERR_UPSTREAM_CONFIG';

  constructor(message: string) {
    super(UpstreamConfigError.CODE, message);
  }
}

export class Upstreams {
  readonly #servers: readonly HostPort[];
  readonly #timeoutMs: number;
  readonly #log: Logger;
  readonly #onAttempt: AttemptHook | undefined;
  /** Exchanges in flight by question key: a burst of one name sends one upstream query. */
  readonly #inflight = new Map<string, Promise<UpstreamResult>>();
  /** Upstreams we already warned about for answering REFUSED. */
  readonly #warnedRefused = new Set<string>();

  constructor(opts: UpstreamsOptions) {
    if (opts.servers.length === 0) throw new UpstreamConfigError('no upstream servers');
    if (!(opts.timeoutMs > 0)) throw new UpstreamConfigError(`upstream timeout must be positive, got ${opts.timeoutMs}`);
    this.#servers = [...opts.servers];
    this.#timeoutMs = opts.timeoutMs;
    this.#log = opts.log;
    this.#onAttempt = opts.onAttempt;
  }

  /** Number of distinct questions currently being asked upstream. */
  get inflight(): number {
    return this.#inflight.size;
  }

  /**
   * Asks the upstreams `question` (a canonical question section). Never
   * rejects. Identical questions (same bytes, DO and CD) asked while one is in
   * flight share its result; the view is read-only, so sharing is safe.
   */
  exchange(question: Buffer, opts: ExchangeOptions): Promise<UpstreamResult> {
    const key = questionKey(question, opts.dnssecOk, opts.checkingDisabled);
    const pending = this.#inflight.get(key);
    if (pending) return pending;
    const started = this.#exchange(question, opts)
      .catch((err: unknown): UpstreamResult => {
        // Not reachable by design; kept so a bug here costs one SERVFAIL, not the process.
        this.#log.error({ err }, 'upstream exchange failed unexpectedly');
        return { ok: false, error: `internal error: ${String(err)}`, failures: [] };
      })
      .finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, started);
    return started;
  }

  async #exchange(question: Buffer, opts: ExchangeOptions): Promise<UpstreamResult> {
    const failures: UpstreamError[] = [];
    for (const server of this.#servers) {
      const result = await this.#attempt(server, question, opts);
      if (!(result instanceof Error)) return { ok: true, view: result, upstream: server.text };
      failures.push(result);
      this.#log.debug({ upstream: server.text, code: result.code, reason: result.message }, 'upstream attempt failed');
      if (result.outcome === 'refused' && !this.#warnedRefused.has(server.text)) {
        this.#warnedRefused.add(server.text);
        this.#log.warn({ upstream: server.text }, 'upstream answered REFUSED; check that it allows recursion for this host');
      }
    }
    const error = `all upstreams failed: ${failures.map((f) => `${f.upstream} ${f.message}`).join('; ')}`;
    return { ok: false, error, failures };
  }

  /** One server: UDP, then TCP if the UDP answer was truncated. */
  async #attempt(server: HostPort, question: Buffer, opts: ExchangeOptions): Promise<ResponseView | UpstreamError> {
    let transport: UpstreamTransport = 'udp';
    let started = performance.now();
    let got = await exchangeUdp(server, buildQuery(nextId(), question, opts), question, this.#timeoutMs);
    if (!(got instanceof Error) && (got.readUInt16BE(2) & FLAG.TC) !== 0) {
      this.#report(server.text, 'truncated', started);
      transport = 'tcp';
      started = performance.now();
      got = await exchangeTcp(server, buildQuery(nextId(), question, opts), question, this.#timeoutMs);
    }
    const outcome = got instanceof Error ? got : classify(server.text, transport, got, question.length);
    this.#report(server.text, outcome instanceof Error ? outcome.outcome : 'ok', started);
    return outcome;
  }

  #report(upstream: string, outcome: AttemptOutcome, started: number): void {
    if (!this.#onAttempt) return;
    try {
      this.#onAttempt(upstream, outcome, (performance.now() - started) / 1000);
    } catch (err) {
      this.#log.error({ err }, 'upstream onAttempt hook threw');
    }
  }
}

function classify(upstream: string, transport: UpstreamTransport, buf: Buffer, questionLength: number): ResponseView | UpstreamError {
  let view: ResponseView;
  try {
    view = walkResponse(buf, questionLength);
  } catch (err) {
    return new UpstreamMalformedError(upstream, transport, { cause: err });
  }
  if (view.rcode === RCODE.NOERROR || view.rcode === RCODE.NXDOMAIN) return view;
  return new UpstreamRcodeError(upstream, transport, view.rcode, rcodeName(view.rcode));
}

// Query ids come from a pool of random bytes, refilled when used up: one
// CSPRNG call per 512 queries instead of one per query.
const idPool = new Uint16Array(512);
let idNext = idPool.length;

function nextId(): number {
  if (idNext === idPool.length) {
    randomFillSync(idPool);
    idNext = 0;
  }
  return idPool[idNext++]!;
}

/** Short text for a socket error: its code when it has one ("ECONNREFUSED"). */
function networkDetail(err: unknown): string {
  return errnoCode(err) ?? (err instanceof Error ? err.message : String(err));
}

/**
 * One UDP exchange on a fresh socket. Resolves with the first packet that
 * answers our query, or with the reason there was none; only after the socket
 * is closed, so nothing outlives the exchange.
 */
function exchangeUdp(server: HostPort, query: Buffer, question: Buffer, timeoutMs: number): Promise<Buffer | UpstreamError> {
  const id = query.readUInt16BE(0);
  return new Promise((resolve) => {
    const socket = dgram.createSocket(server.family === 6 ? 'udp6' : 'udp4');
    let remote: { address: string; port: number } | null = null;
    let done = false;
    const finish = (result: Buffer | UpstreamError): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.removeAllListeners('message');
      // The 'error' listener stays: a late error on a closing socket must not become an uncaught exception.
      socket.close(() => resolve(result));
    };
    const timer = setTimeout(() => finish(new UpstreamTimeoutError(server.text, 'udp', timeoutMs)), timeoutMs);
    socket.on('error', (err) => finish(new UpstreamNetworkError(server.text, 'udp', networkDetail(err), { cause: err })));
    socket.on('message', (msg, rinfo) => {
      // The connected socket already filters by source; this check keeps that true if the socket is ever shared.
      if (remote === null || rinfo.port !== remote.port || rinfo.address !== remote.address) return;
      if (answersQuery(msg, id, question)) finish(msg);
    });
    socket.connect(server.port, server.host, () => {
      if (done) return;
      remote = socket.remoteAddress();
      socket.send(query, (err) => {
        if (err) finish(new UpstreamNetworkError(server.text, 'udp', networkDetail(err), { cause: err }));
      });
    });
  });
}

/**
 * Bytes one TCP exchange reads at most. We send one query, so a well-behaved
 * upstream sends one frame (at most 2 + 65 535 bytes); the rest is room for a
 * few stray frames before it. An upstream that streams past this without
 * answering fails at once instead of keeping us reading until the timeout.
 */
const MAX_TCP_READ = DEFAULT_MAX_BUFFERED;

/**
 * One TCP exchange (RFC 7766 framing: a 2-byte length before each message,
 * read by wire/framing.ts). Reads frames until one answers our query; frames
 * may arrive split across chunks or several in one chunk.
 */
function exchangeTcp(server: HostPort, query: Buffer, question: Buffer, timeoutMs: number): Promise<Buffer | UpstreamError> {
  const id = query.readUInt16BE(0);
  return new Promise((resolve) => {
    const socket = net.connect({ host: server.host, port: server.port, family: server.family, noDelay: true });
    const reader = new FrameReader(MAX_TCP_READ);
    let received = 0;
    let closed = false;
    let done = false;
    let result: Buffer | UpstreamError | null = null;
    const finish = (r: Buffer | UpstreamError): void => {
      if (done) return;
      done = true;
      result = r;
      clearTimeout(timer);
      reader.reset();
      if (closed) resolve(r);
      else socket.destroy();        // resolves from 'close'
    };
    const timer = setTimeout(() => finish(new UpstreamTimeoutError(server.text, 'tcp', timeoutMs)), timeoutMs);
    socket.on('close', () => {
      closed = true;
      if (done) resolve(result!);
      else finish(new UpstreamNetworkError(server.text, 'tcp', 'connection closed before an answer'));
    });
    socket.on('error', (err) => finish(new UpstreamNetworkError(server.text, 'tcp', networkDetail(err), { cause: err })));
    socket.on('end', () => finish(new UpstreamNetworkError(server.text, 'tcp', 'connection closed before an answer')));
    socket.on('connect', () => socket.write(frame(query)));
    socket.on('data', (chunk: Buffer) => {
      if (done) return;
      received += chunk.length;
      if (received > MAX_TCP_READ || !reader.push(chunk)) {
        return finish(new UpstreamNetworkError(server.text, 'tcp', `sent more than ${MAX_TCP_READ} bytes without an answer`));
      }
      // next() copies each message out, so a cached view does not pin the read chunk.
      for (let message = reader.next(); message !== null; message = reader.next()) {
        if (answersQuery(message, id, question)) return finish(message);
      }
    });
  });
}
