import { createParser } from 'eventsource-parser';
import { loadConfigFile } from '../config/reload.js';
import { readTokenFile } from '../config/token.js';
import type { Config } from '../config/types.js';
import { errnoCode } from '../errors.js';
import { ACTIONS, REASONS } from '../pipeline/types.js';
import { decisionText } from './decision-text.js';
import { configPath, UsageError, type Io } from './io.js';

interface TailOptions {
  config?: string;
  url?: string;
  'token-file'?: string;
  agent?: string;
  role?: string;
  action?: string;
  reason?: string;
  json?: boolean;
}

/** Waits between reconnects: doubled from the first to the last, reset once a stream opens. */
const FIRST_RETRY_MS = 500;
const LAST_RETRY_MS = 30_000;

/** The stream could not be had, and trying again would not help: printed, exit 1. */
class TailError extends Error {}

/**
 * `intentdns tail`: GET /v1/decisions, printed one line per decision (or the
 * raw JSON with --json). Runs until interrupted or until its reader goes
 * (EPIPE); a stream that drops is opened again, with backoff, said on stderr.
 * The first connection must succeed: a refused connection, a 401/403 or a
 * 404 exit 1 with what to do, since retrying would only hide the mistake.
 */
export const tail = {
  name: 'tail',
  summary: 'print the live decision stream of a running proxy, one line per decision',
  usage: 'intentdns tail [--config FILE] [--url URL] [--token-file FILE] [--agent A] [--role R] [--action X] [--reason Y] [--json]',
  options: {
    config: { type: 'string' },
    url: { type: 'string' },
    'token-file': { type: 'string' },
    agent: { type: 'string' },
    role: { type: 'string' },
    action: { type: 'string' },
    reason: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values: TailOptions, io: Io): Promise<number> {
    if (values.action !== undefined && !(ACTIONS as readonly string[]).includes(values.action)) {
      throw new UsageError(`unknown action "${values.action}"; one of ${ACTIONS.join(', ')}`);
    }
    if (values.reason !== undefined && !(REASONS as readonly string[]).includes(values.reason)) {
      throw new UsageError(`unknown reason "${values.reason}"; one of ${REASONS.join(', ')}`);
    }
    // The config is read only for what the flags and the environment leave open.
    let config: Config | null = null;
    const loaded = (): Config => (config ??= loadConfigFile(configPath(values.config, io)).config);
    const token = io.env.INTENTDNS_ADMIN_TOKEN?.trim() || tokenFrom(values['token-file'] ?? (values.url === undefined || values.config !== undefined ? loaded().admin.tokenFile : null));
    const base = values.url ?? baseUrl(loaded());
    const url = streamUrl(base, values);
    try {
      return await follow(url, token, values.json === true, io);
    } catch (err) {
      if (!(err instanceof TailError)) throw err;
      io.err(`intentdns tail: ${err.message}`);
      return 1;
    }
  },
} as const;

function tokenFrom(file: string | null): string | null {
  return file === null ? null : readTokenFile(file);
}

/** listen.http as a URL to connect to: a wildcard address means this host. */
function baseUrl(config: Config): string {
  const http = config.listen.http;
  if (http === null) throw new TailError('the config has no listen.http, so there is no decision stream; give --url');
  const host = http.host === '0.0.0.0' ? '127.0.0.1' : http.host === '::' ? '::1' : http.host;
  return `http://${http.family === 6 || host.includes(':') ? `[${host}]` : host}:${http.port}`;
}

function streamUrl(base: string, filters: TailOptions): URL {
  let url: URL;
  try {
    url = new URL('/v1/decisions', base);
  } catch {
    throw new UsageError(`--url ${base} is not a URL (e.g. http://127.0.0.1:9153)`);
  }
  for (const key of ['agent', 'role', 'action', 'reason'] as const) {
    const value = filters[key];
    if (value !== undefined) url.searchParams.set(key, value);
  }
  return url;
}

async function follow(url: URL, token: string | null, json: boolean, io: Io): Promise<number> {
  const colour = io.outIsTerminal === true && !io.env.NO_COLOR;
  const stop = io.stop;
  let connected = false;
  let retryMs = FIRST_RETRY_MS;
  while (!stop?.aborted) {
    const outcome = await stream(url, token, stop, (line) => {
      if (json) {
        io.out(line);
        return;
      }
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      io.out(decisionText(parsed, colour));
    }, (count) => io.err(`intentdns tail: ${count} decision${count === 1 ? '' : 's'} dropped: this reader fell behind the proxy`), () => {
      if (connected) io.err(`intentdns tail: connected to ${url.origin} again`);
      connected = true;
      retryMs = FIRST_RETRY_MS;
    });
    if (stop?.aborted) break;
    if (!connected) throw new TailError(outcome);
    io.err(`intentdns tail: ${outcome}; reconnecting in ${retryMs / 1000} s`);
    await sleep(retryMs, stop);
    retryMs = Math.min(retryMs * 2, LAST_RETRY_MS);
  }
  return 0;
}

/**
 * One connection: resolves with why it ended (for the reconnect notice), or
 * throws TailError for an answer that retrying would not change.
 */
async function stream(
  url: URL, token: string | null, stop: AbortSignal | undefined,
  onDecision: (line: string) => void, onDropped: (count: number) => void, onOpen: () => void,
): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { accept: 'text/event-stream', ...(token !== null && { authorization: `Bearer ${token}` }) },
      ...(stop && { signal: stop }),
    });
  } catch (err) {
    if (stop?.aborted) return 'stopped';
    const code = errnoCode((err as { cause?: unknown }).cause) ?? (err instanceof Error ? err.message : String(err));
    return code === 'ECONNREFUSED' ? `connection refused by ${url.host} (is intentdns running, with listen.http there?)` : `cannot connect to ${url.host}: ${code}`;
  }
  if (res.status === 401 || res.status === 403) {
    throw new TailError(`${url.origin} refused the admin token (${res.status}): ${token === null ? 'none was given; set INTENTDNS_ADMIN_TOKEN, --token-file or the config\'s admin.token_file' : 'check INTENTDNS_ADMIN_TOKEN, --token-file or the config\'s admin.token_file'}`);
  }
  if (res.status === 404) throw new TailError(`${url.origin} has no decision stream (404): is it intentdns, and new enough?`);
  if (res.status === 400) throw new TailError(`${url.origin} refused the filters: ${await errorText(res)}`);
  if (res.status !== 200 || res.body === null) {
    const why = `${url.origin} answered ${res.status}: ${await errorText(res)}`;
    // 503: the subscriber cap; worth waiting for once a stream was had.
    return why;
  }
  onOpen();
  const parser = createParser({
    onEvent: (event) => {
      if (event.event === 'decision') onDecision(event.data);
      else if (event.event === 'dropped') onDropped((JSON.parse(event.data) as { count: number }).count);
    },
  });
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body) parser.feed(decoder.decode(chunk, { stream: true }));
  } catch (err) {
    if (stop?.aborted) return 'stopped';
    return `the stream broke (${errnoCode((err as { cause?: unknown }).cause) ?? (err instanceof Error ? err.message : String(err))})`;
  }
  return 'the stream ended';
}

async function errorText(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    return String((JSON.parse(text) as { error?: unknown }).error ?? text);
  } catch {
    return text.slice(0, 200);
  }
}

function sleep(ms: number, stop: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      stop?.removeEventListener('abort', done);
      resolve();
    }
    stop?.addEventListener('abort', done, { once: true });
  });
}
