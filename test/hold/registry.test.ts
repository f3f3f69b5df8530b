/**
 * The hold registry, with its POSTs going over real sockets to the fake
 * approval service: joining, one POST per hold, per-query timeouts, late
 * decisions, remembered denials and the capacity bounds.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';

import { HoldRegistry, type HeldQuery, type HoldLimits, type HoldOutcome } from '../../src/hold/registry.js';
import type { HoldDecidedEvent } from '../../src/approval/events.js';
import { GrantStore } from '../../src/grants/grants.js';
import { postHold } from '../../src/approval/hold-client.js';
import { QTYPE } from '../../src/wire/qtypes.js';
import { FakeApprovalService } from '../helpers/approval-service.js';
import { delay, waitFor } from '../helpers/wait-for.js';

const TOKEN = 'hold-token';
const LIMITS: HoldLimits = { timeoutMs: 400, maxPending: 100, maxPendingPerAgent: 10, keepOpenMs: 60_000 };
const SETTINGS = { grantTtlMs: 600_000, maxGrantTtlMs: 86_400_000, internalSuffixes: [] };

const held = (qname: string, agent = 'ci-1', qtype: number = QTYPE.A, entry = agent): HeldQuery =>
  ({ agent, entry, role: 'coding', client: '10.20.0.11', qname, qtype });
const decided = (holdId: string, decision: 'allow' | 'deny', more: Partial<HoldDecidedEvent> = {}): HoldDecidedEvent =>
  ({ type: 'hold.decided', holdId, decision, scope: 'name', decidedBy: 'bob', ...more });

interface Harness {
  service: FakeApprovalService;
  grants: GrantStore;
  registry: HoldRegistry;
  link: { up: boolean };
  waits: Array<{ outcome: string; seconds: number }>;
}

let h: Harness | null = null;

async function setup(opts: { maxWaitersPerHold?: number } = {}): Promise<Harness> {
  const service = await FakeApprovalService.start({ token: TOKEN });
  const grants = new GrantStore();
  const link = { up: true };
  const registry = new HoldRegistry({
    grants,
    post: (request, timeoutMs) => postHold(service.url, TOKEN, request, timeoutMs),
    linkUp: () => link.up,
    log: pino({ level: 'silent' }),
    ...(opts.maxWaitersPerHold !== undefined && { maxWaitersPerHold: opts.maxWaitersPerHold }),
  });
  const waits: Harness['waits'] = [];
  registry.observe((outcome, seconds) => waits.push({ outcome, seconds }));
  h = { service, grants, registry, link, waits };
  return h;
}

afterEach(async () => {
  h?.registry.close();
  await h?.service.close();
  h = null;
});

/** The id the registry gave the hold of `qname` (from the POST the service received). */
async function holdIdOf(service: FakeApprovalService, qname: string): Promise<string> {
  const post = await waitFor(() => service.holds.find((p) => (p.body as { qname: string }).qname === qname), { what: `POST for ${qname}` });
  return (post.body as { hold_id: string }).hold_id;
}

