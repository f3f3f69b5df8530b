import type { Answer, Query } from '../pipeline/types.js';
import { buildReply, fitReply, renderAnswer, type ReplyTo } from '../wire/build.js';
import { MAX_MESSAGE_LENGTH, RCODE, UDP_MIN_PAYLOAD } from '../wire/constants.js';
import type { Rejection } from '../wire/query.js';
import { ttlCap } from './caps.js';

/**
 * Serialises an Answer for the query it answers, fitted to the client's UDP
 * payload size, or over TCP to the 65,535 bytes a frame can carry, so every
 * query gets a reply that can be sent. Upstream TTLs are aged by their time in
 * the cache and capped here, from the verdict (answers.max_ttl, the grant's
 * remaining life).
 */
export function encodeAnswer(query: Query, answer: Answer, maxTtlS: number): Buffer {
  const m = query.message;
  const to: ReplyTo = {
    id: m.id, recursionDesired: m.recursionDesired, checkingDisabled: m.checkingDisabled,
    question: m.question.raw, edns: m.edns,
  };
  const reply = answer.reply;
  const bytes = reply.kind === 'synthetic'
    ? buildReply(to, reply)
    : renderAnswer(reply.view, to, reply.ageS, ttlCap(answer.verdict, maxTtlS, Date.now()));
  const limit = query.transport === 'udp' ? (m.edns ? m.edns.udpSize : UDP_MIN_PAYLOAD) : MAX_MESSAGE_LENGTH;
  return fitReply(bytes, to, limit);
}

/** The error reply for a packet decodeQuery (wire/query.ts) would not accept, or null to drop it. */
export function encodeRejection(rejection: Rejection): Buffer | null {
  if (rejection.rcode === null) return null;
  const to: ReplyTo = {
    id: rejection.id, recursionDesired: false, checkingDisabled: false,
    question: rejection.rawQuestion, edns: rejection.edns, opcode: rejection.opcode ?? 0,
  };
  // BADVERS is an extended rcode: 16 = 1 in the OPT record's upper bits, 0 in the header (RFC 6891 §6.1.3).
  if (rejection.badVersion) return buildReply(to, { rcode: RCODE.NOERROR, extendedRcode: 1 });
  return buildReply(to, { rcode: rejection.rcode });
}
