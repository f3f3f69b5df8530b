/**
 * Holds end to end, over real UDP/TCP sockets and a real SSE link: the proxy
 * holds an unlisted name, POSTs the hold to the fake approval service once,
 * and answers when a reviewer's `hold.decided` arrives — or when it does not.
 */
import { afterEach, describe, expect, it } from 'vitest';

import type { Zone } from '../helpers/authority.js';
import { startApprovalProxy, type ApprovalProxy } from '../helpers/approval-proxy.js';
import { framed, TcpConnection } from '../helpers/client.js';
import { decodePacket, queryBytes } from '../helpers/packets.js';
import { addresses, records } from '../helpers/proxy.js';
import { waitFor } from '../helpers/wait-for.js';

const ZONE: Zone = {
  'held.example.com': [{ type: 'A', data: '198.51.100.7', ttl: 300 }],
  'uploads.untrusted.example': [{ type: 'A', data: '198.51.100.8', ttl: 300 }],
  'slow.example.com': [{ type: 'A', data: '198.51.100.9', ttl: 300 }],
  'www.example.co.uk': [{ type: 'A', data: '198.51.100.10', ttl: 300 }],
  'a.b.example.co.uk': [{ type: 'A', data: '198.51.100.11', ttl: 300 }],
  'down.example.com': [{ type: 'A', data: '198.51.100.12', ttl: 300 }],
  'after.example.com': [{ type: 'A', data: '198.51.100.13', ttl: 300 }],
  'github.com': [{ type: 'A', data: '140.82.121.3', ttl: 300 }],
  'rejected-400.example.com': [{ type: 'A', data: '198.51.100.14', ttl: 300 }],
  'rejected-500.example.com': [{ type: 'A', data: '198.51.100.15', ttl: 300 }],
};

let ap: ApprovalProxy | null = null;
afterEach(async () => {
  await ap?.close();
  ap = null;
});

const decision = (holdId: string, d: 'allow' | 'deny', more: Record<string, unknown> = {}) =>
  ({ hold_id: holdId, decision: d, scope: 'name', decided_by: 'bob', ...more });

describe('hold: a reviewer decides', () => {
  it('allow: the held query is answered, logged with its hold and the grant; the retry is forwarded by the grant', async () => {
    ap = await startApprovalProxy({ zone: ZONE });
    const pending = ap.proxy.query('uploads.untrusted.example', 'A', { edns: true });
    const hold = await ap.holdFor('uploads.untrusted.example');
    expect(hold).toMatchObject({ agent: 'ci-1', role: 'coding', client: '127.0.0.1', qname: 'uploads.untrusted.example', qtype: 'A', recent_commands: [] });
    expect(hold.hold_id).toMatch(/^h_[0-9a-f]{12}$/);
    expect(ap.service.holds[0]?.authorization).toBe('Bearer e2e-approval-token');

    ap.service.send('hold.decided', decision(hold.hold_id, 'allow', { ttl_seconds: 30 }));
    const reply = await pending;
    expect(reply.packet.rcode).toBe('NOERROR');
    expect(addresses(reply.packet)).toEqual(['198.51.100.8']);
    // Capped by the 30 s grant, not the 300 s record or the 60 s max_ttl.
    expect(records(reply.packet.answers)[0]?.ttl).toBeLessThanOrEqual(30);
    expect(reply.log).toMatchObject({
      agent: 'ci-1', action: 'hold', reason: 'hold_approved', hold_id: hold.hold_id,
      grant: { id: hold.hold_id, approved_by: 'bob' }, answers: ['198.51.100.8'],
    });

    const retry = await ap.proxy.query('uploads.untrusted.example');
    expect(retry.log).toMatchObject({ action: 'forward', reason: 'grant', grant: { id: hold.hold_id } });
    expect(ap.holds()).toHaveLength(1);
  });

  it('allow with scope domain opens the registrable domain for that agent only', async () => {
    ap = await startApprovalProxy({ zone: ZONE });
    const pending = ap.proxy.query('a.b.example.co.uk');
    const hold = await ap.holdFor('a.b.example.co.uk');
    ap.service.send('hold.decided', decision(hold.hold_id, 'allow', { scope: 'domain' }));
    expect((await pending).log).toMatchObject({ reason: 'hold_approved' });
    expect((await ap.proxy.query('www.example.co.uk')).log).toMatchObject({ reason: 'grant', grant: { id: hold.hold_id } });
    // ci-2 is held for the same name: the grant was ci-1's.
    const other = ap.proxy.query('www.example.co.uk', 'A', { from: '127.0.0.2' });
    const otherHold = await ap.holdFor('www.example.co.uk');
    expect(otherHold).toMatchObject({ agent: 'ci-2', client: '127.0.0.2' });
    ap.service.send('hold.decided', decision(otherHold.hold_id, 'deny'));
    expect((await other).log).toMatchObject({ agent: 'ci-2', reason: 'hold_denied' });
  });

  it('deny: sinkholed with an EDE naming the hold; the retry is denied at once, without a new hold', async () => {
    ap = await startApprovalProxy({ zone: ZONE });
    const pending = ap.proxy.query('held.example.com', 'A', { edns: true });
    const hold = await ap.holdFor('held.example.com');
    ap.service.send('hold.decided', decision(hold.hold_id, 'deny'));
    const reply = await pending;
    expect(reply.packet.rcode).toBe('NXDOMAIN');
    expect(reply.ede).toEqual({ infoCode: 15, text: 'intentdns: hold_denied (role coding)' });
    expect(reply.log).toMatchObject({ action: 'hold', reason: 'hold_denied', hold_id: hold.hold_id, rcode: 'NXDOMAIN' });

    const started = performance.now();
    const retry = await ap.proxy.query('held.example.com', 'A', { edns: true });
    expect(performance.now() - started).toBeLessThan(200);
    expect(retry.log).toMatchObject({ reason: 'hold_denied', hold_id: hold.hold_id });
    expect(retry.ede?.text).not.toContain(hold.hold_id);
    expect(ap.holds()).toHaveLength(1);
    expect(ap.proxy.authority.queries.filter((q) => q.name === 'held.example.com')).toHaveLength(0);
  });
});