describe('HoldRegistry: one hold, one POST', () => {
  it('posts the hold once with every protocol field; parallel queries join it', async () => {
    const { service, grants, registry } = await setup();
    grants.add('ci-1', [{ scope: 'name', name: 'api.example.com' }], { id: 'cmd_812', command: 'curl https://api.example.com', approvedBy: 'alice', expiresAt: Date.now() + 60_000 }, Date.now());
    const before = Date.now();
    const waiting = [registry.wait(held('uploads.untrusted.example'), LIMITS), registry.wait(held('uploads.untrusted.example'), LIMITS)];
    const id = await holdIdOf(service, 'uploads.untrusted.example');
    // A third one after the POST went out still joins.
    waiting.push(registry.wait(held('uploads.untrusted.example'), LIMITS));

    expect(service.holds).toHaveLength(1);
    const post = service.holds[0]!;
    expect(post.authorization).toBe(`Bearer ${TOKEN}`);
    expect(post.body).toMatchObject({
      hold_id: id, agent: 'ci-1', role: 'coding', client: '10.20.0.11',
      qname: 'uploads.untrusted.example', qtype: 'A', recent_commands: ['cmd_812'],
    });
    expect(id).toMatch(/^h_[0-9a-f]{12}$/);
    const at = Date.parse((post.body as { at: string }).at);
    expect(at).toBeGreaterThanOrEqual(before);
    expect(registry.list()).toMatchObject([{ hold_id: id, agent: 'ci-1', qname: 'uploads.untrusted.example', qtype: 'A', waiting: 3 }]);

    expect(registry.decide(decided(id, 'allow'), SETTINGS)).toBe('approved');
    const outcomes = await Promise.all(waiting);
    for (const o of outcomes) expect(o).toMatchObject({ kind: 'approved', holdId: id, grant: { id, approvedBy: 'bob' } });
    expect(grants.find('ci-1', 'uploads.untrusted.example', Date.now())?.id).toBe(id);
    expect(grants.find('ci-1', 'x.uploads.untrusted.example', Date.now())).toBeUndefined();
    expect(registry.list()).toEqual([]);
    expect(registry.stats).toMatchObject({ pending: 0, waiting: 0, ended: { approved: 1 } });
    expect(service.holds).toHaveLength(1);
  });

  it('another type joins the hold of the name (one POST, with the first type); another agent is another hold', async () => {
    // v1.1 "One hold per name": stubs ask A and AAAA at once; the reviewer sees one request.
    const { service, registry } = await setup();
    const a = registry.wait(held('x.example'), LIMITS);
    const aaaa = registry.wait(held('x.example', 'ci-1', QTYPE.AAAA), LIMITS);
    void registry.wait(held('x.example', 'ci-2'), LIMITS);
    await waitFor(() => service.holds.length === 2, { what: 'two POSTs' });
    await delay(50);
    expect(service.holds).toHaveLength(2);
    expect(registry.stats).toMatchObject({ pending: 2, waiting: 3 });
    const mine = registry.list().find((l) => l.agent === 'ci-1')!;
    expect(mine).toMatchObject({ qname: 'x.example', qtype: 'A', waiting: 2 });
    expect(registry.decide(decided(mine.hold_id, 'allow'), SETTINGS)).toBe('approved');
    expect(await a).toMatchObject({ kind: 'approved', holdId: mine.hold_id });
    expect(await aaaa).toMatchObject({ kind: 'approved', holdId: mine.hold_id });
  });
});

