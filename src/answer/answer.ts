import type { Config } from '../config/types.js';
import type { Answer, Fetched, Query, Reply, Verdict } from '../pipeline/types.js';
import { EDE } from '../wire/constants.js';
import { blockedText, refusedReply, SERVFAIL, sinkholeReply } from './sinkhole.js';

/**
 * The one place an answer is made: from the query's verdict and what came back
 * for it. Audit mode is applied here and nowhere else: a verdict that would
 * block is logged as it is (wouldBlock) and the agent gets the upstream's
 * answer. TTL caps are applied later still, at encode, from the same verdict.
 */
export function makeAnswer(query: Query, fetched: Fetched | null, sinkhole: Config['sinkhole']): Answer {
  const verdict = query.verdict ?? NO_VERDICT;
  // Audit forwards what a verdict would block; a query nobody decided is not forwarded in any mode.
  const wouldBlock = query.audit && query.verdict !== undefined && verdict.serve !== 'upstream';
  let reason = verdict.reason;
  let reply: Reply;
  if ((verdict.serve === 'upstream' || wouldBlock) && fetched?.kind === 'answer') {
    reply = { kind: 'upstream', view: fetched.view, ageS: fetched.ageS };
  } else if ((verdict.serve === 'upstream' || wouldBlock) && fetched?.kind === 'failed') {
    // In audit mode the reason stays the block enforce would have made: that is what an audit is for.
    if (!wouldBlock) reason = 'upstream_error';
    reply = SERVFAIL;
  } else {
    reply = blockReply(verdict, query, sinkhole);
  }
  // One object per query: this runs for every answer.
  return { action: verdict.action, reason, reply, wouldBlock, verdict, fetched };
}

/** A fault below (a bug): SERVFAIL with reason `error`, never a crash and never a silent drop. */
export function faultAnswer(query: Query, err: unknown): Answer {
  return {
    action: query.verdict?.action ?? 'refuse', reason: 'error', reply: SERVFAIL,
    wouldBlock: false, verdict: query.verdict, fetched: null, error: String(err),
  };
}

/** A query over its rate limit, when over_limit is refuse: REFUSED with EDE 15 "rate limit". */
export const RATE_LIMITED: Verdict = { action: 'refuse', reason: 'rate_limit', serve: 'refused' };

/** The answer for RATE_LIMITED (the pipeline makes it without running the chain). */
export function rateLimitedAnswer(query: Query): Answer {
  const role = query.agent?.role.name ?? '-';
  return {
    action: 'refuse', reason: 'rate_limit', reply: refusedReply(EDE.BLOCKED, `intentdns: rate limit (role ${role})`),
    wouldBlock: false, verdict: RATE_LIMITED, fetched: null,
  };
}

/** A chain that set no verdict is a bug; it gets SERVFAIL rather than an answer nobody decided. */
const NO_VERDICT: Verdict = { action: 'refuse', reason: 'error', serve: 'servfail' };

function blockReply(verdict: Verdict, query: Query, sinkhole: Config['sinkhole']): Reply {
  if (verdict.reason === 'unknown_client') return refusedReply(EDE.PROHIBITED, 'intentdns: unknown client');
  const text = blockedText(query.agent?.role.name ?? '-', verdict.reason, sinkhole.hint);
  switch (verdict.serve) {
    case 'refused':
      return refusedReply(EDE.BLOCKED, text);
    case 'sinkhole':
    case 'review':   // nobody was asked (no hold stage ran): as a sinkhole
      return sinkholeReply(sinkhole.response, query.qtype, sinkhole.ttlS, text);
    case 'servfail':
    case 'upstream': // nothing came back for it
      return SERVFAIL;
  }
}