describe('hold: an approved command arrives while the query is held', () => {
  it('the held query is answered at once with the command\'s grant', async () => {
    ap = await startApprovalProxy({ zone: ZONE, approval: { hold_timeout: '2s' } });
    const started = performance.now();
    const pending = ap.proxy.query('held.example.com');
    const hold = await ap.holdFor('held.example.com');
    ap.service.send('command.approved', {
      id: 'cmd_race', agent: 'ci-1', command: 'curl https://held.example.com/x', approved_by: 'alice', approved_at: new Date().toISOString(),
    });
    const reply = await pending;
    expect(performance.now() - started).toBeLessThan(1000);
    expect(reply.log).toMatchObject({ action: 'hold', reason: 'hold_approved', hold_id: hold.hold_id, grant: { id: 'cmd_race', approved_by: 'alice' } });
    expect(addresses(reply.packet)).toEqual(['198.51.100.7']);
  });
});

describe('hold: no decision in time', () => {
  it('timeout: hold_timeout sinkhole after hold_timeout; a late allow creates the grant and the retry succeeds', async () => {
    ap = await startApprovalProxy({ zone: ZONE });
    const started = performance.now();
    const reply = await ap.proxy.query('slow.example.com', 'A', { edns: true });
    const waited = performance.now() - started;
    const hold = ap.holds()[0]!;
    expect(waited).toBeGreaterThanOrEqual(380);
    expect(waited).toBeLessThan(1000);
    expect(reply.packet.rcode).toBe('NXDOMAIN');
    expect(reply.log).toMatchObject({ action: 'hold', reason: 'hold_timeout', hold_id: hold.hold_id });
    expect(reply.ede?.text).toBe('intentdns: hold_timeout (role coding)');
    // The SOA carries the sinkhole TTL (5 s), so the agent retries soon.
    expect(records(reply.packet.authorities)[0]?.ttl).toBe(5);

    ap.service.send('hold.decided', decision(hold.hold_id, 'allow'));
    await ap.proxy.waitForLine((l) => l.msg === 'hold approved' && l.hold_id === hold.hold_id, 'late approval applied');
    const retry = await ap.proxy.query('slow.example.com');
    expect(retry.packet.rcode).toBe('NOERROR');
    expect(retry.log).toMatchObject({ action: 'forward', reason: 'grant', grant: { id: hold.hold_id, approved_by: 'bob' } });
    expect(ap.holds()).toHaveLength(1);
  });

  it('on_hold_timeout servfail: SERVFAIL, and the stub\'s retry rejoins the same hold', async () => {
    ap = await startApprovalProxy({ zone: ZONE, approval: { on_hold_timeout: 'servfail' } });
    const first = await ap.proxy.query('slow.example.com');
    expect(first.packet.rcode).toBe('SERVFAIL');
    expect(first.log).toMatchObject({ action: 'hold', reason: 'hold_timeout', rcode: 'SERVFAIL' });
    const holdId = ap.holds()[0]!.hold_id;

    const retry = ap.proxy.query('slow.example.com');
    await waitFor(() => ap!.proxy.server.holds.list()[0]?.waiting === 1, { what: 'retry waiting' });
    ap.service.send('hold.decided', decision(holdId, 'allow'));
    expect((await retry).log).toMatchObject({ reason: 'hold_approved', hold_id: holdId });
    expect(ap.holds()).toHaveLength(1);
  });
});