describe('HoldRegistry: timeouts and late decisions', () => {
  it('each query waits hold_timeout from its own arrival; the hold stays open; a late allow creates the grant', async () => {
    const { service, grants, registry, waits } = await setup();
    const t0 = performance.now();
    const first = registry.wait(held('late.example'), LIMITS);
    await delay(200);
    const second = registry.wait(held('late.example'), LIMITS);
    const id = await holdIdOf(service, 'late.example');

    expect(await first).toEqual({ kind: 'timeout', holdId: id });
    const firstAt = performance.now() - t0;
    expect(registry.list()[0]?.waiting).toBe(1);
    expect(await second).toEqual({ kind: 'timeout', holdId: id });
    const secondAt = performance.now() - t0;
    expect(firstAt).toBeGreaterThanOrEqual(390);
    expect(firstAt).toBeLessThan(590);
    expect(secondAt - firstAt).toBeGreaterThanOrEqual(150);
    expect(waits.map((w) => w.outcome)).toEqual(['timeout', 'timeout']);

    // Undecided, waiterless, still open: a retry joins it without a new POST.
    expect(registry.list()).toMatchObject([{ hold_id: id, waiting: 0 }]);
    const retry = registry.wait(held('late.example'), { ...LIMITS, timeoutMs: 5000 });
    expect(registry.decide(decided(id, 'allow', { ttlSeconds: 30 }), SETTINGS)).toBe('approved');
    expect(await retry).toMatchObject({ kind: 'approved', holdId: id });
    expect(service.holds).toHaveLength(1);
    const grant = grants.find('ci-1', 'late.example', Date.now());
    expect(grant?.expiresAt).toBeGreaterThan(Date.now() + 25_000);
    expect(grant?.expiresAt).toBeLessThanOrEqual(Date.now() + 30_000);
  });

  it('a decision for a hold nobody waits on any more still creates the grant', async () => {
    const { service, grants, registry } = await setup();
    const first = registry.wait(held('later.example'), { ...LIMITS, timeoutMs: 50 });
    const id = await holdIdOf(service, 'later.example');
    expect((await first).kind).toBe('timeout');
    registry.decide(decided(id, 'allow'), SETTINGS);
    expect(grants.find('ci-1', 'later.example', Date.now())?.id).toBe(id);
  });

  it('an undecided hold is dropped after keepOpenMs; its decision is then unknown', async () => {
    const { service, registry } = await setup();
    const first = registry.wait(held('dropped.example'), { ...LIMITS, timeoutMs: 1000, keepOpenMs: 150 });
    const id = await holdIdOf(service, 'dropped.example');
    expect(await first).toEqual({ kind: 'timeout', holdId: id });
    expect(registry.list()).toEqual([]);
    expect(registry.stats.ended.expired).toBe(1);
    expect(registry.decide(decided(id, 'allow'), SETTINGS)).toBe('unknown');
  });
});

describe('HoldRegistry: deny', () => {
  it('denies the waiters and remembers it: retries are answered at once, without a hold or a POST', async () => {
    const { service, grants, registry } = await setup();
    const waiting = registry.wait(held('bad.example'), LIMITS);
    const id = await holdIdOf(service, 'bad.example');
    expect(registry.decide(decided(id, 'deny', { ttlSeconds: 60 }), SETTINGS)).toBe('denied');
    expect(await waiting).toEqual({ kind: 'denied', holdId: id });
    expect(grants.find('ci-1', 'bad.example', Date.now())).toBeUndefined();

    expect(await registry.wait(held('bad.example'), LIMITS)).toEqual({ kind: 'denied', holdId: id });
    expect(await registry.wait(held('bad.example', 'ci-1', QTYPE.AAAA), LIMITS)).toEqual({ kind: 'denied', holdId: id });
    // Remembered even while the link is down: it is our own knowledge.
    h!.link.up = false;
    expect(await registry.wait(held('bad.example'), LIMITS)).toEqual({ kind: 'denied', holdId: id });
    // Another agent asking for the same name is asked about separately.
    h!.link.up = true;
    void registry.wait(held('bad.example', 'ci-2'), LIMITS);
    await waitFor(() => service.holds.length === 2, { what: 'the second agent\'s POST' });
    expect(service.holds).toHaveLength(2);
  });

  it('scope domain denies the registrable domain, and releases the agent\'s other pending holds under it', async () => {
    const { service, registry } = await setup();
    const a = registry.wait(held('a.evil.co.uk'), LIMITS);
    const b = registry.wait(held('b.c.evil.co.uk'), LIMITS);
    const other = registry.wait(held('b.c.evil.co.uk', 'ci-2'), { ...LIMITS, timeoutMs: 100 });
    const id = await holdIdOf(service, 'a.evil.co.uk');
    const idB = await waitFor(() => registry.list().find((l) => l.qname === 'b.c.evil.co.uk' && l.agent === 'ci-1')?.hold_id);
    registry.decide(decided(id, 'deny', { scope: 'domain' }), SETTINGS);
    expect(await a).toEqual({ kind: 'denied', holdId: id });
    expect(await b).toEqual({ kind: 'denied', holdId: idB });
    expect((await other).kind).toBe('timeout');
    expect(await registry.wait(held('evil.co.uk'), LIMITS)).toEqual({ kind: 'denied', holdId: id });
  });
});

