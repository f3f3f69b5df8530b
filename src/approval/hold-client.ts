/**
 * `POST {url}/v1/dns/holds`: tells the approval service that a query is held
 * and waits for a reviewer. One attempt, bounded by `timeoutMs`; retrying is the
 * caller's business (posting the same hold_id twice is safe at the service).
 */
import type { HoldRequest } from '../hold/registry.js';
import { ApprovalRequestError } from './errors.js';

export { ApprovalRequestError } from './errors.js';

/** 201/202 are what the spec promises; 200 is tolerated from services that say "ok" plainly. */
const ACCEPTED = new Set([200, 201, 202]);

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
  try {
    res = await fetch(`${base.replace(/\/+$/, '')}/v1/dns/holds`, {
      method: 'POST',
      headers,
      body: JSON.stringify(toWire(body)),
      signal,
    });
    // Read the (small) answer to the end so the connection can be reused.
    await res.arrayBuffer();
  } catch (err) {
    const what = signal.aborted ? `timed out after ${timeoutMs} ms` : 'failed';
    throw new ApprovalRequestError(`posting hold ${body.holdId} ${what}`, null, { cause: err });
  }
  if (!ACCEPTED.has(res.status)) {
    throw new ApprovalRequestError(`posting hold ${body.holdId}: service answered ${res.status}`, res.status);
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
