/**
 * Observe alone, with a pino logger writing into an array: which queries get
 * a decision log line under log.queries, what that line says, and that the
 * observers (metrics) hear of every query once, with its duration.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';

import { faultAnswer, makeAnswer } from '../../src/answer/answer.js';
import { parseConfig } from '../../src/config/load.js';
import type { QueryLogging } from '../../src/config/types.js';
import { compileRoles } from '../../src/decide/role.js';
import { UNKNOWN_CLIENT } from '../../src/identify/identify.js';
import { LineSampler } from '../../src/limit/sampler.js';
import { decisionLine, Observe, type QueryObserver } from '../../src/observe/observe.js';
import { Query, type Answer, type Fetched, type GrantRef, type Verdict } from '../../src/pipeline/types.js';
import { walkResponse } from '../../src/wire/response.js';
import { mustDecode, question, queryBytes, responseBytes } from '../helpers/packets.js';

const config = parseConfig(`
version: 1
upstreams: { servers: ["127.0.0.1:5300"] }
clients:
  - { name: ci-runner-1, match: ["10.20.0.11/32"], role: coding }
roles:
  coding: { deny: [evil.example], unlisted: hold }
`, 'observe.yaml');
const role = compileRoles(config.roles).get('coding')!;

const NAME = 'api.example.com';
const view = walkResponse(responseBytes({ name: NAME, answers: [{ name: NAME, type: 'A', ttl: 300, data: '203.0.113.7' }] }), question(NAME).length);
const ANSWERED: Fetched = { kind: 'answer', view, ageS: 0, source: '127.0.0.1:5300' };
const UPSTREAM_ERROR = 'all upstreams failed: 127.0.0.1:5300 udp timeout after 200ms';
const FAILED: Fetched = { kind: 'failed', error: UPSTREAM_ERROR };
const GRANT: GrantRef = { id: 'h_42', command: 'curl https://api.example.com/v1', approvedBy: 'alice', expiresAt: Date.now() + 60_000 };

const ALLOWED: Verdict = { action: 'forward', reason: 'allowlist', serve: 'upstream', rule: 'api.example.com' };
const APPROVED: Verdict = { action: 'hold', reason: 'hold_approved', serve: 'upstream', holdId: 'h_42', grant: GRANT };
const DENIED: Verdict = { action: 'sinkhole', reason: 'denylist', serve: 'sinkhole', rule: 'evil.example' };

/** A query as the chain leaves it, `agoMs` after it arrived. */
function finished(verdict: Verdict, opts: { audit?: boolean; stranger?: boolean; agoMs?: number } = {}): Query {
  const q = new Query(mustDecode(queryBytes({ name: NAME, edns: true })), opts.stranger ? '192.0.2.9' : '10.20.0.11', 'udp', performance.now() - (opts.agoMs ?? 0));
  if (!opts.stranger) q.agent = { name: 'ci-runner-1', entry: 'ci-runner-1', address: '10.20.0.11', mode: 'enforce', modeFrom: 'global', role };
  q.audit = opts.audit ?? false;
  q.verdict = verdict;
  return q;
}

/** An Observe whose log lines and observer calls the test reads. */
function observing(logging: QueryLogging) {
  const lines: Array<Record<string, unknown>> = [];
  const seen: Array<{ query: Query; answer: Answer; seconds: number }> = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  const observer: QueryObserver = (query, answer, seconds) => void seen.push({ query, answer, seconds });
  const observe = new Observe(log, logging, [observer]);
  const record = (query: Query, fetched: Fetched | null): Answer => {
    const answer = makeAnswer(query, fetched, config.sinkhole);
    observe.record(query, answer);
    return answer;
  };
  return { lines, seen, observe, record };
}

/** One of each outcome: plain forward, block, upstream failure, audit would-block, fault. */
function everyOutcome(o: ReturnType<typeof observing>): void {
  o.record(finished(ALLOWED), ANSWERED);
  o.record(finished(DENIED), null);
  o.record(finished(ALLOWED), FAILED);
  o.record(finished(DENIED, { audit: true }), ANSWERED);
  o.observe.record(finished(ALLOWED), faultAnswer(finished(ALLOWED), new Error('boom')));
}

