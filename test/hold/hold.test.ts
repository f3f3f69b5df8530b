/**
 * The hold stage alone, with a fake `next`: the verdict each hold outcome
 * sets, what the agent then gets (through answer/'s builder), and whether the
 * query went on down the chain.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';

import { makeAnswer } from '../../src/answer/answer.js';
import type { ApprovalConfig } from '../../src/config/types.js';
import { Role } from '../../src/decide/role.js';
import { GrantStore } from '../../src/grants/grants.js';
import { HoldStage } from '../../src/hold/hold.js';
import { HoldRegistry } from '../../src/hold/registry.js';
import { Query, type Next, type Verdict } from '../../src/pipeline/types.js';
import { RCODE } from '../../src/wire/constants.js';
import { mustDecode, queryBytes } from '../helpers/packets.js';
import { waitFor } from '../helpers/wait-for.js';
import { fakeNext, NOTHING_UPSTREAM } from '../helpers/fake-next.js';

const log = pino({ level: 'silent' });
const role = new Role({ name: 'coding', allow: [], deny: [], qtypes: null, privateOk: [], unlisted: 'hold', tunneling: null, mode: null });
const SINKHOLE = { response: 'nxdomain', ttlS: 5, hint: '' } as const;
const APPROVAL: ApprovalConfig = {
  url: 'http://127.0.0.1:9', tokenFile: null, grantTtlMs: 600_000, maxGrantTtlMs: 86_400_000, holdTimeoutMs: 200,
  onHoldTimeout: 'sinkhole', onLinkDown: 'sinkhole', maxPendingHolds: 10, maxPendingHoldsPerAgent: 1, internalSuffixes: [],
};
const REVIEW: Verdict = { action: 'hold', reason: 'unlisted', serve: 'review' };
const SETTINGS = { grantTtlMs: 60_000, maxGrantTtlMs: 86_400_000, internalSuffixes: [] };

const approval = (more: Partial<ApprovalConfig> = {}): ApprovalConfig => ({ ...APPROVAL, ...more });

function heldQuery(name = 'held.example', verdict: Verdict = REVIEW, audit = false): Query {
  const q = new Query(mustDecode(queryBytes({ name, edns: true })), '10.20.0.11', 'udp', 0);
  q.agent = { name: 'ci-1', entry: 'ci-1', address: '10.20.0.11', mode: 'enforce', modeFrom: 'global', role };
  q.audit = audit;
  q.verdict = verdict;
  return q;
}

function registry(opts: { linkUp?: boolean; post?: () => Promise<void> } = {}): HoldRegistry {
  return new HoldRegistry({
    grants: new GrantStore(),
    post: opts.post ?? (() => Promise.resolve()),
    linkUp: () => opts.linkUp ?? true,
    log,
  });
}

/** Runs the stage on one query; returns what it returned, the verdict it left, and the answer the agent gets. */
async function run(stage: HoldStage, query: Query, next: Next) {
  const fetched = await stage.handle(query, next);
  return { fetched, verdict: query.verdict!, answer: makeAnswer(query, fetched, SINKHOLE) };
}

