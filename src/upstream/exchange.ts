import net from 'node:net';
import type { Logger } from 'pino';
import type { HostPort, UpstreamStrategy } from '../config/types.js';
import { IntentdnsError, errnoCode } from '../errors.js';
import { buildQuery } from '../wire/build.js';
import { FLAG, RCODE, rcodeName } from '../wire/constants.js';
import { DEFAULT_MAX_BUFFERED, FrameReader, frame } from '../wire/framing.js';
import { answersQuery, walkResponse, type ResponseView } from '../wire/response.js';
import {
  NoSocketError, UpstreamMalformedError, UpstreamNetworkError, UpstreamRcodeError, UpstreamTimeoutError,
  type AttemptOutcome, type UpstreamError, type UpstreamTransport,
} from './errors.js';
import { questionKey } from '../wire/question-key.js';
import { FailureCache } from './failure-cache.js';
import { UpstreamHealth, type ServerHealth } from './health.js';
import { rank, type Ranked } from './strategy.js';
import type { SocketBudget } from '../limit/sockets.js';
import { randomUint16 } from './random.js';
import { UdpPools } from './udp-pool.js';

/**
 * Exchange with the upstream servers: tried in the strategy's order
 * (strategy.ts), one attempt each, UDP first and the same server again over
 * TCP when the UDP answer is truncated.
 *
 * Spoof resistance (RFC 5452): a UDP attempt leaves from a random socket of
 * the upstream's pool (udp-pool.ts: random ports, `connect()`ed, renewed
 * over time) with a random id; a TCP retry gets a fresh connection and id. A
 * packet counts only if it is the answer to our question (`answersQuery`: id,
 * QR, question); anything else is ignored and the wait for the real answer
 * goes on until the timeout (over TCP, also until the read cap, MAX_TCP_READ).
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
 * Health (health.ts): an upstream whose last attempt timed out or met a
 * network error is down. A down upstream is skipped while another is up, and
 * probed in the background once its back-off has run out; it is still asked,
 * last, when every upstream that is up has failed too, so a config with one
 * upstream never stops trying it. A silent first upstream costs one timeout,
 * not one per cache miss.
 *
 * Failure cache (failure-cache.ts): a question every upstream failed is
 * answered from there, without asking anyone, for the next 5 s.
 *
 * Bound: each attempt (a UDP exchange, or its TCP retry) gets `timeoutMs`, so
 * an exchange with every upstream silent ends after timeoutMs × servers.
 * Every socket open to an upstream holds one slot of the `sockets` budget: a
 * pooled UDP socket while it is open, a TCP retry while it runs; with none
 * free the attempt fails at once rather than run the process out of file
 * descriptors.
 */

export type UpstreamResult =
  | { readonly ok: true; readonly view: ResponseView; readonly upstream: string }
  | {
      readonly ok: false;
      /** One line for the log: "all upstreams failed: 127.0.0.1:5300 udp timeout after 1500ms; [::1]:5300 udp ECONNREFUSED". */
      readonly error: string;
      /** Each failed attempt, in order (none when the failure came from the failure cache). */
      readonly failures: readonly UpstreamError[];
      /** Answered from the failure cache: nobody was asked this time. */
      readonly cached: boolean;
    };

export interface ExchangeOptions {
  readonly dnssecOk: boolean;
  readonly checkingDisabled: boolean;
}

/** Called once per attempt: for `upstream_requests_total{upstream,outcome}` and `upstream_duration_seconds{upstream}`. */
export type AttemptHook = (upstream: string, outcome: AttemptOutcome, seconds: number) => void;

/** Called once per attempt not made because the upstream was down and another answered: for `upstream_skipped_total{upstream}`. */
export type SkipHook = (upstream: string) => void;

export interface UpstreamsOptions {
  readonly servers: readonly HostPort[];
  readonly timeoutMs: number;
  readonly log: Logger;
  /** Default `ordered` (v1). */
  readonly strategy?: UpstreamStrategy;
  /** Shared across reloads by the server; default a fresh one. */
  readonly health?: UpstreamHealth;
  readonly onAttempt?: AttemptHook;
  readonly onSkip?: SkipHook;
  /** Shared by every config snapshot; without it, sockets are bounded only by the pools' sizes and the callers. */
  readonly sockets?: SocketBudget;
  /** The UDP sockets to the upstreams, shared by every config snapshot; default: this instance's own (closed by close()). */
  readonly pools?: UdpPools;
}

/** The probe's question: the root NS, which every recursive resolver has (RFC 8109 priming) and answers at once. */
const PROBE_QUESTION = Buffer.from([0, 0, 2, 0, 1]);
const PROBE_OPTIONS: ExchangeOptions = { dnssecOk: false, checkingDisabled: false };

export class UpstreamConfigError extends IntentdnsError {
  static readonly CODE = 'IDNS_ERR_UPSTREAM_CONFIG';