describe('hold: concurrency', () => {
  it('concurrent queries over UDP and TCP join one hold: one POST, every query answered', async () => {
    ap = await startApprovalProxy({ zone: ZONE, approval: { hold_timeout: '2s' } });
    const queries = [
      ap.proxy.query('held.example.com', 'A', { id: 1 }),
      ap.proxy.query('held.example.com', 'A', { id: 2, transport: 'tcp' }),
      ap.proxy.query('held.example.com', 'A', { id: 3 }),
    ];
    const hold = await ap.holdFor('held.example.com');
    await waitFor(() => ap!.proxy.server.holds.list()[0]?.waiting === 3, { what: 'three waiters' });
    ap.service.send('hold.decided', decision(hold.hold_id, 'allow'));
    const replies = await Promise.all(queries);
    for (const r of replies) expect(addresses(r.packet)).toEqual(['198.51.100.7']);
    expect(replies.map((r) => r.packet.id).sort()).toEqual([1, 2, 3]);
    const lines = ap.proxy.decisions().filter((l) => l.qname === 'held.example.com');
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l).toMatchObject({ reason: 'hold_approved', hold_id: hold.hold_id });
    expect(new Set(lines.map((l) => l.transport))).toEqual(new Set(['udp', 'tcp']));
    expect(ap.holds()).toHaveLength(1);
  });

  it('a held query does not delay other queries: another client\'s, or the next one on the same TCP connection', async () => {
    ap = await startApprovalProxy({ zone: ZONE, approval: { hold_timeout: '1500ms' } });
    const held = ap.proxy.query('held.example.com', 'A', { timeoutMs: 3000 });
    const hold = await ap.holdFor('held.example.com');

    const started = performance.now();
    const other = await ap.proxy.query('github.com', 'A', { from: '127.0.0.2' });
    expect(performance.now() - started).toBeLessThan(300);
    expect(other.log).toMatchObject({ agent: 'ci-2', reason: 'allowlist' });

    // Pipelined on one connection: the held query first, the allowed one after it.
    const conn = await TcpConnection.open(ap.proxy.target(), '127.0.0.1');
    try {
      const t0 = performance.now();
      await conn.write(Buffer.concat([
        framed(queryBytes({ name: 'uploads.untrusted.example', id: 41 })),
        framed(queryBytes({ name: 'github.com', id: 42 })),
      ]));
      const [firstReply] = await conn.waitReplies(1, 1000);
      expect(decodePacket(firstReply!).id).toBe(42);
      expect(performance.now() - t0).toBeLessThan(300);
    } finally {
      await conn.close();
    }
    ap.service.send('hold.decided', decision(hold.hold_id, 'deny'));
    expect((await held).log).toMatchObject({ reason: 'hold_denied' });
  });
});

