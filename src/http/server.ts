/**
 * The HTTP server on `listen.http`: probes and metrics for the platform, the
 * `/v1` admin API for operators. node:http and a route table, no framework:
 * a handful of routes does not need one, and every limit is in sight here.
 *
 * The wire is handled in this file only: request bodies are capped and read
 * whole before routing (handlers get the text), `/v1/*` and the console are
 * authenticated before routing (access.ts), and every reply gets the same headers. Handlers in
 * probes.ts and admin.ts return values.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { formatHostPort } from '../config/address.js';
import type { HostPort } from '../config/types.js';
import { clip } from '../telemetry/log.js';
import { AccessGate, takesToken } from './access.js';
import { TokenGuesses } from './guesses.js';
import { adminRoutes, type Lister, type QuarantineStore, type RecentList } from './admin.js';
import { AdminAuth } from './auth.js';
import { readConsoleAssets } from './console/assets.js';
import { consoleRoutes } from './console/routes.js';
import { SessionStore, type SessionLimits } from './console/sessions.js';
import { ConnectionGuard, type ShedReason } from './connections.js';
import { decisionRoutes } from './decisions.js';
import type { DecisionStream } from './decision-stream.js';
import { HttpListenError } from './errors.js';
import { probeRoutes } from './probes.js';
import { jsonError, matchRoute, type Method, type Reply, type Route, type Streaming } from './routes.js';
import { topRoutes, type TopSource } from './top.js';

export interface HttpLimits {
  /** Whole header block must arrive within this (slowloris). */
  readonly headersTimeoutMs: number;
  /** Whole request, body included, must arrive within this. */
  readonly requestTimeoutMs: number;
  /** Idle keep-alive connections are closed after this (Prometheus reuses its connection between scrapes). */
  readonly keepAliveTimeoutMs: number;
  /** How often node checks the two timeouts above; they can fire this much late. */
  readonly timeoutCheckIntervalMs: number;
  readonly maxHeadersCount: number;
  readonly maxHeaderBytes: number;
  /** Bodies are read whole up to this (the quarantine routes take a small JSON one); a bigger one gets 413 and a closed connection. */
  readonly maxBodyBytes: number;
  /**
   * Open connections at once. A new one is always taken; beyond this the one that has waited
   * longest without a reply in progress is closed (connections.ts), so a flood cannot lock
   * probes out. An admin port needs few.
   */
  readonly maxConnections: number;
  /** The same, per source address: one source over it loses its own oldest idle connection. */
  readonly maxConnectionsPerClient: number;
  /** close() waits this long for requests in flight, then cuts the rest. */
  readonly closeGraceMs: number;
}

/** Paths go into log lines; a 8 KB URL should not. */
const MAX_LOGGED_PATH = 200;

export const HTTP_DEFAULTS: HttpLimits = {
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  timeoutCheckIntervalMs: 1_000,
  maxHeadersCount: 50,
  maxHeaderBytes: 8 * 1024,
  maxBodyBytes: 4 * 1024,
  maxConnections: 256,
  maxConnectionsPerClient: 16,
  closeGraceMs: 2_000,
};

export interface HttpOptions {
  readonly address: HostPort;
  readonly log: Logger;
  /** Readiness: listeners bound and config loaded, and not shutting down. */
  readonly ready: () => boolean;
  /** Guards `/v1/*` when set (read from admin.token_file by the caller). */
  readonly adminToken: string | null;
  /** Served on /metrics; without one, /metrics is 404. */
  readonly registry?: Registry | undefined;
  readonly grants: Lister;
  /** Approved commands that granted nothing, shown beside the grants; absent: not shown. */
  readonly noGrants?: RecentList | undefined;
  readonly holds: Lister;
  readonly quarantine: QuarantineStore;
  readonly now?: (() => number) | undefined;
  readonly limits?: Partial<HttpLimits> | undefined;
  /** Told about every connection closed to make room for another (e.g. for a counter). */
  readonly onShed?: ((reason: ShedReason) => void) | undefined;
  /** Served on GET /v1/decisions; without one, that path is 404. Shared by the listeners a reload swaps. */
  readonly decisions?: DecisionStream | undefined;
  /** Served on GET /v1/top (the console's top panels); without one, that path is 404. */
  readonly top?: TopSource | undefined;
  /** The console's login sessions (console/sessions.ts); tests make them few and short. */
  readonly sessions?: Partial<SessionLimits> | undefined;
}