describe('Observe: which queries are logged', () => {
  it('log.queries all: one line per query', () => {
    const o = observing('all');
    everyOutcome(o);
    expect(o.lines.map((l) => [l.msg, l.reason])).toEqual([
      ['query', 'allowlist'], ['query', 'denylist'], ['query', 'upstream_error'], ['query', 'denylist'], ['query', 'error'],
    ]);
  });

  it('log.queries blocked: everything but a plain forward, upstream errors and would-blocks included', () => {
    const o = observing('blocked');
    everyOutcome(o);
    expect(o.lines.map((l) => [l.reason, l.would_block ?? false])).toEqual([
      ['denylist', false], ['upstream_error', false], ['denylist', true], ['error', false],
    ]);
  });

  it('log.queries blocked: a held query is not plainly forwarded, so it is logged even when approved', () => {
    const o = observing('blocked');
    o.record(finished(APPROVED), ANSWERED);
    expect(o.lines.map((l) => l.reason)).toEqual(['hold_approved']);
  });

  it('log.queries blocked: a tunneling signal logged instead of enforced gets its line, with `tunneling`', () => {
    const o = observing('blocked');
    const rule = 'max_names_per_domain (301 > 300) under example.com';
    o.record(finished({ ...ALLOWED, tunneling: rule }), ANSWERED);
    o.record(finished(ALLOWED), ANSWERED);
    expect(o.lines).toHaveLength(1);
    expect(o.lines[0]).toMatchObject({ action: 'forward', reason: 'allowlist', tunneling: rule, answers: ['203.0.113.7'] });
  });

  it('a tunneling block: reason tunneling and the rule naming the limit, no `tunneling` field; in audit mode forwarded with would_block', () => {
    const o = observing('all');
    const rule = 'max_label_length (57 > 52) under example.com';
    const TUNNEL: Verdict = { action: 'sinkhole', reason: 'tunneling', serve: 'sinkhole', rule };
    o.record(finished(TUNNEL), null);
    o.record(finished(TUNNEL, { audit: true }), ANSWERED);
    expect(o.lines[0]).toMatchObject({ action: 'sinkhole', reason: 'tunneling', rule, rcode: 'NXDOMAIN' });
    expect(o.lines[0]).not.toHaveProperty('tunneling');
    expect(o.lines[1]).toMatchObject({ action: 'sinkhole', reason: 'tunneling', rule, would_block: true, rcode: 'NOERROR' });
  });

  it('log.queries none: no lines, and the observers still hear of every query', () => {
    const o = observing('none');
    everyOutcome(o);
    expect(o.lines).toEqual([]);
    expect(o.seen).toHaveLength(5);
  });

  it('observers are called once per record, with the query, its answer and the seconds it took', () => {
    const o = observing('all');
    const query = finished(ALLOWED, { agoMs: 250 });
    const answer = o.record(query, ANSWERED);
    expect(o.seen).toHaveLength(1);
    expect(o.seen[0]).toMatchObject({ query, answer });
    expect(o.seen[0]!.seconds).toBeGreaterThanOrEqual(0.25);
    expect(o.seen[0]!.seconds).toBeLessThan(5);
    expect(o.lines[0]!.duration_ms).toBeGreaterThanOrEqual(250);
  });
});

