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
 */
import type { HoldRequest } from '../hold/registry.js';
import { ApprovalRequestError } from './errors.js';

export { ApprovalRequestError } from './errors.js';

/** 201/202 are what the spec promises; 200 is tolerated from services that say "ok" plainly. */
const ACCEPTED = new Set([200, 201, 202]);

/** The most bytes read from the body of an answer. The spec's answer is empty or a small JSON object. */
export const MAX_ANSWER_BYTES = 64 * 1024;

export async function postHold(
  base: string,
  token: string | null,
  body: HoldRequest,
  timeoutMs: number,
): Promise<void> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
  };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const signal = AbortSignal.timeout(timeoutMs);
  let res: Response;
  let complete: boolean;
  try {
    res = await fetch(`${base.replace(/\/+$/, '')}/v1/dns/holds`, {
      method: 'POST',
      headers,
      body: JSON.stringify(toWire(body)),
      signal,
    });
    complete = await drain(res, MAX_ANSWER_BYTES);
  } catch (err) {
    const what = signal.aborted ? `timed out after ${timeoutMs} ms` : 'failed';
    throw new ApprovalRequestError(`posting hold ${body.holdId} ${what}`, 'no_answer', null, { cause: err });
  }
  if (!ACCEPTED.has(res.status)) {
    throw new ApprovalRequestError(`posting hold ${body.holdId}: service answered ${res.status}`, 'refused', res.status);
  }
  if (!complete) {
    throw new ApprovalRequestError(
      `posting hold ${body.holdId}: service answered ${res.status} with a body over ${MAX_ANSWER_BYTES} bytes; not read`,
      'oversize', res.status,
    );
  }
}

/**
 * Reads and discards the body, up to `max` bytes. Returns false, having
 * cancelled the rest (which closes the connection), when it is longer or
 * says it will be.
 */
async function drain(res: Response, max: number): Promise<boolean> {
  if (res.body === null) return true;
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (!(declared <= max)) {
    await res.body.cancel();
    return false;
  }
  const reader = res.body.getReader();
  let read = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return true;
    read += value.byteLength;
    if (read > max) {
      await reader.cancel();
      return false;
    }
  }
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
