/**
 * A real HTTP server on 127.0.0.1 that plays the approval service
 * (spec approval-link.md): `GET /v1/dns/events` as Server-Sent Events and
 * `POST /v1/dns/holds`. Tests drive it and read what it recorded.
 *
 *   const service = await FakeApprovalService.start({ token: 't0k' });
 *   // point the code under test at service.url
 *   service.send('command.approved', { id: 'cmd_1', ... });   // id "e1" by default
 *   service.dropConnections();                                // client must reconnect
 *   service.eventsRequests.at(-1)?.lastEventId;               // -> 'e1'
 *   await service.close();
 *
 * Event history and replay: every send() is kept in `history`. Each stream
 * gets the events after the one named by its `Last-Event-ID` (all of them
 * when the header is absent or names an id the service never sent), so an
 * event sent while the client is disconnected arrives once it reconnects,
 * the way the real service resumes. `since` is recorded but not applied:
 * the test decides what is in the history.
 *
 * Hostile answers for hold posts: setHoldBody('endless') answers every POST
 * with a body that never ends (written at a bounded pace, so a client that
 * reads it all grows by a known rate, not by loopback speed); the bytes the
 * socket took are counted in `holdBodyBytes`. `holdsInFlight` and
 * `maxHoldsInFlight` count POSTs not yet answered (concurrency tests).
 *
 * Decisions and quarantines (approval-link.md v1.1): decide(holdId, 'allow')
 * sends the `hold.decided` for a posted hold. Holds are coalesced by agent
 * and name, as a v1.1 service may: a POST for an agent and name already
 * pending is the same hold, so decide() answers every id of it, with one
 * event carrying the question fields (agent, qname, qtype) — or, with
 * `questionFields: false` (a v1 service), with one event per id and no
 * question. quarantine(agent) / release(agent) send `agent.quarantined` /
 * `agent.released`.
 *
 * Everything is torn down by close(): streams, sockets, timers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ApprovalServiceOptions {
  /** When set, requests without `Authorization: Bearer <token>` get 401. */
  readonly token?: string;
  /** Write `: ping` on every open stream this often; 0 (default) pings only when the test calls ping(). */
  readonly pingIntervalMs?: number;
  /** decide() adds agent, qname and qtype to hold.decided (v1.1); false behaves as a v1 service. Default true. */
  readonly questionFields?: boolean;
}

/** The holds posted for one agent and name while it was pending: the first POST's question, every id. */
interface CoalescedHold {
  readonly agent: string;
  readonly qname: string;
  readonly qtype: string;
  readonly ids: string[];
}

/** One `GET /v1/dns/events`, as the service saw it. */
export interface EventsRequest {
  readonly url: string;                   // path and query
  readonly since: string | null;          // the `since` query parameter
  readonly lastEventId: string | null;    // the Last-Event-ID header
  readonly authorization: string | null;
  readonly accept: string | null;
  readonly status: number;                // what the service answered
  readonly at: number;                    // Date.now() when it arrived
}

/** One `POST /v1/dns/holds`. */
export interface HoldPost {
  readonly body: unknown;                 // the parsed JSON, or the raw text when it is not JSON
  readonly authorization: string | null;
  readonly contentType: string | null;
  readonly status: number;                // what the service answered
}

export interface SentEvent {
  readonly id: string;
  readonly event: string;
  readonly data: string;
}

interface Stream {
  readonly res: ServerResponse;
  next: number;                           // index into history of the next event to write
}

export class FakeApprovalService {
  /** Base URL, no trailing slash: "http://127.0.0.1:<port>". */
  readonly url: string;
  readonly eventsRequests: EventsRequest[] = [];
  readonly holds: HoldPost[] = [];
  readonly history: SentEvent[] = [];
  /** Bytes of hold answer bodies the sockets accepted (setHoldBody('endless')). */
  holdBodyBytes = 0;
  /** Hold POSTs received and not answered yet (a delayed answer or an endless body counts until it ends). */
  holdsInFlight = 0;
  /** The most hold POSTs that were in flight at once. */
  maxHoldsInFlight = 0;
  /** Called after each hold is answered, e.g. to send a `hold.decided` for it. */
  onHold: ((hold: HoldPost) => void) | null = null;

  private readonly server: Server;
  private readonly token: string | undefined;
  private readonly questionFields: boolean;
  /** Pending holds by "agent\0qname". */
  private readonly pending = new Map<string, CoalescedHold>();
  private readonly streams = new Set<Stream>();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private pinger: NodeJS.Timeout | null = null;
  private eventsStatus: number | null = null;
  private eventsContentType = 'text/event-stream';
  private holdStatus = 202;
  private holdDelayMs = 0;
  private holdBody: 'json' | 'endless' = 'json';
  private paused = false;
  private autoId = 0;