  constructor(message: string) {
    super(UpstreamConfigError.CODE, message);
  }
}

export class Upstreams {
  readonly #servers: readonly Ranked[];
  readonly #timeoutMs: number;
  readonly #strategy: UpstreamStrategy;
  readonly #log: Logger;
  readonly #onAttempt: AttemptHook | undefined;
  readonly #onSkip: SkipHook | undefined;
  readonly #sockets: SocketBudget | undefined;
  readonly #pools: UdpPools;
  /** Pools made by this instance, not shared: close() closes them. */
  readonly #ownPools: boolean;
  /** Exchanges in flight by question key: a burst of one name sends one upstream query. */
  readonly #inflight = new Map<string, Promise<UpstreamResult>>();
  /** Questions every upstream failed in the last 5 s. Per config snapshot: a reload may have changed the servers. */
  readonly #failures = new FailureCache();
  /** Upstreams we already warned about for answering REFUSED. */
  readonly #warnedRefused = new Set<string>();

  constructor(opts: UpstreamsOptions) {
    if (opts.servers.length === 0) throw new UpstreamConfigError('no upstream servers');
    if (!(opts.timeoutMs > 0)) throw new UpstreamConfigError(`upstream timeout must be positive, got ${opts.timeoutMs}`);
    const health = opts.health ?? new UpstreamHealth();
    this.#servers = opts.servers.map((server) => ({ server, health: health.of(server) }));
    this.#timeoutMs = opts.timeoutMs;
    this.#strategy = opts.strategy ?? 'ordered';
    this.#log = opts.log;
    this.#onAttempt = opts.onAttempt;
    this.#onSkip = opts.onSkip;
    this.#sockets = opts.sockets;
    this.#ownPools = opts.pools === undefined;
    this.#pools = opts.pools ?? new UdpPools({ budget: opts.sockets });
  }

  /** Closes the UDP sockets this instance opened itself (shared pools are their owner's to close). */
  close(): void {
    if (this.#ownPools) this.#pools.close();
  }

  /** Number of distinct questions currently being asked upstream. */
  get inflight(): number {
    return this.#inflight.size;
  }

  /** Questions in the failure cache now. */
  get cachedFailures(): number {
    return this.#failures.size;
  }

  /**
   * Asks the upstreams `question` (a canonical question section). Never
   * rejects. A question every upstream failed in the last 5 s gets that
   * failure again, at once. Identical questions (same bytes, DO and CD) asked
   * while one is in flight share its result; the view is read-only, so
   * sharing is safe.
   */
  exchange(question: Buffer, opts: ExchangeOptions): Promise<UpstreamResult> {
    const key = questionKey(question, opts.dnssecOk, opts.checkingDisabled);
    const failed = this.#failures.get(key, performance.now());
    if (failed) {
      const error = `answered from the failure cache (every upstream failed ${(failed.ageMs / 1000).toFixed(1)}s ago): ${failed.error}`;
      return Promise.resolve({ ok: false, error, failures: [], cached: true });
    }
    const pending = this.#inflight.get(key);
    if (pending) return pending;
    const started = this.#exchange(question, opts)
      .then((result) => {
        // Only what the upstreams did is remembered (RFC 9520); a local shortage (no socket free) is not theirs.
        if (!result.ok && result.failures.length > 0) this.#failures.set(key, result.error, performance.now());
        return result;
      })
      .catch((err: unknown): UpstreamResult => {
        // Not reachable by design; kept so a bug here costs one SERVFAIL, not the process. Not cached: it is ours.
        this.#log.error({ err }, 'upstream exchange failed unexpectedly');
        return { ok: false, error: `internal error: ${String(err)}`, failures: [], cached: false };
      })
      .finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, started);
    return started;
  }

  async #exchange(question: Buffer, opts: ExchangeOptions): Promise<UpstreamResult> {
    const failures: UpstreamError[] = [];
    const skipped: Ranked[] = [];
    const ask = async ({ server, health }: Ranked): Promise<UpstreamResult | null> => {
      const result = await this.#ask(server, health, question, opts);
      if (!(result instanceof Error)) return { ok: true, view: result, upstream: server.text };
      if (result instanceof NoSocketError) return { ok: false, error: result.message, failures: [], cached: false };
      failures.push(result);
      this.#log.debug({ upstream: server.text, code: result.code, reason: result.message }, 'upstream attempt failed');
      if (result.outcome === 'refused' && !this.#warnedRefused.has(server.text)) {
        this.#warnedRefused.add(server.text);
        this.#log.warn({ upstream: server.text }, 'upstream answered REFUSED; check that it allows recursion for this host');
      }
      return null;
    };
    for (const ranked of rank(this.#servers, this.#strategy, performance.now())) {
      if (!ranked.health.up) {
        skipped.push(ranked);
        continue;
      }
      const answered = await ask(ranked);
      if (answered) {
        this.#passedOver(skipped);
        return answered;
      }
    }
    // Every upstream that is up failed, or none is: the down ones are the last resort, never given up on.
    for (const ranked of skipped) {
      const answered = await ask(ranked);
      if (answered) return answered;
    }
    const error = `all upstreams failed: ${failures.map((f) => `${f.upstream} ${f.message}`).join('; ')}`;
    return { ok: false, error, failures, cached: false };
  }