describe('Observe: the decision line', () => {
  it('is written byte for byte as pino writes the same fields, bindings included, and not at all above level info', () => {
    const written: string[] = [];
    const root = pino({ level: 'info', base: null }, { write: (l: string) => void written.push(l) });
    for (const log of [root, root.child({ listen: '127.0.0.1:53' })]) {
      written.length = 0;
      const query = finished(APPROVED);
      const answer = makeAnswer(query, ANSWERED, config.sinkhole);
      new Observe(log, 'all').record(query, answer);
      log.info(decisionLine(query, answer, 0.001234), 'query');
      const [ours, pinos] = written.map((l) => l.replace(/"time":\d+/, '"time":0').replace(/"duration_ms":[\d.]+/, '"duration_ms":0'));
      expect(ours).toBe(pinos);
      expect(ours!.endsWith('}\n')).toBe(true);
    }
    written.length = 0;
    root.level = 'warn';
    new Observe(root, 'all').record(finished(APPROVED), makeAnswer(finished(APPROVED), ANSWERED, config.sinkhole));
    expect(written).toEqual([]);
  });

  it('an approved hold: agent, role, grant, hold id, what the agent was answered and by which upstream', () => {
    const o = observing('all');
    o.record(finished(APPROVED), ANSWERED);
    expect(o.lines[0]).toMatchObject({
      msg: 'query', client: '10.20.0.11', transport: 'udp', agent: 'ci-runner-1', role: 'coding', qname: NAME, qtype: 'A',
      action: 'hold', reason: 'hold_approved', rcode: 'NOERROR',
      grant: { id: 'h_42', command: 'curl https://api.example.com/v1', approved_by: 'alice' }, hold_id: 'h_42',
      answers: ['203.0.113.7'], upstream: '127.0.0.1:5300',
    });
    expect(o.lines[0]).not.toHaveProperty('would_block');
    expect(o.lines[0]).not.toHaveProperty('error');
    expect(o.lines[0]).not.toHaveProperty('rule');
  });

  it("a block: the rule and the sinkhole rcode, and no addresses (the agent got none)", () => {
    const o = observing('all');
    o.record(finished(DENIED), null);
    expect(o.lines[0]).toMatchObject({ action: 'sinkhole', reason: 'denylist', rule: 'evil.example', rcode: 'NXDOMAIN' });
    for (const key of ['answers', 'upstream', 'grant', 'hold_id', 'would_block']) expect(o.lines[0]).not.toHaveProperty(key);
  });

  it('a block found in the answer: the upstream that answered is named, its addresses are not', () => {
    const o = observing('all');
    const rule = 'api.example.com answered 10.0.0.1';
    o.record(finished({ ...ALLOWED, action: 'sinkhole', reason: 'rebinding', serve: 'sinkhole', rule }), ANSWERED);
    expect(o.lines[0]).toMatchObject({ reason: 'rebinding', rule, upstream: '127.0.0.1:5300', rcode: 'NXDOMAIN' });
    expect(o.lines[0]).not.toHaveProperty('answers');
  });

  it('blocked: true whenever the agent did not get the upstream\'s answer (block, our SERVFAIL, fault), false for a forward and an audit forward', () => {
    const o = observing('all');
    everyOutcome(o);
    o.record(finished(DENIED, { audit: true }), FAILED);
    o.record(finished({ action: 'refuse', reason: 'qtype', serve: 'refused', rule: 'qtypes of coding (TXT)' }), null);
    expect(o.lines.map((l) => [l.reason, l.rcode, l.blocked, l.would_block ?? false])).toEqual([
      ['allowlist', 'NOERROR', false, false],
      ['denylist', 'NXDOMAIN', true, false],
      ['upstream_error', 'SERVFAIL', true, false],
      ['denylist', 'NOERROR', false, true],
      ['error', 'SERVFAIL', true, false],
      // Audit forwarded it, but no upstream answered: the agent got our SERVFAIL.
      ['denylist', 'SERVFAIL', true, true],
      ['qtype', 'REFUSED', true, false],
    ]);
    // Next to action and reason, in the same place on every line.
    for (const line of o.lines) expect(Object.keys(line).slice(Object.keys(line).indexOf('reason') + 1)[0]).toBe('blocked');
  });

  it("audit mode: would_block true, with the upstream's answers the agent got", () => {
    const o = observing('all');
    o.record(finished(DENIED, { audit: true }), ANSWERED);
    expect(o.lines[0]).toMatchObject({ action: 'sinkhole', reason: 'denylist', would_block: true, answers: ['203.0.113.7'], rcode: 'NOERROR' });
  });

  it("an upstream failure carries the fetch's error; a fault carries its message", () => {
    const o = observing('all');
    o.record(finished(ALLOWED), FAILED);
    o.observe.record(finished(ALLOWED), faultAnswer(finished(ALLOWED), new Error('boom')));
    expect(o.lines[0]).toMatchObject({ reason: 'upstream_error', rcode: 'SERVFAIL', error: UPSTREAM_ERROR });
    expect(o.lines[0]).not.toHaveProperty('upstream');
    expect(o.lines[1]).toMatchObject({ reason: 'error', rcode: 'SERVFAIL', error: 'Error: boom' });
  });

  it('an unknown client: no agent or role on the line', () => {
    const o = observing('all');
    o.record(finished(UNKNOWN_CLIENT, { stranger: true }), null);
    expect(o.lines[0]).toMatchObject({ client: '192.0.2.9', action: 'refuse', reason: 'unknown_client', rcode: 'REFUSED' });
    expect(o.lines[0]).not.toHaveProperty('agent');
    expect(o.lines[0]).not.toHaveProperty('role');
  });
});

