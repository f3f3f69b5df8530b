/**
 * `POST {url}/v1/dns/holds`: tells the approval service that a query is held
 * and waits for a reviewer. One attempt, bounded by `timeoutMs`; retrying is the
 * caller's business (posting the same hold_id twice is safe at the service).
 *
 * The answer is read only so far: its status decides, and at most
 * MAX_ANSWER_BYTES of its body are read (so the connection can be reused).
 * A longer body is not an answer we understand, and reading on would let a
 * broken or hostile service fill our heap (an endless body took 1.6 GB with
 * 15 holds): the POST fails (`oversize`) and the connection is closed.
 *
 * Why node:http and not fetch: every unlisted name costs one POST, and a
 * profile of held queries put a quarter of the busy time in fetch (undici's
 * streams and header objects) and 6% in each POST's AbortSignal.timeout
 * firing long after the POST had ended. A plain request with one cleared
 * timer does the same exchange for a fraction of that.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

import type { HoldRequest } from '../hold/registry.js';
import { ApprovalRequestError } from './errors.js';
import { MAX_HOLD_POSTS_IN_FLIGHT } from './hold-queue.js';

export { ApprovalRequestError } from './errors.js';

/** 201/202 are what the spec promises; 200 is tolerated from services that say "ok" plainly. */
const ACCEPTED = new Set([200, 201, 202]);

/** The most bytes read from the body of an answer. The spec's answer is empty or a small JSON object. */
export const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Kept-alive connections, so a hold does not pay for a TCP (and TLS)
 * handshake. maxSockets matches the hold queue, so the agent never queues
 * behind it. Few idle sockets are kept: a burst of 16 leaves at most 4
 * behind, and those close after 4 s idle, before Node's default 5 s server
 * keep-alive would close them under a request (a shorter `Keep-Alive:
 * timeout=` from the service is honoured by the agent). The https agent
 * uses Node's default CAs (incl. NODE_EXTRA_CA_CERTS), as fetch did; the
 * config has no CA option.
 */
const AGENT_OPTIONS = { keepAlive: true, maxSockets: MAX_HOLD_POSTS_IN_FLIGHT, maxFreeSockets: 4, timeout: 4_000 };
const httpAgent = new HttpAgent(AGENT_OPTIONS);
const httpsAgent = new HttpsAgent(AGENT_OPTIONS);

export function postHold(
  base: string,
  token: string | null,
  body: HoldRequest,
  timeoutMs: number,
): Promise<void> {
  const payload = JSON.stringify(toWire(body));
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    accept: 'application/json',
    'content-length': Buffer.byteLength(payload),
  };
  if (token !== null) headers.authorization = `Bearer ${token}`;

  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let req: ClientRequest | undefined;
    const finish = (err: ApprovalRequestError | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err === null) resolve();
      else reject(err);
    };
    const noAnswer = (cause: unknown, timedOut = false): void => {
      const what = timedOut ? `timed out after ${timeoutMs} ms` : 'failed';
      finish(new ApprovalRequestError(`posting hold ${body.holdId} ${what}`, 'no_answer', null, { cause }));
    };
    // One timer for the whole exchange (connect, send, headers, body), cleared when it ends.
    const timer = setTimeout(() => {
      const cause = new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError');
      noAnswer(cause, true);
      req?.destroy(cause);
    }, timeoutMs);

    try {
      const url = new URL(`${base.replace(/\/+$/, '')}/v1/dns/holds`);
      const https = url.protocol === 'https:';
      if (!https && url.protocol !== 'http:') throw new TypeError(`not an http(s) URL: ${url.protocol}`);
      req = (https ? httpsRequest : httpRequest)(url, { method: 'POST', headers, agent: https ? httpsAgent : httpAgent });
    } catch (err) {
      noAnswer(err);
      return;
    }
    const sent = req;
    // Stays attached after we settle: our own destroy() makes the request emit one.
    sent.on('error', (err) => noAnswer(err));
    sent.on('response', (res) => onAnswer(sent, res, body.holdId, finish, noAnswer));
    sent.end(payload);
  });
}

/**
 * Reads and discards the answer's body, up to MAX_ANSWER_BYTES, then settles
 * by its status. A body that is longer, or says it will be, is not read on:
 * the socket is destroyed, so the agent never reuses a connection with an
 * unread answer on it.
 */
function onAnswer(
  req: ClientRequest,
  res: IncomingMessage,
  holdId: string,
  finish: (err: ApprovalRequestError | null) => void,
  noAnswer: (cause: unknown) => void,
): void {
  const status = res.statusCode ?? 0;
  const refused = (): ApprovalRequestError =>
    new ApprovalRequestError(`posting hold ${holdId}: service answered ${status}`, 'refused', status);
  const tooLong = (): void => {
    // A refusal stays a refusal whatever its body; only an accepted answer is `oversize`.
    finish(ACCEPTED.has(status) ? new ApprovalRequestError(
      `posting hold ${holdId}: service answered ${status} with a body over ${MAX_ANSWER_BYTES} bytes; not read`,
      'oversize', status,
    ) : refused());
    req.destroy();
  };
  // After an early finish, the destroyed socket still makes the answer emit these; they are no-ops then.
  res.on('error', noAnswer);
  res.on('close', () => {
    if (!res.complete) noAnswer(new Error('the answer ended before its body did'));
  });
  const declared = Number(res.headers['content-length'] ?? 0);
  if (!(declared <= MAX_ANSWER_BYTES)) {
    tooLong();
    return;
  }
  let read = 0;
  res.on('data', (chunk: Buffer) => {
    read += chunk.length;
    if (read > MAX_ANSWER_BYTES) tooLong();
  });
  res.on('end', () => finish(ACCEPTED.has(status) ? null : refused()));
}

function toWire(h: HoldRequest): Record<string, unknown> {
  return {
    hold_id: h.holdId,
    agent: h.agent,
    role: h.role,
    client: h.client,
    qname: h.qname,
    qtype: h.qtype,
    at: new Date(h.at).toISOString(),
    recent_commands: [...h.recentCommands],
  };
}