  /** Down upstreams that another one answered in place of: counted, and probed when their back-off has run out. */
  #passedOver(skipped: readonly Ranked[]): void {
    const now = performance.now();
    for (const { server, health } of skipped) {
      this.#hook(() => this.#onSkip?.(server.text));
      if (health.claimProbe(now)) void this.#probe(server, health);
    }
  }

  /**
   * One real query (the root NS) to a down upstream, off the query path.
   * Never rejects; the claim ends with it whatever happens.
   */
  async #probe(server: HostPort, health: ServerHealth): Promise<void> {
    let alive = false;
    try {
      const result = await this.#ask(server, health, PROBE_QUESTION, PROBE_OPTIONS);
      alive = !(result instanceof NoSocketError) && !isSilence(result);
      if (!alive) this.#log.debug({ upstream: server.text, reason: (result as Error).message, backoff_ms: health.backoffMs }, 'upstream probe got no answer');
    } catch (err) {
      this.#log.error({ err, upstream: server.text }, 'upstream probe failed unexpectedly');
    } finally {
      health.probeEnded(alive, performance.now());
    }
  }

  /** One attempt, and what it says about the upstream's health. */
  async #ask(server: HostPort, health: ServerHealth, question: Buffer, opts: ExchangeOptions): Promise<ResponseView | UpstreamError | NoSocketError> {
    const sentAt = performance.now();
    const result = await this.#attempt(server, question, opts);
    if (result instanceof NoSocketError) return result;
    const now = performance.now();
    if (isSilence(result)) {
      if (health.failed(sentAt, now)) {
        this.#log.warn(
          { upstream: server.text, reason: result.message, backoff_ms: health.backoffMs },
          'upstream did not answer; skipping it while another answers, and probing it in the background',
        );
      }
    } else if (health.answered(sentAt, now, result instanceof Error ? undefined : now - sentAt)) {
      this.#log.info({ upstream: server.text }, 'upstream answers again; asking it in its turn');
    }
    return result;
  }

  /** One server: UDP, then TCP if the UDP answer was truncated. */
  async #attempt(server: HostPort, question: Buffer, opts: ExchangeOptions): Promise<ResponseView | UpstreamError | NoSocketError> {
    let transport: UpstreamTransport = 'udp';
    let started = performance.now();
    let got = await this.#pools.of(server).exchange(buildQuery(0, question, opts), question, this.#timeoutMs);
    if (!(got instanceof Error) && (got.readUInt16BE(2) & FLAG.TC) !== 0) {
      this.#report(server.text, 'truncated', started);
      transport = 'tcp';
      started = performance.now();
      got = await this.#tcp(server, buildQuery(randomUint16(), question, opts), question);
    }
    if (got instanceof NoSocketError) return got;
    const outcome = got instanceof Error ? got : classify(server.text, transport, got, question.length);
    this.#report(server.text, outcome instanceof Error ? outcome.outcome : 'ok', started);
    return outcome;
  }

  /** A TCP retry, holding one slot of the socket budget while it runs. */
  async #tcp(server: HostPort, query: Buffer, question: Buffer): Promise<Buffer | UpstreamError | NoSocketError> {
    const sockets = this.#sockets;
    if (sockets && !sockets.tryOpen()) return new NoSocketError(sockets.max);
    try {
      return await exchangeTcp(server, query, question, this.#timeoutMs);
    } finally {
      sockets?.close();
    }
  }

  #report(upstream: string, outcome: AttemptOutcome, started: number): void {
    const seconds = (performance.now() - started) / 1000;
    this.#hook(() => this.#onAttempt?.(upstream, outcome, seconds));
  }

  /** Runs a metrics hook; one that throws costs a log line, not the exchange. */
  #hook(run: () => void): void {
    try {
      run();
    } catch (err) {
      this.#log.error({ err }, 'upstream metrics hook threw');
    }
  }
}

/** Only silence takes an upstream down: a timeout or a network error. Any answer, even SERVFAIL, says it is there. */
function isSilence(result: ResponseView | UpstreamError): result is UpstreamTimeoutError | UpstreamNetworkError {
  return result instanceof UpstreamTimeoutError || result instanceof UpstreamNetworkError;
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

/** Short text for a socket error: its code when it has one ("ECONNREFUSED"). */
function networkDetail(err: unknown): string {
  return errnoCode(err) ?? (err instanceof Error ? err.message : String(err));
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