describe('HoldRegistry: allow with scope domain', () => {
  it('grants the registrable domain and releases the agent\'s covered holds (another type joined to one of them)', async () => {
    const { service, grants, registry } = await setup();
    const a = registry.wait(held('a.b.example.co.uk'), LIMITS);
    const aaaa = registry.wait(held('a.b.example.co.uk', 'ci-1', QTYPE.AAAA), LIMITS);
    const sibling = registry.wait(held('www.example.co.uk'), LIMITS);
    const unrelated = registry.wait(held('other.example'), { ...LIMITS, timeoutMs: 100 });
    // The AAAA query joined the A hold of its name: three holds, three POSTs.
    await waitFor(() => service.holds.length === 3, { what: 'three POSTs' });
    const id = registry.list().find((l) => l.qname === 'a.b.example.co.uk' && l.qtype === 'A')!.hold_id;
    registry.decide(decided(id, 'allow', { scope: 'domain' }), SETTINGS);
    const results: HoldOutcome[] = await Promise.all([a, aaaa, sibling]);
    for (const r of results) expect(r).toMatchObject({ kind: 'approved', grant: { id } });
    expect((await unrelated).kind).toBe('timeout');
    expect(grants.find('ci-1', 'example.co.uk', Date.now())?.id).toBe(id);
    expect(grants.find('ci-1', 'deep.x.example.co.uk', Date.now())?.id).toBe(id);
    expect(grants.list(Date.now())).toMatchObject([{ scope: 'domain', name: 'example.co.uk', source: 'hold' }]);
  });
});

describe('HoldRegistry: release by a command grant', () => {
  it('releases the agent\'s pending holds the grant covers, approved with that grant', async () => {
    const { service, registry } = await setup();
    const covered = registry.wait(held('api.example.com'), LIMITS);
    const otherAgent = registry.wait(held('api.example.com', 'ci-2'), { ...LIMITS, timeoutMs: 100 });
    const uncovered = registry.wait(held('else.example.org'), { ...LIMITS, timeoutMs: 100 });
    await waitFor(() => service.holds.length === 3, { what: 'three POSTs' });
    const grant = { id: 'cmd_1', command: 'curl https://api.example.com', approvedBy: 'alice', expiresAt: Date.now() + 60_000 };
    expect(registry.release('ci-1', [{ scope: 'subtree', name: 'example.com' }, { scope: 'name', name: 'api.example.com' }], grant)).toBe(1);
    expect(await covered).toMatchObject({ kind: 'approved', grant });
    expect((await otherAgent).kind).toBe('timeout');
    expect((await uncovered).kind).toBe('timeout');
    // Both stay open for a late decision, but nobody waits on them: late, not counted.
    expect(registry.stats).toMatchObject({ pending: 0, late: 2 });
  });
});

describe('HoldRegistry: link and POST failures', () => {
  it('with the link down no hold is opened and nothing is posted', async () => {
    const { service, registry } = await setup();
    h!.link.up = false;
    expect(await registry.wait(held('x.example'), LIMITS)).toEqual({ kind: 'link_down' });
    await delay(50);
    expect(service.holds).toHaveLength(0);
    expect(registry.stats.pending).toBe(0);
  });

  it('a POST the service refuses answers the waiters with error and its status, and ends the hold; the retry posts anew', async () => {
    const { service, registry } = await setup();
    service.setHoldStatus(503);
    const first = registry.wait(held('x.example'), LIMITS);
    const id = await holdIdOf(service, 'x.example');
    expect(await first).toEqual({ kind: 'error', holdId: id, status: 503, problem: 'refused' });
    expect(registry.stats).toMatchObject({ pending: 0, ended: { post_failed: 1 } });

    service.setHoldStatus(202);
    void registry.wait(held('x.example'), LIMITS);
    await waitFor(() => service.holds.length === 2, { what: 'second POST' });
    expect((service.holds[1]!.body as { hold_id: string }).hold_id).not.toBe(id);
  });
});