export interface HttpServer {
  /** The bound address, with the real port when the config asked for port 0. */
  address(): HostPort;
  /** Stops accepting, gives requests in flight closeGraceMs, then closes every connection. Idempotent. */
  close(): Promise<void>;
  /** Swaps the admin token (config reload); null opens /v1 to anyone who can reach the port. Another token ends every console session. */
  setAdminToken(token: string | null): void;
}

export async function startHttp(opts: HttpOptions): Promise<HttpServer> {
  const limits: HttpLimits = { ...HTTP_DEFAULTS, ...opts.limits };
  const { log } = opts;
  const now = opts.now ?? Date.now;
  const auth = new AdminAuth(opts.adminToken);
  const sessions = new SessionStore(opts.sessions);
  const gate = new AccessGate(auth, sessions, now);
  const guesses = new TokenGuesses();
  const wrongToken = (client: string): void => {
    if (guesses.wrong(client, now())) log.warn({ client }, 'admin token guessed wrong too often; this source is refused for a while');
  };
  const routes: Route[] = [
    ...probeRoutes({ ready: opts.ready, registry: opts.registry }),
    ...adminRoutes({ grants: opts.grants, ...(opts.noGrants !== undefined && { noGrants: opts.noGrants }), holds: opts.holds, quarantine: opts.quarantine, log, now }),
    ...(opts.decisions ? decisionRoutes(opts.decisions) : []),
    ...(opts.top ? topRoutes(opts.top) : []),
    ...consoleRoutes({ auth, sessions, assets: readConsoleAssets(), log, now, wrongToken }),
  ];
  /** Responses that stay open (the decision stream): ended by close(), which would otherwise wait closeGraceMs for them. */
  const streaming = new Set<ServerResponse>();

  const server = createServer({
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: limits.timeoutCheckIntervalMs,
  });
  server.maxHeadersCount = limits.maxHeadersCount;
  // Not server.maxConnections: refusing at the cap would keep the first comers and lock probes out.
  const guard = new ConnectionGuard(limits.maxConnections, limits.maxConnectionsPerClient, (reason, client) => {
    log.debug({ client, reason }, 'http connection closed to make room');
    opts.onShed?.(reason);
  });
  server.on('connection', (socket: Socket) => guard.admit(socket, unmapped(socket.remoteAddress)));
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    serve(req, res).catch((err: unknown) => {
      // Only a failure to write the reply lands here (the peer is gone); nothing left to answer.
      log.debug({ err }, 'http reply failed');
      res.destroy();
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? '';
    const { path, query } = targetOf(req.url ?? '');
    const client = peer(req);
    res.once('finish', () => log.debug({ client, method, path: clip(path, MAX_LOGGED_PATH), status: res.statusCode }, 'http request'));

    const body = await readBody(req, limits.maxBodyBytes);
    if (body === null) {
      // Too big or cut off: do not keep reading it, and do not reuse the connection.
      return send(res, jsonError(413, `request body over ${limits.maxBodyBytes} bytes`), true);
    }
    // From here the reply is ours to give: the connection is not closed to make room until it is written.
    // Not before: a body dripped byte by byte must not make its connection untouchable.
    const socket = req.socket;
    guard.busy(socket);
    res.once('close', () => guard.idle(socket));
    // A source that guessed wrong too often is not asked for a token again until its lock ends, right token or not.
    const lockedMs = auth.enabled && takesToken(path) ? guesses.lockedFor(client, now()) : 0;
    if (lockedMs > 0) {
      return send(res, jsonError(429, 'too many wrong tokens from this address; try again later', { 'retry-after': String(Math.ceil(lockedMs / 1000)) }));
    }
    // Before routing, so that without a token even a 404 reveals nothing about /v1.
    const access = gate.check({ method, path, headers: req.headers });
    if (access.kind === 'denied') {
      if (access.wrongToken) {
        // Never the header itself: it carries the (wrong, or almost right) token.
        log.warn({ client, method, path: clip(path, MAX_LOGGED_PATH) }, 'admin request with a wrong token');
        wrongToken(client);
      }
      return send(res, access.reply);
    }
    const match = matchRoute(routes, method, path);
    if (match.kind === 'none') return send(res, jsonError(404, 'not found'));
    if (match.kind === 'method') {
      return send(res, jsonError(405, 'method not allowed', { allow: match.allow.join(', ') }));
    }
    let reply: Reply | Streaming;
    try {
      reply = await match.handler({ method: (method === 'HEAD' ? 'GET' : method) as Method, path, query, params: match.params, client, body, session: access.session });
    } catch (err) {
      log.error({ err, method, path: clip(path, MAX_LOGGED_PATH) }, 'http handler failed');
      reply = jsonError(500, 'internal error');
    }
    if ('kind' in reply) return openStream(res, reply, method === 'HEAD');
    send(res, reply);
  }

  function openStream(res: ServerResponse, reply: Streaming, headOnly: boolean): void {
    res.writeHead(200, {
      'content-type': reply.contentType,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // nginx would buffer the stream otherwise.
      'x-accel-buffering': 'no',
    });
    if (headOnly) {
      res.end();
      return;
    }
    streaming.add(res);
    res.once('close', () => streaming.delete(res));
    reply.open(res);
  }

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: opts.address.host, port: opts.address.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    throw new HttpListenError(opts.address.text, err);
  }
  // After listen, errors are per connection (node answers 400/408/431 itself); log anything else.
  server.on('error', (err) => log.error({ err }, 'http server error'));

  const { port } = server.address() as AddressInfo;
  const bound: HostPort = { ...opts.address, port, text: formatHostPort(opts.address.host, port, opts.address.family) };
  log.debug({ address: bound.text, admin_auth: auth.enabled }, 'http listener bound');

  let closing: Promise<void> | null = null;
  return {
    address: () => bound,
    setAdminToken: (token) => {
      // Whoever logged in with the old token must not stay in; a reload that keeps the token keeps the logins.
      if (auth.set(token)) sessions.clear();
    },
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        const cut = setTimeout(() => server.closeAllConnections(), limits.closeGraceMs);
        cut.unref();
        server.close(() => {
          clearTimeout(cut);
          resolve();
        });
        // A stream never finishes by itself; its client reconnects (to the new listener, after a move).
        for (const res of streaming) res.end();
        // Keep-alive connections with nothing in flight would otherwise hold close() open.
        server.closeIdleConnections();
      })),
  };
}