describe('HoldStage', () => {
  it('passes every query that asks no reviewer, and audit-mode holds, leaving their verdicts alone', async () => {
    const stage = new HoldStage(approval(), registry());
    const next = fakeNext();
    const allowed: Verdict = { action: 'forward', reason: 'allowlist', serve: 'upstream', rule: 'a.example' };
    const a = await run(stage, heldQuery('a.example', allowed), next);
    const b = await run(stage, heldQuery('b.example', REVIEW, true), next);
    expect(next.calls).toHaveLength(2);
    expect([a.verdict, b.verdict]).toEqual([allowed, REVIEW]);
    expect(b.answer).toMatchObject({ action: 'hold', reason: 'unlisted', wouldBlock: true });
  });

  it('without an approval section: sinkhole, reason unlisted, next not called', async () => {
    const next = fakeNext();
    const r = await run(new HoldStage(null, null), heldQuery(), next);
    expect(r.fetched).toBeNull();
    expect(r.verdict).toMatchObject({ action: 'sinkhole', reason: 'unlisted', serve: 'sinkhole' });
    expect(r.answer.reply).toMatchObject({ rcode: RCODE.NXDOMAIN, ede: { text: 'intentdns: unlisted (role coding)' } });
    expect(r.verdict.rule).toBe('no approval service to hold for');
    expect(next.calls).toHaveLength(0);
  });

  it('keeps a logged tunneling signal on the verdict it replaces, with and without an approval section', async () => {
    const tunneling = 'max_names_per_domain (301 > 300) under held.example';
    const signalled: Verdict = { ...REVIEW, tunneling };
    expect((await run(new HoldStage(null, null), heldQuery('held.example', signalled), fakeNext())).verdict)
      .toMatchObject({ reason: 'unlisted', serve: 'sinkhole', tunneling });
    const holds = registry();
    const pending = run(new HoldStage(approval(), holds), heldQuery('held.example', signalled), fakeNext());
    const id = await waitFor(() => holds.list()[0]?.hold_id);
    holds.decide({ holdId: id, decision: 'deny', scope: 'name', decidedBy: 'bob' }, SETTINGS);
    expect((await pending).verdict).toMatchObject({ reason: 'hold_denied', tunneling });
  });

  it('approved: the query goes on carrying the hold id and the grant', async () => {
    const holds = registry();
    const next = fakeNext();
    const query = heldQuery();
    const pending = run(new HoldStage(approval(), holds), query, next);
    const id = await waitFor(() => holds.list()[0]?.hold_id);
    holds.decide({ holdId: id, decision: 'allow', scope: 'name', decidedBy: 'bob' }, SETTINGS);
    const r = await pending;
    expect(next.calls).toEqual([query]);
    expect(r.fetched).toBe(NOTHING_UPSTREAM);
    expect(r.verdict).toMatchObject({ action: 'hold', reason: 'hold_approved', serve: 'upstream', holdId: id, grant: { id, approvedBy: 'bob' } });
  });

  it('denied: a sinkhole; the hold id is in the verdict (the log), not in the EDE text', async () => {
    const holds = registry();
    const next = fakeNext();
    const pending = run(new HoldStage(approval(), holds), heldQuery(), next);
    const id = await waitFor(() => holds.list()[0]?.hold_id);
    holds.decide({ holdId: id, decision: 'deny', scope: 'name' }, SETTINGS);
    const r = await pending;
    expect(next.calls).toHaveLength(0);
    expect(r.verdict).toMatchObject({ action: 'hold', reason: 'hold_denied', serve: 'sinkhole', holdId: id });
    expect(r.answer.reply).toMatchObject({ rcode: RCODE.NXDOMAIN, ede: { text: 'intentdns: hold_denied (role coding)' } });
  });

  it('timeout: on_hold_timeout sinkhole or servfail, reason hold_timeout', async () => {
    for (const onHoldTimeout of ['sinkhole', 'servfail'] as const) {
      const next = fakeNext();
      const r = await run(new HoldStage(approval({ onHoldTimeout, holdTimeoutMs: 50 }), registry()), heldQuery(), next);
      expect(r.verdict).toMatchObject({ action: 'hold', reason: 'hold_timeout', serve: onHoldTimeout, holdId: expect.stringMatching(/^h_/) });
      expect(r.answer.reply).toMatchObject({ rcode: onHoldTimeout === 'sinkhole' ? RCODE.NXDOMAIN : RCODE.SERVFAIL });
      expect(next.calls).toHaveLength(0);
    }
  });

  it('link down: on_link_down sinkhole answers at once; forward goes on with reason link_down', async () => {
    const sink = fakeNext();
    const sunk = await run(new HoldStage(approval(), registry({ linkUp: false })), heldQuery(), sink);
    expect(sunk.verdict).toMatchObject({ action: 'hold', reason: 'link_down', serve: 'sinkhole' });
    expect(sunk.verdict.holdId).toBeUndefined();
    expect(sink.calls).toHaveLength(0);

    const fwd = fakeNext();
    const forwarded = await run(new HoldStage(approval({ onLinkDown: 'forward' }), registry({ linkUp: false })), heldQuery(), fwd);
    expect(fwd.calls).toHaveLength(1);
    expect(forwarded.verdict).toMatchObject({ action: 'hold', reason: 'link_down', serve: 'upstream' });
  });

  it('a failed POST is hold_error, sinkholed even with on_link_down forward: nobody reviewed the name', async () => {
    const next = fakeNext();
    const failing = registry({ post: () => Promise.reject(new Error('connect ECONNREFUSED')) });
    const r = await run(new HoldStage(approval({ onLinkDown: 'forward' }), failing), heldQuery(), next);
    expect(r.verdict).toMatchObject({
      action: 'hold', reason: 'hold_error', serve: 'sinkhole', holdId: expect.stringMatching(/^h_/), rule: 'approval service did not answer',
    });
    expect(next.calls).toHaveLength(0);
    expect(r.answer.reply).toMatchObject({ rcode: RCODE.NXDOMAIN });
  });

  it('capacity: sinkhole, reason hold_capacity', async () => {
    const stage = new HoldStage(approval({ maxPendingHolds: 1, holdTimeoutMs: 100 }), registry());
    const first = run(stage, heldQuery('one.example'), fakeNext());
    const second = await run(stage, heldQuery('two.example'), fakeNext());
    expect(second.verdict).toMatchObject({ action: 'hold', reason: 'hold_capacity', serve: 'sinkhole' });
    expect((await first).verdict.reason).toBe('hold_timeout');
  });
});