describe('hold: limits', () => {
  it('max_pending_holds and the per-agent share: hold_capacity, while other agents still get holds', async () => {
    // 2 holds overall; one agent may take max(1, ceil(2/10)) = 1 of them.
    ap = await startApprovalProxy({ zone: ZONE, approval: { max_pending_holds: '2', hold_timeout: '1s' } });
    const first = ap.proxy.query('held.example.com');
    const firstHold = await ap.holdFor('held.example.com');

    const mine = await ap.proxy.query('slow.example.com', 'A', { edns: true });
    expect(mine.log).toMatchObject({ agent: 'ci-1', action: 'hold', reason: 'hold_capacity' });
    expect(mine.packet.rcode).toBe('NXDOMAIN');
    expect(mine.ede?.text).toBe('intentdns: hold_capacity (role coding)');

    const second = ap.proxy.query('slow.example.com', 'A', { from: '127.0.0.2' });
    const secondHold = await ap.holdFor('slow.example.com');
    const third = await ap.proxy.query('down.example.com', 'A', { from: '127.0.0.3' });
    expect(third.log).toMatchObject({ agent: 'ci-3', reason: 'hold_capacity' });
    expect(ap.holds()).toHaveLength(2);

    // A decided hold frees its place.
    ap.service.send('hold.decided', decision(firstHold.hold_id, 'deny'));
    ap.service.send('hold.decided', decision(secondHold.hold_id, 'deny'));
    await Promise.all([first, second]);
    const later = ap.proxy.query('down.example.com', 'A', { from: '127.0.0.3' });
    const laterHold = await ap.holdFor('down.example.com');
    ap.service.send('hold.decided', decision(laterHold.hold_id, 'allow'));
    expect((await later).log).toMatchObject({ agent: 'ci-3', reason: 'hold_approved' });
  });
});

describe('hold: the approval link', () => {
  it('link down: on_link_down sinkhole at once; then reconnect, resume from Last-Event-ID, and hold again', async () => {
    ap = await startApprovalProxy({ zone: ZONE });
    const { service } = ap;
    service.send('command.approved', { id: 'cmd_1', agent: 'ci-1', command: 'curl https://after.example.com/', approved_at: new Date().toISOString(), domains: ['github.com'] });
    await ap.proxy.waitForLine((l) => l.msg === 'grant added' && l.command_id === 'cmd_1');

    service.setStatus(503);
    service.dropConnections();
    await waitFor(() => ap!.linkState() !== 'up', { what: 'link down' });
    const started = performance.now();
    const down = await ap.proxy.query('down.example.com', 'A', { edns: true });
    expect(performance.now() - started).toBeLessThan(200);
    expect(down.log).toMatchObject({ action: 'hold', reason: 'link_down' });
    expect(down.log?.hold_id).toBeUndefined();
    expect(down.ede?.text).toBe('intentdns: link_down (role coding)');
    expect(ap.holds()).toHaveLength(0);
    // Grants stay valid while the link is down.
    expect((await ap.proxy.query('github.com')).log).toMatchObject({ reason: 'grant' });

    // While we are away the service approves another command; we get it on resume.
    service.send('command.approved', { id: 'cmd_2', agent: 'ci-1', command: 'curl https://after.example.com/', approved_at: new Date().toISOString() });
    const failedSoFar = service.eventsRequests.length;
    await waitFor(() => service.eventsRequests.length > failedSoFar, { what: 'a refused reconnect', timeoutMs: 3000 });
    service.setStatus(null);
    await waitFor(() => ap!.linkState() === 'up', { what: 'link up again', timeoutMs: 5000, intervalMs: 20 });
    const resumed = service.eventsRequests.at(-1)!;
    expect(resumed).toMatchObject({ status: 200, lastEventId: 'e1', since: null });
    await ap.proxy.waitForLine((l) => l.msg === 'grant added' && l.command_id === 'cmd_2');
    expect((await ap.proxy.query('after.example.com')).log).toMatchObject({ reason: 'grant', grant: { id: 'cmd_2' } });

    // Holding works again.
    const pending = ap.proxy.query('down.example.com');
    const hold = await ap.holdFor('down.example.com');
    service.send('hold.decided', decision(hold.hold_id, 'allow'));
    expect((await pending).log).toMatchObject({ reason: 'hold_approved' });
  });

  it('on_link_down forward: forwarded while the link is down, logged as action hold, reason link_down', async () => {
    ap = await startApprovalProxy({ zone: ZONE, approval: { on_link_down: 'forward' } });
    ap.service.setStatus(503);
    ap.service.dropConnections();
    await waitFor(() => ap!.linkState() !== 'up', { what: 'link down' });
    const reply = await ap.proxy.query('down.example.com');
    expect(addresses(reply.packet)).toEqual(['198.51.100.12']);
    expect(reply.log).toMatchObject({ action: 'hold', reason: 'link_down', upstream: ap.proxy.authority.hostPort.text });
  });

  it('a hold POST the service rejects is hold_error: sinkholed, never forwarded unreviewed, even with on_link_down forward', async () => {
    // The attack: the example service answers 400 for the root name, so `dig . NS` from a hold role
    // went upstream with no reviewer while the link was up. A failed POST is not "link down".
    ap = await startApprovalProxy({ zone: ZONE, approval: { on_link_down: 'forward' } });
    for (const status of [400, 500]) {
      ap.service.setHoldStatus(status);
      const name = `rejected-${status}.example.com`;
      const reply = await ap.proxy.query(name, 'A', { edns: true });
      const holdId = ap.holds().at(-1)!.hold_id;
      expect(reply.packet.rcode).toBe('NXDOMAIN');
      expect(ap.proxy.authority.queries.filter((q) => q.name === name)).toEqual([]);
      expect(reply.log).toMatchObject({ action: 'hold', reason: 'hold_error', hold_id: holdId, rule: `approval service answered ${status}` });
      expect(reply.ede?.text).toBe('intentdns: hold_error (role coding)');
      await ap.proxy.waitForLine((l) => l.msg === 'posting hold failed; its queries are answered hold_error' && l.hold_id === holdId && l.status === status);
    }
    // The retry opens a new hold (the service may have lost the first).
    ap.service.setHoldStatus(202);
    const retry = ap.proxy.query('rejected-500.example.com');
    const again = await ap.holdFor('rejected-500.example.com', 1);
    ap.service.send('hold.decided', decision(again.hold_id, 'allow'));
    expect((await retry).log).toMatchObject({ reason: 'hold_approved', hold_id: again.hold_id });
  });
});

