/**
 * makeAnswer alone: from a verdict and what came back, the one reply the agent
 * gets, the reason the log and metrics see, and audit mode (a block logged as
 * such, answered as forwarded). Sinkhole settings come through the real loader.
 */
import { describe, expect, it } from 'vitest';

import { faultAnswer, makeAnswer } from '../../src/answer/answer.js';
import { parseConfig } from '../../src/config/load.js';
import { compileRoles } from '../../src/decide/role.js';
import { Query, type Fetched, type Reply, type Verdict } from '../../src/pipeline/types.js';
import { buildReply } from '../../src/wire/build.js';
import { EDE, RCODE } from '../../src/wire/constants.js';
import { walkResponse } from '../../src/wire/response.js';
import { decodePacket, edeOf, mustDecode, question, queryBytes, replyToFor, responseBytes } from '../helpers/packets.js';

const CONFIG = (response: string) => parseConfig(`
version: 1
upstreams: { servers: ["127.0.0.1:5300"] }
sinkhole: { response: ${response}, ttl: 30s }
clients:
  - { name: ci-runner-1, match: ["10.20.0.11/32"], role: coding }
roles:
  coding: { unlisted: hold }
`, 'answer.yaml');
const config = CONFIG('nxdomain');
const role = compileRoles(config.roles).get('coding')!;

const NAME = 'gist.github.com';
const view = walkResponse(responseBytes({ name: NAME, answers: [{ name: NAME, type: 'A', ttl: 300, data: '140.82.112.4' }] }), question(NAME).length);
const ANSWERED: Fetched = { kind: 'answer', view, ageS: 7, source: '127.0.0.1:5300' };
const FAILED: Fetched = { kind: 'failed', error: 'all upstreams failed: 127.0.0.1:5300 udp timeout after 200ms' };

const ALLOWED: Verdict = { action: 'forward', reason: 'allowlist', serve: 'upstream', rule: 'github.com' };
const DENIED: Verdict = { action: 'sinkhole', reason: 'denylist', serve: 'sinkhole', rule: NAME };

function queryWith(verdict: Verdict | undefined, opts: { audit?: boolean; agent?: boolean } = {}): Query {
  const q = new Query(mustDecode(queryBytes({ name: NAME, edns: true })), '10.20.0.11', 'udp', 0);
  if (opts.agent !== false) q.agent = { name: 'ci-runner-1', entry: 'ci-runner-1', address: '10.20.0.11', mode: 'enforce', modeFrom: 'global', role };
  q.audit = opts.audit ?? false;
  q.verdict = verdict;
  return q;
}

/** A synthetic reply as the agent reads it. */
function wire(reply: Reply) {
  if (reply.kind !== 'synthetic') throw new Error(`expected a synthetic reply, got ${reply.kind}`);
  return decodePacket(buildReply(replyToFor(queryWith(undefined).message), reply));
}

describe('makeAnswer: what the agent gets for each serve', () => {
  it("upstream: the upstream's answer, passed through with its age", () => {
    const a = makeAnswer(queryWith(ALLOWED), ANSWERED, config.sinkhole);
    expect(a).toEqual({ action: 'forward', reason: 'allowlist', reply: { kind: 'upstream', view, ageS: 7 }, wouldBlock: false, verdict: ALLOWED, fetched: ANSWERED });
  });

  it('sinkhole: the configured sinkhole response, EDE 15 naming reason and role', () => {
    const a = makeAnswer(queryWith(DENIED), null, config.sinkhole);
    expect(a).toMatchObject({ action: 'sinkhole', reason: 'denylist', wouldBlock: false });
    expect(a.reply).toMatchObject({ kind: 'synthetic', rcode: RCODE.NXDOMAIN, ede: { code: EDE.BLOCKED, text: 'intentdns: denylist (role coding)' } });
    const p = wire(a.reply);
    expect(p.authorities.map((r) => r.type === 'SOA' && r.ttl)).toEqual([30]);

    const nullIp = makeAnswer(queryWith(DENIED), null, CONFIG('null-ip').sinkhole);
    expect(wire(nullIp.reply).answers.map((r) => 'data' in r && [r.data, r.ttl])).toEqual([['0.0.0.0', 30]]);
  });

  it("a block's EDE text never carries its rule (a blocked address, a deny pattern), and ends with sinkhole.hint", () => {
    const rebinding: Verdict = { action: 'sinkhole', reason: 'rebinding', serve: 'sinkhole', rule: 'api.example.com answered 10.1.2.3' };
    expect(makeAnswer(queryWith(rebinding), null, config.sinkhole).reply).toMatchObject({ ede: { text: 'intentdns: rebinding (role coding)' } });
    const qtype: Verdict = { action: 'refuse', reason: 'qtype', serve: 'refused', rule: 'qtypes of coding (TXT)' };
    const hint = { ...config.sinkhole, hint: 'ask at https://approvals.example/' };
    expect(makeAnswer(queryWith(qtype), null, hint).reply).toEqual({
      kind: 'synthetic', rcode: RCODE.REFUSED, ede: { code: EDE.BLOCKED, text: 'intentdns: qtype (role coding); ask at https://approvals.example/' },
    });
  });

  it("refused for a stranger: REFUSED with EDE 18 'intentdns: unknown client'", () => {
    const stranger: Verdict = { action: 'refuse', reason: 'unknown_client', serve: 'refused' };
    const a = makeAnswer(queryWith(stranger, { agent: false }), null, config.sinkhole);
    expect(a).toMatchObject({ action: 'refuse', reason: 'unknown_client', wouldBlock: false });
    expect(a.reply).toEqual({ kind: 'synthetic', rcode: RCODE.REFUSED, ede: { code: EDE.PROHIBITED, text: 'intentdns: unknown client' } });
    expect(edeOf(wire(a.reply))).toEqual({ infoCode: 18, text: 'intentdns: unknown client' });
  });

  it('servfail: SERVFAIL, no EDE, the verdict reason kept', () => {
    const timeout: Verdict = { action: 'hold', reason: 'hold_timeout', serve: 'servfail', holdId: 'h_1' };
    const a = makeAnswer(queryWith(timeout), null, config.sinkhole);
    expect(a).toMatchObject({ action: 'hold', reason: 'hold_timeout', reply: { kind: 'synthetic', rcode: RCODE.SERVFAIL }, wouldBlock: false });
    expect(a.reply).not.toHaveProperty('ede');
  });

  it('an allowed query whose fetch failed: SERVFAIL, reason upstream_error', () => {
    const a = makeAnswer(queryWith(ALLOWED), FAILED, config.sinkhole);
    expect(a).toEqual({ action: 'forward', reason: 'upstream_error', reply: { kind: 'synthetic', rcode: RCODE.SERVFAIL }, wouldBlock: false, verdict: ALLOWED, fetched: FAILED });
  });
});