describe('HoldRegistry: capacity', () => {
  it('max_pending_holds bounds open holds; joining an open hold still works at the bound', async () => {
    const { service, registry } = await setup();
    const limits = { ...LIMITS, maxPending: 2 };
    void registry.wait(held('a.example', 'ci-1'), limits);
    void registry.wait(held('b.example', 'ci-2'), limits);
    expect(await registry.wait(held('c.example', 'ci-3'), limits)).toEqual({ kind: 'capacity', full: 'holds' });
    const join = registry.wait(held('a.example', 'ci-1'), limits);
    const id = await holdIdOf(service, 'a.example');
    registry.decide(decided(id, 'allow'), SETTINGS);
    expect((await join).kind).toBe('approved');
    // Room again.
    void registry.wait(held('c.example', 'ci-3'), limits);
    expect(registry.stats.pending).toBe(2);
  });

  it('one agent gets at most maxPendingPerAgent; the others still get holds', async () => {
    const { registry } = await setup();
    const limits = { ...LIMITS, maxPending: 30, maxPendingPerAgent: 3 };
    for (let i = 0; i < 3; i++) void registry.wait(held(`n${i}.example`, 'greedy'), limits);
    expect(await registry.wait(held('n3.example', 'greedy'), limits)).toEqual({ kind: 'capacity', full: 'holds' });
    void registry.wait(held('n0.example', 'modest'), limits);
    expect(registry.stats.pending).toBe(4);
  });

  it('one client entry gets at most maxPendingPerAgent too, over all the agents it produces', async () => {
    const { registry } = await setup();
    const limits = { ...LIMITS, maxPending: 30, maxPendingPerAgent: 3 };
    const fromTemplate = (i: number) => held('same.example', `agent-10.0.0.${i}`, QTYPE.A, 'agent-{ip}');
    for (let i = 1; i <= 3; i++) void registry.wait(fromTemplate(i), limits);
    expect(await registry.wait(fromTemplate(4), limits)).toEqual({ kind: 'capacity', full: 'holds' });
    void registry.wait(held('same.example', 'ci-1'), limits);
    expect(registry.stats.pending).toBe(4);
  });

  it('a hold takes a bounded number of waiters', async () => {
    const { registry } = await setup({ maxWaitersPerHold: 2 });
    void registry.wait(held('x.example'), LIMITS);
    void registry.wait(held('x.example'), LIMITS);
    const third = await registry.wait(held('x.example'), LIMITS);
    expect(third.kind).toBe('capacity');
    expect(third).toMatchObject({ full: 'waiters', holdId: registry.list()[0]!.hold_id });
  });

  it('close releases every waiter and leaves nothing pending', async () => {
    const { registry } = await setup();
    const w = registry.wait(held('x.example'), { ...LIMITS, timeoutMs: 60_000 });
    registry.close();
    expect((await w).kind).toBe('timeout');
    expect(registry.stats).toMatchObject({ pending: 0, waiting: 0 });
  });
});

