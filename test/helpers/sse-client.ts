/**
 * A GET /v1/decisions subscriber over a plain node:http request, so a test
 * can stop reading (pause the socket) the way a stuck client does.
 *
 *   const sub = await subscribeDecisions(port, { token, query: 'action=sinkhole' });
 *   expect(sub.status).toBe(200);
 *   await sub.waitForEvents(1);
 *   sub.close();
 */
import { request, type IncomingMessage } from 'node:http';
import { createParser } from 'eventsource-parser';
import { waitFor } from './wait-for.js';

export interface SseEvent {
  readonly event: string | undefined;
  readonly data: string;
}

export interface Subscription {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  /** Events in arrival order (only those read: none while paused). */
  readonly events: SseEvent[];
  /** `decision` events, their data parsed. */
  decisions(): Array<Record<string, unknown>>;
  readonly comments: string[];
  /** The body of a non-200 answer. */
  body(): Promise<string>;
  /** Resolves once at least `count` decision events were read. */
  waitForDecisions(count: number, timeoutMs?: number): Promise<Array<Record<string, unknown>>>;
  /** Stops reading from the socket: the proxy's writes pile up in the kernel and then in its buffer. */
  pause(): void;
  resume(): void;
  close(): void;
}

export function subscribeDecisions(port: number, opts: { token?: string; query?: string } = {}): Promise<Subscription> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, path: `/v1/decisions${opts.query ? `?${opts.query}` : ''}`,
      headers: { accept: 'text/event-stream', ...(opts.token !== undefined && { authorization: `Bearer ${opts.token}` }) },
    });
    req.once('error', reject);
    req.once('response', (res) => {
      const events: SseEvent[] = [];
      const comments: string[] = [];
      let text = '';
      const parser = createParser({
        onEvent: (e) => void events.push({ event: e.event, data: e.data }),
        onComment: (c) => void comments.push(c.trim()),
      });
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (res.statusCode === 200) parser.feed(chunk);
        else text += chunk;
      });
      res.on('error', () => {});
      const ended = new Promise<void>((done) => res.once('close', () => done()));
      const decisions = (): Array<Record<string, unknown>> =>
        events.filter((e) => e.event === 'decision').map((e) => JSON.parse(e.data) as Record<string, unknown>);
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        comments,
        decisions,
        body: async () => {
          await ended;
          return text;
        },
        // Counted without parsing on every poll: a test may wait for thousands.
        waitForDecisions: (count, timeoutMs = 3000) =>
          waitFor(() => (events.filter((e) => e.event === 'decision').length >= count ? decisions() : undefined), { what: `${count} decision events`, timeoutMs, intervalMs: 20 }),
        pause: () => void res.pause(),
        resume: () => void res.resume(),
        close: () => req.destroy(),
      });
    });
    req.end();
  });
}