describe('makeAnswer: audit mode', () => {
  it("a block with an upstream answer: the agent gets the upstream's reply, logged as would-block with its reason", () => {
    const a = makeAnswer(queryWith(DENIED, { audit: true }), ANSWERED, config.sinkhole);
    expect(a).toEqual({ action: 'sinkhole', reason: 'denylist', reply: { kind: 'upstream', view, ageS: 7 }, wouldBlock: true, verdict: DENIED, fetched: ANSWERED });
  });

  it('a block whose fetch failed: SERVFAIL, keeping the block reason for the audit', () => {
    const a = makeAnswer(queryWith(DENIED, { audit: true }), FAILED, config.sinkhole);
    expect(a).toMatchObject({ action: 'sinkhole', reason: 'denylist', reply: { kind: 'synthetic', rcode: RCODE.SERVFAIL }, wouldBlock: true });
  });

  it('an allowed query is answered as in enforce mode, not flagged would-block', () => {
    expect(makeAnswer(queryWith(ALLOWED, { audit: true }), ANSWERED, config.sinkhole)).toMatchObject({ reason: 'allowlist', wouldBlock: false, reply: { kind: 'upstream' } });
    expect(makeAnswer(queryWith(ALLOWED, { audit: true }), FAILED, config.sinkhole)).toMatchObject({ reason: 'upstream_error', wouldBlock: false });
  });
});

describe('makeAnswer and faultAnswer: bugs answer SERVFAIL', () => {
  it('a chain that set no verdict: SERVFAIL, reason error', () => {
    const a = makeAnswer(queryWith(undefined), null, config.sinkhole);
    expect(a).toMatchObject({ action: 'refuse', reason: 'error', reply: { kind: 'synthetic', rcode: RCODE.SERVFAIL }, wouldBlock: false });
  });

  // Was a bug: audit mode counted "no verdict" as a would-block and handed over the upstream answer nobody decided.
  it('a chain that set no verdict gets SERVFAIL in audit mode too, even with an upstream answer at hand', () => {
    const a = makeAnswer(queryWith(undefined, { audit: true }), ANSWERED, config.sinkhole);
    expect(a).toMatchObject({ reason: 'error', reply: { kind: 'synthetic', rcode: RCODE.SERVFAIL }, wouldBlock: false });
  });

  it('a fault: SERVFAIL, reason error, the message kept for the log, the verdict as it was', () => {
    const query = queryWith(ALLOWED);
    const a = faultAnswer(query, new Error('boom'));
    expect(a).toEqual({ action: 'forward', reason: 'error', reply: { kind: 'synthetic', rcode: RCODE.SERVFAIL }, wouldBlock: false, verdict: ALLOWED, fetched: null, error: 'Error: boom' });
    expect(faultAnswer(queryWith(undefined), 'odd')).toMatchObject({ action: 'refuse', reason: 'error', error: 'odd' });
  });
});