describe('HoldRegistry: late holds', () => {
  it('a hold whose queries all timed out is late: it frees its place, is listed late, and a retry makes it pending again', async () => {
    const { service, registry } = await setup();
    const limits = { ...LIMITS, timeoutMs: 80, maxPending: 1, maxPendingPerAgent: 1 };
    expect(await registry.wait(held('first.example'), limits)).toMatchObject({ kind: 'timeout' });
    const firstId = await holdIdOf(service, 'first.example');
    expect(registry.stats).toMatchObject({ pending: 0, late: 1, waiting: 0 });
    expect(registry.list()).toEqual([expect.objectContaining({ hold_id: firstId, state: 'late', waiting: 0 })]);

    // Its place is free: the same agent gets a new hold.
    const second = registry.wait(held('second.example'), { ...limits, timeoutMs: 5000 });
    const secondId = await holdIdOf(service, 'second.example');
    expect(registry.list().map((h) => [h.hold_id, h.state])).toEqual([[firstId, 'late'], [secondId, 'pending']]);
    // A retry of the late one finds no room now: capacity, naming the hold; the hold stays late.
    expect(await registry.wait(held('first.example'), limits)).toEqual({ kind: 'capacity', full: 'holds', holdId: firstId });
    registry.decide(decided(secondId, 'deny'), SETTINGS);
    await second;
    // With room, the retry joins it again (no new POST) and a decision answers it.
    const retry = registry.wait(held('first.example'), { ...limits, timeoutMs: 5000 });
    expect(registry.stats).toMatchObject({ pending: 1, late: 0 });
    registry.decide(decided(firstId, 'allow'), SETTINGS);
    expect(await retry).toMatchObject({ kind: 'approved', holdId: firstId });
    expect(service.holds.filter((p) => (p.body as { qname: string }).qname === 'first.example')).toHaveLength(1);
  });

  it('late holds are bounded like pending ones: over a bound the oldest late hold of that entry, agent, or overall is dropped', async () => {
    const { service, registry } = await setup();
    const limits = { ...LIMITS, timeoutMs: 30, maxPending: 4, maxPendingPerAgent: 2 };
    const lateOne = async (q: HeldQuery) => {
      expect((await registry.wait(q, limits)).kind).toBe('timeout');
      return holdIdOf(service, q.qname);
    };
    // Per agent: the third late hold of ci-1 drops its first.
    const a1 = await lateOne(held('a1.example'));
    await lateOne(held('a2.example'));
    await lateOne(held('a3.example'));
    expect(registry.list().map((h) => h.qname)).toEqual(['a2.example', 'a3.example']);
    expect(registry.stats.ended.evicted).toBe(1);
    expect(registry.decide(decided(a1, 'allow'), SETTINGS)).toBe('unknown');
    // Per entry: two agents of one template share its bound.
    await lateOne(held('t.example', 'agent-1', QTYPE.A, 'agent-{ip}'));
    await lateOne(held('t.example', 'agent-2', QTYPE.A, 'agent-{ip}'));
    await lateOne(held('t.example', 'agent-3', QTYPE.A, 'agent-{ip}'));
    expect(registry.list().filter((h) => h.qname === 't.example').map((h) => h.agent)).toEqual(['agent-2', 'agent-3']);
    // Overall: 4. ci-1 has 2, the template 2; one more from elsewhere drops the oldest (a2).
    await lateOne(held('b.example', 'ci-2'));
    expect(registry.list().map((h) => `${h.agent} ${h.qname}`)).toEqual(['ci-1 a3.example', 'agent-2 t.example', 'agent-3 t.example', 'ci-2 b.example']);
    expect(registry.stats).toMatchObject({ pending: 0, late: 4, ended: { evicted: 3 } });
  });
});

