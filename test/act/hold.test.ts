/**
 * The hold stage alone, with a fake `next`: what each hold outcome answers,
 * and whether the query went on down the chain.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';

import { HoldStage } from '../../src/act/hold.js';
import { HoldRegistry } from '../../src/act/holds.js';
import { GrantStore } from '../../src/approval/grants.js';
import type { ApprovalConfig, Config } from '../../src/config/types.js';
import { Role } from '../../src/decide/role.js';
import { Query, type Answer, type Decision, type Next } from '../../src/pipeline/types.js';
import { RCODE } from '../../src/wire/constants.js';
import { mustDecode, queryBytes } from '../helpers/packets.js';
import { waitFor } from '../helpers/wait-for.js';

const log = pino({ level: 'silent' });
const role = new Role({ name: 'coding', allow: [], deny: [], qtypes: null, privateOk: [], unlisted: 'hold' });
const APPROVAL: ApprovalConfig = {
  url: 'http://127.0.0.1:9', tokenFile: null, grantTtlMs: 600_000, holdTimeoutMs: 200,
  onHoldTimeout: 'sinkhole', onLinkDown: 'sinkhole', maxPendingHolds: 10, internalSuffixes: [],
};

function config(approval: Partial<ApprovalConfig> | null): Pick<Config, 'sinkhole' | 'approval'> {
  return { sinkhole: { response: 'nxdomain', ttlS: 5 }, approval: approval === null ? null : { ...APPROVAL, ...approval } };
}

function heldQuery(name = 'held.example', decision: Decision = { action: 'hold', reason: 'unlisted' }): Query {
  const q = new Query(mustDecode(queryBytes({ name, edns: true })), '10.20.0.11', 'udp', log, 0);
  q.agent = { name: 'ci-1', role };
  q.decision = decision;
  return q;
}

/** A next that records its calls and answers like the forward path (reason from the hold fact). */
function fakeNext(): Next & { calls: Query[] } {
  const calls: Query[] = [];
  const next = (q: Query): Promise<Answer> => {
    calls.push(q);
    return Promise.resolve({
      action: q.decision!.action, reason: q.hold?.reason ?? q.decision!.reason,
      reply: { kind: 'synthetic', rcode: RCODE.NOERROR },
      ...(q.hold?.id !== undefined && { holdId: q.hold.id }),
      ...(q.hold?.grant && { grant: q.hold.grant }),
    });
  };
  return Object.assign(next, { calls });
}

function registry(opts: { linkUp?: boolean; post?: () => Promise<void> } = {}): HoldRegistry {
  return new HoldRegistry({
    grants: new GrantStore(),
    post: opts.post ?? (() => Promise.resolve()),
    linkUp: () => opts.linkUp ?? true,
    log,
  });
}

describe('HoldStage', () => {
  it('passes every query that is not held, and audit-mode holds', async () => {
    const stage = new HoldStage(config({}), registry());
    const next = fakeNext();
    await stage.handle(heldQuery('a.example', { action: 'forward', reason: 'allowlist' }), next);
    await stage.handle(heldQuery('b.example', { action: 'hold', reason: 'unlisted', wouldBlock: true }), next);
    expect(next.calls).toHaveLength(2);
  });

  it('without an approval section: sinkhole, reason unlisted, next not called', async () => {
    const next = fakeNext();
    const answer = await new HoldStage(config(null), registry()).handle(heldQuery(), next);
    expect(answer).toMatchObject({ action: 'sinkhole', reason: 'unlisted', reply: { rcode: RCODE.NXDOMAIN } });
    expect(next.calls).toHaveLength(0);
  });

  it('approved: the query goes on carrying the hold id and the grant', async () => {
    const holds = registry();
    const next = fakeNext();
    const pending = new HoldStage(config({}), holds).handle(heldQuery(), next);
    const id = await waitFor(() => holds.list()[0]?.hold_id);
    holds.decide({ type: 'hold.decided', holdId: id, decision: 'allow', scope: 'name', decidedBy: 'bob' }, { grantTtlMs: 60_000, internalSuffixes: [] });
    const answer = await pending;
    expect(next.calls).toHaveLength(1);
    expect(next.calls[0]!.hold).toMatchObject({ reason: 'hold_approved', id, grant: { id, approvedBy: 'bob' } });
    expect(answer).toMatchObject({ action: 'hold', reason: 'hold_approved', holdId: id, grant: { id } });
  });

  it('denied: a sinkhole whose EDE text names the hold', async () => {
    const holds = registry();
    const next = fakeNext();
    const pending = new HoldStage(config({}), holds).handle(heldQuery(), next);
    const id = await waitFor(() => holds.list()[0]?.hold_id);
    holds.decide({ type: 'hold.decided', holdId: id, decision: 'deny', scope: 'name' }, { grantTtlMs: 60_000, internalSuffixes: [] });
    const answer = await pending;
    expect(next.calls).toHaveLength(0);
    expect(answer).toMatchObject({ action: 'hold', reason: 'hold_denied', holdId: id, reply: { rcode: RCODE.NXDOMAIN } });
    expect(answer.reply.kind === 'synthetic' && answer.reply.ede?.text).toBe(`intentdns: hold_denied (role coding: hold ${id})`);
  });

  it('timeout: on_hold_timeout sinkhole or servfail, reason hold_timeout', async () => {
    for (const onHoldTimeout of ['sinkhole', 'servfail'] as const) {
      const next = fakeNext();
      const answer = await new HoldStage(config({ onHoldTimeout, holdTimeoutMs: 50 }), registry()).handle(heldQuery(), next);
      expect(answer).toMatchObject({ action: 'hold', reason: 'hold_timeout', holdId: expect.stringMatching(/^h_/) });
      expect(answer.reply).toMatchObject({ rcode: onHoldTimeout === 'sinkhole' ? RCODE.NXDOMAIN : RCODE.SERVFAIL });
      expect(next.calls).toHaveLength(0);
    }
  });

  it('link down: on_link_down sinkhole answers at once; forward goes on with reason link_down', async () => {
    const sink = fakeNext();
    const sunk = await new HoldStage(config({}), registry({ linkUp: false })).handle(heldQuery(), sink);
    expect(sunk).toMatchObject({ action: 'hold', reason: 'link_down' });
    expect(sunk.holdId).toBeUndefined();
    expect(sink.calls).toHaveLength(0);

    const fwd = fakeNext();
    const forwarded = await new HoldStage(config({ onLinkDown: 'forward' }), registry({ linkUp: false })).handle(heldQuery(), fwd);
    expect(fwd.calls).toHaveLength(1);
    expect(forwarded).toMatchObject({ action: 'hold', reason: 'link_down' });
  });

  it('a failed POST is link down for its waiters, naming the hold', async () => {
    const next = fakeNext();
    const answer = await new HoldStage(config({}), registry({ post: () => Promise.reject(new Error('refused')) })).handle(heldQuery(), next);
    expect(answer).toMatchObject({ action: 'hold', reason: 'link_down', holdId: expect.stringMatching(/^h_/) });
  });

  it('capacity: sinkhole, reason hold_capacity', async () => {
    const holds = registry();
    const stage = new HoldStage(config({ maxPendingHolds: 1, holdTimeoutMs: 100 }), holds);
    const first = stage.handle(heldQuery('one.example'), fakeNext());
    const second = await stage.handle(heldQuery('two.example'), fakeNext());
    expect(second).toMatchObject({ action: 'hold', reason: 'hold_capacity' });
    expect((await first).reason).toBe('hold_timeout');
  });
});
