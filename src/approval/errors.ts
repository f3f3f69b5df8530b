import { IntentdnsError } from '../errors.js';
import type { HoldPostProblem } from '../hold/registry.js';

/**
 * A request to the approval service (today: posting a hold) got no acceptable
 * answer. `problem` says which way it failed (hold/registry.ts HoldPostProblem:
 * refused, no_answer, oversize, busy); `status` is the HTTP status, or null
 * when no answer came at all (network error, timeout, never sent); `cause`
 * holds the underlying error, if any.
 */
export class ApprovalRequestError extends IntentdnsError {
  static readonly CODE = 'IDNS_ERR_APPROVAL_REQUEST';
  readonly problem: HoldPostProblem;
  readonly status: number | null;

  constructor(message: string, problem: HoldPostProblem, status: number | null, options?: { cause?: unknown }) {
    super(ApprovalRequestError.CODE, message, options);
    this.problem = problem;
    this.status = status;
  }
}

/** Why one connection of the event stream ended. A closed set: safe as a metric label. */
export type LinkDownReason =
  | 'network'        // connect or read failed (refused, reset, DNS, TLS, …)
  | 'status'         // answered with a non-2xx status
  | 'content_type'   // 2xx, but not text/event-stream (or no body)
  | 'closed'         // the service ended the stream
  | 'silence';       // no byte (event or ping) within heartbeatTimeoutMs

/**
 * The event stream went down. Never thrown to callers: the link logs it and
 * reconnects. It exists so the log line carries a stable code and the cause.
 */
export class ApprovalLinkError extends IntentdnsError {
  static readonly CODE = 'IDNS_ERR_APPROVAL_LINK';
  readonly reason: LinkDownReason;
  readonly status: number | null;

  constructor(reason: LinkDownReason, message: string, status: number | null, options?: { cause?: unknown }) {
    super(ApprovalLinkError.CODE, message, options);
    this.reason = reason;
    this.status = status;
  }
}
