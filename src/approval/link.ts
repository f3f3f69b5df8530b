/**
 * The approval link: a long-lived Server-Sent Events stream from the approval
 * service (`GET {url}/v1/dns/events`, spec approval-link.md "Events"), turned
 * into typed ApprovalEvents for the grant store and the hold registry.
 *
 * It owns one job, the transport: connect, parse, watch for silence, reconnect
 * with backoff, remember where to resume. It never throws into its caller and
 * never leaves a rejected promise behind; every failure becomes state `down`,
 * a log line and a reconnect. What the events *mean* is the consumer's business.
 *
 * Lifecycle: `stopped` → start() → `connecting` → `up` ⇄ `down` … → stop() → `stopped`.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { Logger } from 'pino';
import { clip } from '../telemetry/log.js';

import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { SseFrames } from './sse-frames.js';
import { ApprovalLinkError, type LinkDownReason } from './errors.js';
import {
  APPROVAL_EVENT_TYPES,
  parseApprovalEvent,
  type ApprovalEvent,
  type ApprovalEventType,
} from './events.js';
import { IntentdnsError } from '../errors.js';

export type { LinkDownReason } from './errors.js';

export type LinkState = 'connecting' | 'up' | 'down' | 'stopped';

export interface LinkStateChange {
  readonly previous: LinkState;
  /** Set when the new state is `down`: why the last connection ended. */
  readonly reason?: LinkDownReason;
  /** Set when reason is `status`. */
  readonly status?: number;
}

export interface ApprovalLinkOptions {
  /** Base URL of the approval service, e.g. "https://approvals.example.org". */
  readonly url: string;
  readonly token: string | null;
  /** How far back a cold start asks for events (`since = now - grantTtlMs`). */
  readonly grantTtlMs: number;
  readonly log: Logger;
  /** Called once per valid event, in stream order. A throw is logged, never fatal. */
  readonly onEvent: (event: ApprovalEvent) => void;
  /** Called on every state transition (not on repeats). A throw is logged, never fatal. */
  readonly onStateChange?: (state: LinkState, change: LinkStateChange) => void;
  readonly now?: () => number;
  readonly backoff?: BackoffOptions;
  /** Silence (no event, no `: ping`, no headers) longer than this means the link is down. */
  readonly heartbeatTimeoutMs?: number;
}

/** Event counters, by the closed label set of APPROVAL_EVENT_LABELS. */
export interface ApprovalLinkStats {
  readonly received: Readonly<Record<ApprovalEventType, number>>;
  readonly malformed: number;
  readonly unknown: number;
}

export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 45_000;

/**
 * The longest event (its lines together, comments included), in characters.
 * A longer one is skipped and counted malformed (sse-frames.ts), so a broken
 * or hostile service cannot grow our heap. Real events are a few hundred
 * characters; the largest valid one, 1000 `domains` of up to 253 characters
 * each, is about 260 000, so 64 KiB would skip valid approvals.
 */
export const MAX_EVENT_CHARS = 1 << 20;

/** Event ids we may echo in `Last-Event-ID`: visible ASCII inside, so fetch neither rejects nor trims them. */
const HEADER_SAFE_ID = /^[\x21-\x7e](?:[\x20-\x7e]{0,1022}[\x21-\x7e])?$/;

/** The service's strings (event ids and types) are cut to this in log lines. */
const MAX_LOGGED_FIELD = 64;

interface ConnectionEnd {
  /** The connection delivered traffic (an event or a comment): the service works end to end. */
  readonly healthy: boolean;
  readonly error: ApprovalLinkError;
}

export class ApprovalLink {
  private readonly base: string;
  private readonly safeUrl: string;
  private readonly token: string | null;
  private readonly grantTtlMs: number;
  private readonly log: Logger;
  private readonly onEvent: (event: ApprovalEvent) => void;
  private readonly onStateChange: ((state: LinkState, change: LinkStateChange) => void) | undefined;
  private readonly now: () => number;
  private readonly backoff: BackoffOptions;
  private readonly heartbeatTimeoutMs: number;

  private currentState: LinkState = 'stopped';
  private resumeId: string | null = null;
  private stopper: AbortController | null = null;
  private running: Promise<void> | null = null;
  private readonly received: Record<ApprovalEventType, number> = Object.fromEntries(
    APPROVAL_EVENT_TYPES.map((t) => [t, 0]),
  ) as Record<ApprovalEventType, number>;
  private malformed = 0;
  private unknown = 0;