describe('sampled lines: refused strangers and rate-limited queries', () => {
  function sampling(logging: QueryLogging = 'all') {
    const lines: Array<Record<string, unknown>> = [];
    const limited: unknown[] = [];
    const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const observe = new Observe(log, logging, [], { sampler: new LineSampler(), limitObservers: [(l) => void limited.push(l)] });
    return { lines, limited, observe };
  }

  it('writes one line per stranger for a burst of refusals, with limited: 1 on the first', () => {
    const o = sampling();
    for (let i = 0; i < 5; i++) {
      const q = finished(UNKNOWN_CLIENT, { stranger: true });
      o.observe.record(q, makeAnswer(q, null, config.sinkhole));
    }
    expect(o.lines).toHaveLength(1);
    expect(o.lines[0]).toMatchObject({ client: '192.0.2.9', action: 'refuse', reason: 'unknown_client', limited: 1 });
    // Policy decisions of known clients are never sampled.
    for (let i = 0; i < 3; i++) o.observe.record(finished(DENIED), makeAnswer(finished(DENIED), null, config.sinkhole));
    expect(o.lines).toHaveLength(4);
  });

  it('counts every rate-limited query and logs it like a decision line, sampled', () => {
    const o = sampling('blocked');
    const message = mustDecode(queryBytes({ name: NAME }));
    const agent = { name: 'ci-runner-1', entry: 'ci-runner-1', address: '10.20.0.11', mode: 'enforce' as const, modeFrom: 'global' as const, role };
    for (let i = 0; i < 3; i++) {
      o.observe.recordLimited({ client: '10.20.0.11', transport: 'udp', agent, action: 'drop', message: i === 0 ? message : null, qtype: 1, receivedAt: performance.now() });
    }
    expect(o.limited).toHaveLength(3);
    expect(o.lines).toEqual([expect.objectContaining({
      msg: 'query', client: '10.20.0.11', transport: 'udp', agent: 'ci-runner-1', role: 'coding', qname: NAME, qtype: 'A',
      action: 'drop', reason: 'rate_limit', blocked: true, limited: 1,
    })]);
    expect(o.lines[0]).not.toHaveProperty('rcode');
    expect(o.observe.wouldLog('10.20.0.11', performance.now())).toBe(false);
    expect(o.observe.wouldLog('10.20.0.12', performance.now())).toBe(true);
  });

  it('writes nothing with log.queries none, and still counts', () => {
    const o = sampling('none');
    o.observe.recordLimited({ client: '192.0.2.9', transport: 'tcp', agent: null, action: 'drop', message: null, qtype: undefined, receivedAt: 0 });
    expect(o.lines).toEqual([]);
    expect(o.limited).toHaveLength(1);
    expect(o.observe.wouldLog('192.0.2.9', 0)).toBe(false);
  });
});