describe('hold: a hostile approval service', () => {
  it('an endless answer to a hold POST is hold_error before hold_timeout, and only a bounded part of it is read', async () => {
    // The attack: a service that streams an endless body took RSS from 152 MB to 1.6 GB with 15
    // concurrent holds, since the whole answer was read into memory until hold_timeout.
    ap = await startApprovalProxy({ zone: ZONE, approval: { hold_timeout: '1500ms', on_link_down: 'forward' } });
    ap.service.setHoldBody('endless');
    const started = performance.now();
    const reply = await ap.proxy.query('held.example.com', 'A', { timeoutMs: 3000 });
    const waited = performance.now() - started;
    const holdId = ap.holds().at(-1)!.hold_id;
    expect(reply.log).toMatchObject({ action: 'hold', reason: 'hold_error', hold_id: holdId, rule: 'approval service answered 202 with a body too long to read' });
    expect(reply.packet.rcode).toBe('NXDOMAIN');
    expect(waited).toBeLessThan(1500);
    // We closed the connection: the service stops writing. What it wrote is what we could have read.
    await waitFor(() => ap!.service.holdsInFlight === 0, { what: 'the endless answer to end', timeoutMs: 2000 });
    expect(ap.service.holdBodyBytes).toBeLessThan(1 << 20);
  });

  it('a slow service gets at most 16 hold POSTs at once; the others wait their turn and are all posted', async () => {
    // The other half of the attack: every concurrent hold had a POST (and its answer) in flight.
    ap = await startApprovalProxy({ zone: ZONE, approval: { hold_timeout: '4s', max_pending_holds: '400' } });
    const { service } = ap;
    service.setHoldDelay(150);
    service.onHold = (hold) => service.send('hold.decided', decision((hold.body as { hold_id: string }).hold_id, 'deny'));
    const names = Array.from({ length: 40 }, (_, i) => `n${i}.burst.example`);
    const replies = await Promise.all(names.map((name) => ap!.proxy.query(name, 'A', { timeoutMs: 5000 })));
    expect(replies.map((r) => r.log?.reason)).toEqual(names.map(() => 'hold_denied'));
    expect(new Set(ap.holds().map((h) => h.qname))).toEqual(new Set(names));
    expect(service.maxHoldsInFlight).toBe(16);
  });
});