  constructor(opts: ApprovalLinkOptions) {
    this.base = opts.url.replace(/\/+$/, '');
    let parsed: URL;
    try {
      parsed = new URL(`${this.base}/v1/dns/events`);
    } catch (err) {
      throw new IntentdnsError('IDNS_ERR_APPROVAL_URL', 'approval url is not a valid URL', { cause: err });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new IntentdnsError('IDNS_ERR_APPROVAL_URL', `approval url must be http or https, not ${parsed.protocol}`);
    }
    // For logs: no user-info, no query, so no secret can ride along in a URL.
    this.safeUrl = `${parsed.origin}${parsed.pathname}`;
    this.token = opts.token === '' ? null : opts.token;
    this.grantTtlMs = opts.grantTtlMs;
    this.log = opts.log;
    this.onEvent = opts.onEvent;
    this.onStateChange = opts.onStateChange;
    this.now = opts.now ?? Date.now;
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.heartbeatTimeoutMs = opts.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS;
  }

  get state(): LinkState {
    return this.currentState;
  }

  /** The id of the last event seen (valid or not); sent as `Last-Event-ID` on reconnect. */
  get lastEventId(): string | null {
    return this.resumeId;
  }

  /** A snapshot of the event counters (the metrics module reads this at scrape time). */
  get stats(): ApprovalLinkStats {
    return { received: { ...this.received }, malformed: this.malformed, unknown: this.unknown };
  }

  /**
   * Starts connecting in the background. A no-op while running; also a no-op
   * while a stop() is still in flight (await stop() before starting again).
   */
  start(): void {
    if (this.running !== null) return;
    const stopper = new AbortController();
    this.stopper = stopper;
    this.running = this.run(stopper.signal)
      .catch((err: unknown) => {
        // Only a bug in this file can land here; the loop guards everything else.
        this.log.error({ err }, 'approval link loop failed');
      })
      .finally(() => {
        this.running = null;
        this.stopper = null;
        this.setState('stopped', {});
      });
  }

  /** Aborts the stream and any pending reconnect; resolves once the stream socket is closed and no timer is left. */
  async stop(): Promise<void> {
    this.stopper?.abort();
    await this.running;
  }

  private async run(stop: AbortSignal): Promise<void> {
    let attempt = 0;
    while (!stop.aborted) {
      this.setState('connecting', {});
      const end = await this.connectOnce(stop);
      if (stop.aborted) return;
      // Reset rule: a connection that delivered traffic proved the service
      // works, so the next outage starts over at initialMs. One that failed
      // before any traffic (refused, 503, silent) keeps growing the delay.
      if (end.healthy) attempt = 0;
      const delay = backoffDelay(attempt, this.backoff);
      attempt += 1;
      const { reason, status } = end.error;
      this.log.warn(
        { err: end.error, reason, status, attempt, retry_in_ms: delay, url: this.safeUrl },
        'approval link down, reconnecting',
      );
      this.setState('down', { reason, ...(status !== null && { status }) });
      await sleep(delay, stop);
    }
  }

  /** One connection, from request to end. Resolves (never rejects) with why it ended. */
  private async connectOnce(stop: AbortSignal): Promise<ConnectionEnd> {
    const conn = new AbortController();
    // Set by drop() from a timer or the read loop; the `as` keeps TS from narrowing it to null.
    let dropped = null as { reason: LinkDownReason; message: string } | null;
    const drop = (reason: LinkDownReason, message: string): void => {
      dropped ??= { reason, message };
      conn.abort();
    };
    const onStop = (): void => conn.abort();
    stop.addEventListener('abort', onStop, { once: true });
    // Armed before the request: a service that accepts the socket but never
    // answers is as silent as one that stops pinging.
    const watchdog = setTimeout(
      () => drop('silence', `no data for ${this.heartbeatTimeoutMs} ms`),
      this.heartbeatTimeoutMs,
    );
    let healthy = false;
    const end = (reason: LinkDownReason, message: string, status: number | null, cause?: unknown): ConnectionEnd => ({
      healthy,
      error: new ApprovalLinkError(reason, message, status, cause === undefined ? undefined : { cause }),
    });

    try {
      const res = await fetch(this.eventsUrl(), { headers: this.headers(), signal: conn.signal });
      if (!res.ok) return end('status', `event stream answered ${res.status}`, res.status);
      const contentType = res.headers.get('content-type') ?? '';
      if (mediaType(contentType) !== 'text/event-stream' || res.body === null) {
        return end('content_type', `event stream answered ${contentType || 'no content type'}`, null);
      }
      watchdog.refresh();
      this.setState('up', {});
      this.log.info(
        { url: this.safeUrl, resumed_from: this.resumeId },
        'approval link up',
      );

      const traffic = (): void => {
        healthy = true;
      };
      const parser = createParser({
        onEvent: (message) => {
          traffic();
          this.dispatch(message);
        },
        onComment: traffic,
        // `retry:` is ignored on purpose: our own backoff decides, not the server.
      });
      // The parser only ever sees whole events of bounded size.
      const frames = new SseFrames(MAX_EVENT_CHARS, (block) => parser.feed(block), (id) => {
        traffic();
        this.skipOversized(id);
      });
      const decoder = new TextDecoder();
      for await (const chunk of res.body) {
        watchdog.refresh();
        frames.feed(decoder.decode(chunk, { stream: true }));
      }
      if (dropped !== null) return end(dropped.reason, dropped.message, null);
      // An unfinished event at the end of the stream is discarded, as SSE says.
      return end('closed', 'event stream closed by the service', null);
    } catch (err) {
      if (dropped !== null) return end(dropped.reason, dropped.message, null);
      return end('network', 'event stream request failed', null, err);
    } finally {
      clearTimeout(watchdog);
      stop.removeEventListener('abort', onStop);
      // Whatever happened, release the response body and its socket now.
      // Known undici quirk (nodejs/undici#5845, Node 20's undici 6.x): after
      // an abort mid-body the pool opens one spare, never-used connection to
      // the service. It is unref'd (cannot hold the process open) and the next
      // connect reuses it, so at most one idles; it goes when the service
      // closes it. Owning the socket would mean node:http instead of fetch.
      conn.abort();
    }
  }