  private constructor(server: Server, opts: ApprovalServiceOptions) {
    this.server = server;
    this.token = opts.token;
    this.questionFields = opts.questionFields ?? true;
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('request', (req, res) => this.route(req, res));
    if (opts.pingIntervalMs !== undefined && opts.pingIntervalMs > 0) {
      this.pinger = setInterval(() => this.ping(), opts.pingIntervalMs);
    }
  }

  static async start(opts: ApprovalServiceOptions = {}): Promise<FakeApprovalService> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new FakeApprovalService(server, opts);
  }

  /** Event streams currently open. */
  get openStreams(): number {
    return this.streams.size;
  }

  /** TCP connections currently open (streams, idle keep-alive, holds). */
  get openSockets(): number {
    return this.sockets.size;
  }

  /**
   * Sends one event to every open stream and keeps it in `history`. `data`
   * that is not a string is JSON-encoded; a string goes out as is (for
   * malformed-JSON tests). Returns the id used ("e1", "e2", … by default).
   */
  send(event: string, data: unknown, id?: string): string {
    this.autoId += 1;
    const eventId = id ?? `e${this.autoId}`;
    this.history.push({ id: eventId, event, data: typeof data === 'string' ? data : JSON.stringify(data) });
    // A decision sent by hand ends its hold too, so a later POST for the question is a new hold.
    if (event === 'hold.decided' && typeof data === 'object' && data !== null) {
      const id = (data as { hold_id?: unknown }).hold_id;
      for (const [key, h] of this.pending) if (h.ids.includes(id as string)) this.pending.delete(key);
    }
    for (const s of this.streams) this.flush(s);
    return eventId;
  }

  /**
   * A reviewer decides the hold `holdId` (any id of a coalesced hold): one
   * `hold.decided` with the question fields, or (questionFields: false) one
   * per id without them. Returns the ids answered. `more` goes into every
   * event (scope, ttl_seconds, …).
   */
  decide(holdId: string, decision: 'allow' | 'deny', more: Record<string, unknown> = {}): string[] {
    const hold = [...this.pending.values()].find((h) => h.ids.includes(holdId));
    const base = { decision, scope: 'name', decided_by: 'bob', ...more };
    if (hold === undefined) {
      this.send('hold.decided', { hold_id: holdId, ...base });
      return [holdId];
    }
    this.pending.delete(questionKey(hold.agent, hold.qname));
    if (this.questionFields) {
      this.send('hold.decided', { hold_id: hold.ids[0], ...base, agent: hold.agent, qname: hold.qname, qtype: hold.qtype });
    } else {
      for (const id of hold.ids) this.send('hold.decided', { hold_id: id, ...base });
    }
    return [...hold.ids];
  }

  /** The service cuts an agent off on every proxy it feeds. */
  quarantine(agent: string, more: { reason?: string; by?: string } = {}): string {
    return this.send('agent.quarantined', { agent, ...more });
  }

  release(agent: string, more: { by?: string } = {}): string {
    return this.send('agent.released', { agent, ...more });
  }

  /** The ids of the pending hold that `holdId` belongs to (itself alone when not coalesced). */
  coalesced(holdId: string): string[] {
    return [...this.pending.values()].find((h) => h.ids.includes(holdId))?.ids.slice() ?? [holdId];
  }

  /** Writes raw text to every open stream, outside the history (for framing tests). No-op while paused. */
  sendRaw(text: string): void {
    if (this.paused) return;
    for (const s of this.streams) s.res.write(text);
  }

  /** Writes a `: ping` comment on every open stream. No-op while paused. */
  ping(): void {
    this.sendRaw(': ping\n\n');
  }

  /**
   * Ends every open stream. Default: destroys the sockets (a crash or a cut
   * cable); `graceful: true` ends the responses cleanly (the service closed
   * the stream on purpose).
   */
  dropConnections(opts: { graceful?: boolean } = {}): void {
    for (const s of this.streams) {
      if (opts.graceful === true) s.res.end();
      else s.res.socket?.destroy();
    }
    this.streams.clear();
  }

  /** Answers the following event-stream requests with `status` (e.g. 503); null goes back to normal streams. */
  setStatus(status: number | null): void {
    this.eventsStatus = status;
  }

  /** Content type of the following 200 event-stream answers (default text/event-stream). */
  setContentType(type: string): void {
    this.eventsContentType = type;
  }

  /**
   * Goes silent: no pings, no events, on open and new streams (new ones still
   * get their 200 headers). send() still records into history; resume()
   * delivers what the open streams missed.
   */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (const s of this.streams) this.flush(s);
  }

  /** Status for the following hold posts (default 202). */
  setHoldStatus(status: number): void {
    this.holdStatus = status;
  }

  /** Delay before answering the following hold posts (for timeout tests). */
  setHoldDelay(ms: number): void {
    this.holdDelayMs = ms;
  }

  /**
   * Body of the following hold answers: `json` (default, "{}") or `endless`:
   * a 16 KiB chunk of JSON whitespace every millisecond (at most ~16 MB/s)
   * until the client closes the connection.
   */
  setHoldBody(body: 'json' | 'endless'): void {
    this.holdBody = body;
  }

  async close(): Promise<void> {
    if (this.pinger !== null) clearInterval(this.pinger);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.streams.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    if (req.method === 'GET' && url.pathname === '/v1/dns/events') return this.events(req, res, url);
    if (req.method === 'POST' && url.pathname === '/v1/dns/holds') {
      // A client that gives up mid-body (timeout tests) must not become an unhandled rejection here.
      this.hold(req, res).catch(() => res.destroy());
      return;
    }
    res.writeHead(404).end();
  }

  private authorized(req: IncomingMessage): boolean {
    return this.token === undefined || req.headers.authorization === `Bearer ${this.token}`;
  }

  private events(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const lastEventId = header(req, 'last-event-id');
    const status = !this.authorized(req) ? 401 : (this.eventsStatus ?? 200);
    this.eventsRequests.push({
      url: `${url.pathname}${url.search}`,
      since: url.searchParams.get('since'),
      lastEventId,
      authorization: header(req, 'authorization'),
      accept: header(req, 'accept'),
      status,
      at: Date.now(),
    });
    if (status !== 200) {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'unavailable' }));
      return;
    }
    res.writeHead(200, {
      'content-type': this.eventsContentType,
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.flushHeaders();
    const after = lastEventId === null ? -1 : this.history.findIndex((e) => e.id === lastEventId);
    const stream: Stream = { res, next: after + 1 };
    this.streams.add(stream);
    const socket = req.socket;
    res.on('close', () => {
      this.streams.delete(stream);
      // The client went away mid-stream: node keeps the socket half-open for a
      // response that will never finish, so close it like a real server would.
      if (!res.writableEnded) socket.destroy();
    });
    this.flush(stream);
  }

  /** A posted hold joins the pending one for its agent and name, or becomes it. */
  private coalesce(body: unknown): void {
    if (typeof body !== 'object' || body === null) return;
    const { hold_id: id, agent, qname, qtype } = body as Record<string, unknown>;
    if (typeof id !== 'string' || typeof agent !== 'string' || typeof qname !== 'string') return;
    const key = questionKey(agent, qname);
    const pending = this.pending.get(key);
    if (pending === undefined) this.pending.set(key, { agent, qname, qtype: typeof qtype === 'string' ? qtype : 'A', ids: [id] });
    else if (!pending.ids.includes(id)) pending.ids.push(id);
  }

  private flush(s: Stream): void {
    if (this.paused) return;
    for (; s.next < this.history.length; s.next += 1) {
      const e = this.history[s.next];
      if (e === undefined) break;
      const data = e.data.split('\n').map((line) => `data: ${line}\n`).join('');
      s.res.write(`id: ${e.id}\nevent: ${e.event}\n${data}\n`);
    }
  }

  /** Writes ENDLESS_CHUNK every millisecond until the response closes; counts what the socket took. */
  private endless(res: ServerResponse): void {
    let timer: NodeJS.Timeout | undefined;
    const pump = (): void => {
      if (timer !== undefined) this.timers.delete(timer);
      if (res.destroyed || res.writableEnded) return;
      res.write(ENDLESS_CHUNK, (err) => {
        if (!err) this.holdBodyBytes += ENDLESS_CHUNK.length;
      });
      timer = setTimeout(pump, 1);
      this.timers.add(timer);
    };
    res.on('close', () => {
      if (timer !== undefined) {
        clearTimeout(timer);
        this.timers.delete(timer);
      }
    });
    pump();
  }

  private async hold(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.holdsInFlight += 1;
    this.maxHoldsInFlight = Math.max(this.maxHoldsInFlight, this.holdsInFlight);
    res.on('close', () => {
      this.holdsInFlight -= 1;
    });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // keep the raw text: the test will see it was not JSON
    }
    const status = this.authorized(req) ? this.holdStatus : 401;
    const hold: HoldPost = {
      body,
      authorization: header(req, 'authorization'),
      contentType: header(req, 'content-type'),
      status,
    };
    this.holds.push(hold);
    if (status >= 200 && status < 300) this.coalesce(body);
    const answer = (): void => {
      if (this.holdBody === 'endless') {
        res.writeHead(status, { 'content-type': 'application/json' });
        this.endless(res);
      } else {
        res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
      }
      this.onHold?.(hold);
    };
    if (this.holdDelayMs <= 0) return answer();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      answer();
    }, this.holdDelayMs);
    this.timers.add(timer);
  }
}

const ENDLESS_CHUNK = Buffer.alloc(16 * 1024, 0x20);

function questionKey(agent: string, qname: string): string {
  return `${agent}\u0000${qname.toLowerCase()}`;
}

function header(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
}
