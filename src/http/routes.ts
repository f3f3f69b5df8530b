/**
 * The route table's vocabulary. A handler gets a parsed request and returns
 * a Reply value; it never touches the socket. server.ts owns the wire
 * (authentication, bodies, timeouts, writing the reply), so a handler is a
 * plain function that is easy to read and to test. The one exception is a
 * reply that stays open (the decision stream): a Streaming value, which
 * server.ts hands the response to once it has written the headers.
 */
import type { ServerResponse } from 'node:http';
import type { ConsoleSession } from './console/sessions.js';

export type Method = 'GET' | 'POST' | 'DELETE';

export interface HttpRequest {
  readonly method: Method;
  readonly path: string;                 // pathname, still percent-encoded
  /** The query string's parameters, decoded. */
  readonly query: URLSearchParams;
  /** The route pattern's capture groups, still percent-encoded. */
  readonly params: readonly string[];
  /** The peer's address (IPv4-mapped IPv6 unwrapped), for audit lines. */
  readonly client: string;
  /** The request body as UTF-8 text, "" when there is none; at most maxBodyBytes (server.ts). */
  readonly body: string;
  /** The console login that let the request in (access.ts), when it was the session cookie; the page is rendered with its CSRF token. */
  readonly session?: ConsoleSession | null;
}

export interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A 200 whose body is written as things happen; `open` gets the response after its headers went out. */
export interface Streaming {
  readonly kind: 'stream';
  readonly contentType: string;
  open(res: ServerResponse): void;
}

export type Handler = (req: HttpRequest) => Reply | Streaming | Promise<Reply>;

export interface Route {
  /** Anchored; capture groups become `params`. */
  readonly path: RegExp;
  readonly methods: Readonly<Partial<Record<Method, Handler>>>;
}

export const METHODS: readonly Method[] = ['GET', 'POST', 'DELETE'];

export function json(status: number, value: unknown, headers?: Record<string, string>): Reply {
  return { status, contentType: 'application/json; charset=utf-8', body: `${JSON.stringify(value)}\n`, ...(headers && { headers }) };
}

export function text(status: number, body: string, contentType = 'text/plain; charset=utf-8'): Reply {
  return { status, contentType, body };
}

/** Every error body has one shape: `{ "error": "<short text>" }`. */
export function jsonError(status: number, error: string, headers?: Record<string, string>): Reply {
  return json(status, { error }, headers);
}

export type Match =
  | { readonly kind: 'found'; readonly handler: Handler; readonly params: readonly string[] }
  | { readonly kind: 'method'; readonly allow: readonly string[] }
  | { readonly kind: 'none' };

/**
 * First route whose path matches wins. A path that matches but lacks the
 * method is a 405 with the methods it has; HEAD is served wherever GET is.
 */
export function matchRoute(routes: readonly Route[], method: string, path: string): Match {
  for (const route of routes) {
    const m = route.path.exec(path);
    if (m === null) continue;
    const wanted = method === 'HEAD' ? 'GET' : method;
    const handler = (METHODS as readonly string[]).includes(wanted) ? route.methods[wanted as Method] : undefined;
    if (handler !== undefined) return { kind: 'found', handler, params: m.slice(1).map((p) => p ?? '') };
    const allow = METHODS.filter((x) => route.methods[x] !== undefined).flatMap((x) => (x === 'GET' ? ['GET', 'HEAD'] : [x]));
    return { kind: 'method', allow };
  }
  return { kind: 'none' };
}