  private dispatch(message: EventSourceMessage): void {
    const { event: type, id } = message;
    if (id !== undefined) this.advance(id);
    // Logged fields are the service's strings: keep them short.
    const where = { event_id: clip(id, MAX_LOGGED_FIELD), event_type: clip(type, MAX_LOGGED_FIELD) };
    const result = parseApprovalEvent(type, message.data);
    switch (result.kind) {
      case 'unknown':
        this.unknown += 1;
        this.log.debug(where, 'ignoring approval event of unknown type');
        return;
      case 'malformed':
        this.malformed += 1;
        this.log.warn({ ...where, reason: result.reason }, 'skipping malformed approval event');
        return;
      case 'event':
        this.received[result.event.type] += 1;
        try {
          this.onEvent(result.event);
        } catch (err) {
          this.log.error({ ...where, err }, 'approval event handler failed');
        }
    }
  }

  /** An event longer than MAX_EVENT_CHARS: dropped unread, counted malformed, its id (if any) moves the resume point. */
  private skipOversized(id: string | undefined): void {
    if (id !== undefined) this.advance(id);
    this.malformed += 1;
    this.log.warn({ event_id: clip(id, MAX_LOGGED_FIELD), max_chars: MAX_EVENT_CHARS }, `skipping approval event longer than ${MAX_EVENT_CHARS} characters`);
  }

  /**
   * Moves the resume point, for every event with an id, even one we skip as
   * malformed or unknown: resuming before it would replay it forever.
   */
  private advance(id: string): void {
    // SSE lets `id:` with no value clear the id; we keep the last real one so a
    // reconnect never falls back to a cold start (and a `since` replay).
    if (id === '') return;
    if (!HEADER_SAFE_ID.test(id)) {
      this.log.warn({ event_id: clip(id, MAX_LOGGED_FIELD) }, 'approval event id cannot be sent back as Last-Event-ID; keeping the previous one');
      return;
    }
    this.resumeId = id;
  }

  private eventsUrl(): string {
    const url = new URL(`${this.base}/v1/dns/events`);
    // Cold start: ask for the approvals that may still be valid, so those made
    // while intentdns was down still count (spec: since = now - grant_ttl).
    if (this.resumeId === null) {
      url.searchParams.set('since', new Date(this.now() - this.grantTtlMs).toISOString());
    }
    return url.toString();
  }

  private headers(): Record<string, string> {
    const h: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache' };
    if (this.token !== null) h.authorization = `Bearer ${this.token}`;
    if (this.resumeId !== null) h['last-event-id'] = this.resumeId;
    return h;
  }

  private setState(next: LinkState, change: Omit<LinkStateChange, 'previous'>): void {
    const previous = this.currentState;
    if (next === previous) return;
    this.currentState = next;
    try {
      this.onStateChange?.(next, { previous, ...change });
    } catch (err) {
      this.log.error({ err, state: next }, 'approval link state handler failed');
    }
  }
}

function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

/** Resolves after `ms`, or at once when `signal` aborts; leaves no timer behind either way. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