function send(res: ServerResponse, reply: Reply, closeConnection = false): void {
  const body = Buffer.from(reply.body, 'utf8');
  res.writeHead(reply.status, {
    'content-type': reply.contentType,
    'content-length': body.length,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...(closeConnection && { connection: 'close' }),
    ...reply.headers,
  });
  res.end(body); // node drops the body itself for HEAD
}

/**
 * Reads the request body to its end, so the connection can carry the next
 * request, and gives it as UTF-8 text ("" for none). Null when the body is
 * (or claims to be) bigger than `max`, or the request was cut off.
 */
function readBody(req: IncomingMessage, max: number): Promise<string | null> {
  if (Number(req.headers['content-length'] ?? 0) > max) return Promise.resolve(null);
  // Only when someone read it already (nobody does): otherwise even a complete body waits in the stream.
  if (req.readableEnded) return Promise.resolve('');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let seen = 0;
    const done = (ok: boolean): void => {
      req.off('data', onData).off('end', onEnd).off('close', onClose);
      if (!ok) req.pause();
      resolve(ok ? Buffer.concat(chunks).toString('utf8') : null);
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen > max) done(false);
      else chunks.push(chunk);
    };
    const onEnd = (): void => done(true);
    const onClose = (): void => done(req.complete);
    req.on('data', onData).on('end', onEnd).on('close', onClose);
  });
}

/** The path and query of a request target: origin-form ("/v1/x?y") or absolute-form ("http://h/v1/x?y"). */
function targetOf(target: string): { path: string; query: URLSearchParams } {
  if (!target.startsWith('/')) {
    try {
      const url = new URL(target);
      return { path: url.pathname, query: url.searchParams };
    } catch {
      return { path: target, query: new URLSearchParams() };
    }
  }
  const end = target.search(/[?#]/);
  if (end === -1) return { path: target, query: new URLSearchParams() };
  const hash = target.indexOf('#', end);
  const search = target[end] === '?' ? target.slice(end + 1, hash === -1 ? undefined : hash) : '';
  return { path: target.slice(0, end), query: new URLSearchParams(search) };
}

function peer(req: IncomingMessage): string {
  return unmapped(req.socket.remoteAddress);
}

/** A peer address with an IPv4-mapped IPv6 form unwrapped, so one host counts as one source. */
function unmapped(address = 'unknown'): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