describe('HoldRegistry: a decision that carries its question (v1.1, replicas)', () => {
  const question = (qname: string, agent = 'ci-1', qtype: number = QTYPE.A) => ({ question: { agent, qname, qtype } });

  it('another replica\'s decision answers our holds for that agent and name, whatever their id and type', async () => {
    const { service, grants, registry } = await setup();
    const aaaa = registry.wait(held('x.example', 'ci-1', QTYPE.AAAA), LIMITS);
    const a = registry.wait(held('x.example'), LIMITS);
    const otherAgent = registry.wait(held('x.example', 'ci-2'), { ...LIMITS, timeoutMs: 100 });
    const otherName = registry.wait(held('y.x.example'), { ...LIMITS, timeoutMs: 100 });
    await waitFor(() => service.holds.length === 3, { what: 'three POSTs' });
    const ours = registry.list().find((l) => l.agent === 'ci-1' && l.qname === 'x.example')!.hold_id;

    expect(registry.decide(decided('h_elsewhere00', 'allow', question('x.example')), SETTINGS)).toBe('approved');
    // Our hold is answered under its own id; the grant names the decided hold, as on the replica that held it.
    expect(await aaaa).toMatchObject({ kind: 'approved', holdId: ours, grant: { id: 'h_elsewhere00', command: 'held query x.example A' } });
    expect(await a).toMatchObject({ kind: 'approved', holdId: ours });
    expect((await otherAgent).kind).toBe('timeout');
    expect((await otherName).kind).toBe('timeout');
    expect(grants.find('ci-1', 'x.example', Date.now())?.id).toBe('h_elsewhere00');
    expect(grants.find('ci-2', 'x.example', Date.now())).toBeUndefined();
    expect(registry.list().map((l) => `${l.agent} ${l.qname}`).sort()).toEqual(['ci-1 y.x.example', 'ci-2 x.example']);
  });

  it('scope domain answers the agent\'s holds for every name under the registrable domain', async () => {
    const { service, registry } = await setup();
    const deep = registry.wait(held('a.b.example.co.uk'), LIMITS);
    const sibling = registry.wait(held('www.example.co.uk', 'ci-1', QTYPE.AAAA), LIMITS);
    await waitFor(() => service.holds.length === 2, { what: 'two POSTs' });
    registry.decide(decided('h_elsewhere01', 'deny', { scope: 'domain', ...question('cdn.example.co.uk') }), SETTINGS);
    expect(await deep).toMatchObject({ kind: 'denied' });
    expect(await sibling).toMatchObject({ kind: 'denied' });
  });

  it('a deny for a name never held here is remembered: the retry is denied at once, with no POST', async () => {
    const { service, registry } = await setup();
    expect(registry.decide(decided('h_elsewhere02', 'deny', question('bad.example')), SETTINGS)).toBe('denied');
    expect(await registry.wait(held('bad.example', 'ci-1', QTYPE.AAAA), LIMITS)).toEqual({ kind: 'denied', holdId: 'h_elsewhere02' });
    // Only that agent's.
    const other = registry.wait(held('bad.example', 'ci-2'), { ...LIMITS, timeoutMs: 50 });
    expect((await other).kind).toBe('timeout');
    expect(service.holds.map((p) => (p.body as { agent: string }).agent)).toEqual(['ci-2']);
  });

  it('an allow for a name never held here makes no grant (a replayed event cannot reopen a name)', async () => {
    const { grants, registry } = await setup();
    expect(registry.decide(decided('h_elsewhere03', 'allow', question('good.example')), SETTINGS)).toBe('unknown');
    expect(grants.find('ci-1', 'good.example', Date.now())).toBeUndefined();
  });

  it('without the question (a v1 service) a hold id that is not ours changes nothing', async () => {
    const { service, registry } = await setup();
    const pending = registry.wait(held('x.example'), { ...LIMITS, timeoutMs: 100 });
    await holdIdOf(service, 'x.example');
    expect(registry.decide(decided('h_elsewhere04', 'deny'), SETTINGS)).toBe('unknown');
    expect((await pending).kind).toBe('timeout');
    expect(registry.list()).toHaveLength(1);
  });

  it('with our own hold id, our hold\'s question wins over the event\'s', async () => {
    const { service, grants, registry } = await setup();
    const pending = registry.wait(held('x.example'), LIMITS);
    const id = await holdIdOf(service, 'x.example');
    registry.decide(decided(id, 'allow', question('x.example')), SETTINGS);
    expect(await pending).toMatchObject({ kind: 'approved', holdId: id, grant: { id } });
    expect(grants.find('ci-1', 'x.example', Date.now())?.id).toBe(id);
  });
});
