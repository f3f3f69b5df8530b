/**
 * Holds cannot be used to lock other agents out: a hold whose queries have
 * all been answered stops counting against max_pending_holds (it stays open
 * as "late" for a late decision), and one client entry — an `{ip}` template
 * in particular — gets at most max_pending_holds_per_agent holds, however
 * many agents it expands to.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { startApprovalProxy, type ApprovalProxy } from '../helpers/approval-proxy.js';
import { waitFor } from '../helpers/wait-for.js';

let ap: ApprovalProxy | null = null;
afterEach(async () => {
  await ap?.close();
  ap = null;
});

const decision = (holdId: string, d: 'allow' | 'deny') => ({ hold_id: holdId, decision: d, scope: 'name', decided_by: 'bob' });

describe('hold fairness: answered holds stop counting', () => {
  it('holds that timed out do not refuse another agent\'s hold; they stay open, listed late, and a late allow still grants', async () => {
    // The attack: 1000 undecided holds (10 agents × the per-agent share) kept counting after their
    // queries timed out, so every agent got hold_capacity for grant_ttl. The same at a tenth of the
    // scale, to spare the machine: max_pending_holds 100, 10 agents × 10 holds.
    const agents = Array.from({ length: 10 }, (_, i) => `{ name: burst-${i}, match: ["127.0.1.${i + 1}/32"], role: coding }`);
    ap = await startApprovalProxy({
      zone: {},
      approval: { hold_timeout: '3s', max_pending_holds: '100' },
      clients: [...agents, '{ name: bystander, match: ["127.0.0.9/32"], role: coding }'],
    });
    const burst: Array<Promise<unknown>> = [];
    for (let a = 0; a < 10; a++) {
      for (let n = 0; n < 10; n++) burst.push(ap.proxy.query(`n${n}.burst-${a}.example`, 'A', { from: `127.0.1.${a + 1}`, timeoutMs: 6000 }));
    }
    // Every POST is through before the first query times out (else it would fail as busy and end its hold).
    await waitFor(() => ap!.holds().length === 100, { what: '100 hold POSTs', timeoutMs: 2500 });
    const timedOut = (await Promise.all(burst)) as Array<{ log?: { reason?: unknown } }>;
    expect(new Set(timedOut.map((r) => r.log?.reason))).toEqual(new Set(['hold_timeout']));

    const pending = ap.proxy.query('fresh.example', 'A', { from: '127.0.0.9', timeoutMs: 5000 });
    const fresh = await ap.holdFor('fresh.example');
    expect(fresh.agent).toBe('bystander');
    const listing = ap.proxy.server.holds.list();
    expect(listing.filter((h) => h.state === 'late')).toHaveLength(100);
    expect(listing.filter((h) => h.state === 'pending').map((h) => h.qname)).toEqual(['fresh.example']);
    expect(ap.proxy.server.holds.stats).toMatchObject({ pending: 1, late: 100 });
    ap.service.send('hold.decided', decision(fresh.hold_id, 'deny'));
    expect((await pending) as { log?: unknown }).toMatchObject({ log: { reason: 'hold_denied', agent: 'bystander' } });

    // A late decision for one of the burst still creates its grant.
    const late = ap.holds().find((h) => h.qname === 'n7.burst-3.example')!;
    ap.service.send('hold.decided', decision(late.hold_id, 'allow'));
    await ap.proxy.waitForLine((l) => l.msg === 'hold approved' && l.hold_id === late.hold_id);
    const retry = await ap.proxy.query('n7.burst-3.example', 'A', { from: '127.0.1.4' });
    expect(retry.log).toMatchObject({ agent: 'burst-3', reason: 'grant', grant: { id: late.hold_id } });
  }, 15_000);
});

describe('hold fairness: per client entry', () => {
  it('an {ip} template gets at most the per-agent share, however many addresses it expands to', async () => {
    // The attack: one `{ip}` host over a /64 opened all 1000 holds, one agent name per address.
    // Here: 30 sources in 127.0.2.0/24, max_pending_holds 100, so the share is 10.
    ap = await startApprovalProxy({
      zone: {},
      approval: { hold_timeout: '2s', max_pending_holds: '100' },
      clients: ['{ name: "agent-{ip}", match: ["127.0.2.0/24"], role: coding }', '{ name: other, match: ["127.0.0.9/32"], role: coding }'],
    });
    const sources = Array.from({ length: 30 }, (_, i) => `127.0.2.${i + 1}`);
    const replies = await Promise.all(sources.map((from, i) => ap!.proxy.query(`n${i}.example`, 'A', { from, timeoutMs: 4000 })));
    const reasons = replies.map((r) => r.log?.reason);
    expect(reasons.filter((r) => r === 'hold_capacity')).toHaveLength(20);
    expect(reasons.filter((r) => r === 'hold_timeout')).toHaveLength(10);
    expect(ap.holds()).toHaveLength(10);
    expect(new Set(ap.holds().map((h) => h.agent)).size).toBe(10);

    // Another entry still gets holds.
    const other = ap.proxy.query('n0.example', 'A', { from: '127.0.0.9', timeoutMs: 4000 });
    const hold = await ap.holdFor('n0.example', ap.holds().some((h) => h.qname === 'n0.example') ? 1 : 0);
    expect(hold.agent).toBe('other');
    ap.service.send('hold.decided', decision(hold.hold_id, 'deny'));
    expect((await other).log).toMatchObject({ reason: 'hold_denied' });
  }, 15_000);
});
