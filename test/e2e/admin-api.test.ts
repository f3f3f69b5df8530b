/**
 * The /v1 admin API of a running proxy: quarantine cuts an agent off at the
 * DNS side at once (grants included) and survives a reload; /v1/grants and
 * /v1/holds show what the approval link and the hold registry hold now.
 */
import { afterEach, describe, expect, it } from 'vitest';

import type { Zone } from '../helpers/authority.js';
import { startApprovalProxy, type ApprovalProxy } from '../helpers/approval-proxy.js';
import { waitFor } from '../helpers/wait-for.js';

const ZONE: Zone = {
  'github.com': [{ type: 'A', data: '140.82.121.3' }],
  'api.example.com': [{ type: 'A', data: '192.0.2.10' }],
  'held.example.org': [{ type: 'A', data: '192.0.2.20' }],
};

let ap: ApprovalProxy | null = null;
afterEach(async () => {
  await ap?.close();
  ap = null;
});

function api(a: ApprovalProxy, method: string, path: string): Promise<Response> {
  const address = a.proxy.server.httpAddress();
  if (!address) throw new Error('the proxy has no HTTP listener');
  return fetch(`http://127.0.0.1:${address.port}${path}`, { method });
}

describe('admin API on a running proxy', () => {
  it('quarantine sinkholes every query of that agent, granted names included, until it is lifted; other agents are untouched', async () => {
    ap = await startApprovalProxy({ zone: ZONE, http: true });
    ap.service.send('command.approved', {
      id: 'cmd_1', agent: 'ci-1', command: 'curl https://api.example.com/', approved_by: 'alice', approved_at: new Date().toISOString(),
    });
    await waitFor(async () => (await ap!.proxy.query('api.example.com')).packet.rcode === 'NOERROR', { what: 'grant applied' });

    const put = await api(ap, 'POST', '/v1/agents/ci-1/quarantine');
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual({ agent: 'ci-1', known: true, quarantined: true, set_by: ['admin'] });

    for (const name of ['github.com', 'api.example.com']) {
      const r = await ap.proxy.query(name);
      expect(r.packet.rcode).toBe('NXDOMAIN');
      expect(r.log).toMatchObject({ agent: 'ci-1', action: 'sinkhole', reason: 'quarantine' });
    }
    expect((await ap.proxy.query('github.com', 'A', { from: '127.0.0.2' })).log).toMatchObject({ agent: 'ci-2', reason: 'allowlist' });
    expect(ap.proxy.lines.some((l) => l.audit === 'quarantine' && l.agent === 'ci-1')).toBe(true);

    // A reload swaps the pipeline, not the quarantine.
    await ap.proxy.server.reload(ap.proxy.server.config);
    expect((await ap.proxy.query('github.com')).log).toMatchObject({ reason: 'quarantine' });

    const lift = await api(ap, 'DELETE', '/v1/agents/ci-1/quarantine');
    expect(await lift.json()).toEqual({ agent: 'ci-1', known: true, quarantined: false });
    expect((await ap.proxy.query('github.com')).log).toMatchObject({ action: 'forward', reason: 'allowlist' });
  });

  it('an approved command that grants nothing is in /v1/grants as no_grant, counted by reason in /metrics and logged at warn', async () => {
    ap = await startApprovalProxy({ zone: ZONE, http: true });
    // An internal name outside approval.internal_suffixes: the command names no host intentdns accepts.
    ap.service.send('command.approved', { id: 'cmd_none', agent: 'ci-1', command: 'psql -h db.nowhere.internal', approved_at: new Date().toISOString() });
    const line = await ap.proxy.waitForLine((l) => l.command_id === 'cmd_none', 'no-grant line');
    expect(line).toMatchObject({ level: 40, reason: 'no_host', msg: 'approved command names no host; no grant' });

    const grants = await (await api(ap, 'GET', '/v1/grants')).json() as { grants: unknown[]; no_grant: Array<Record<string, unknown>> };
    expect(grants.grants).toEqual([]);
    expect(grants.no_grant).toEqual([{ id: 'cmd_none', agent: 'ci-1', command: 'psql -h db.nowhere.internal', reason: 'no_host', at: expect.any(String) }]);

    const metrics = await (await api(ap, 'GET', '/metrics')).text();
    expect(metrics).toContain('intentdns_approvals_without_grant_total{reason="no_host"} 1\n');
    expect(metrics).toContain('intentdns_approvals_without_grant_total{reason="expired"} 0\n');
  });

  it('/v1/grants lists live grants with their command; /v1/holds lists the pending hold', async () => {
    ap = await startApprovalProxy({ zone: ZONE, http: true, approval: { hold_timeout: '300ms' } });
    ap.service.send('command.approved', {
      id: 'cmd_7', agent: 'ci-2', command: 'curl -sSL https://api.example.com/v2/items', approved_by: 'alice', approved_at: new Date().toISOString(),
    });
    const grants = await waitFor(async () => {
      const body = (await (await api(ap!, 'GET', '/v1/grants')).json()) as { grants: Array<Record<string, unknown>> };
      return body.grants.length > 0 ? body.grants : undefined;
    }, { what: 'a grant in /v1/grants' });
    expect(grants).toEqual([expect.objectContaining({ agent: 'ci-2', id: 'cmd_7', command: 'curl -sSL https://api.example.com/v2/items', approved_by: 'alice' })]);

    const held = await ap.proxy.query('held.example.org');
    expect(held.log).toMatchObject({ action: 'hold', reason: 'hold_timeout' });
    const holds = (await (await api(ap, 'GET', '/v1/holds')).json()) as { holds: Array<Record<string, unknown>> };
    expect(holds.holds).toEqual([expect.objectContaining({ agent: 'ci-1', qname: 'held.example.org', qtype: 'A', hold_id: held.log?.hold_id })]);
  });
});

describe('numbers from the approval link are clamped', () => {
  // Before: a hold.decided with ttl_seconds 9007199254740 threw after the grant was added (an
  // expiry no Date can print); the held query was never released and /v1/grants answered 500 for good.
  it('a huge ttl_seconds gives a grant of at most max_grant_ttl (24h); the held query is answered and /v1/grants works', async () => {
    ap = await startApprovalProxy({ zone: ZONE, http: true });
    const pending = ap.proxy.query('held.example.org', 'A', { timeoutMs: 3000 });
    const hold = await ap.holdFor('held.example.org');
    ap.service.send('hold.decided', { hold_id: hold.hold_id, decision: 'allow', scope: 'name', decided_by: 'bob', ttl_seconds: 9007199254740 });
    expect((await pending).log).toMatchObject({ reason: 'hold_approved' });

    const res = await api(ap, 'GET', '/v1/grants');
    expect(res.status).toBe(200);
    const body = await res.json() as { grants: Array<{ name: string; expires_at: string }> };
    const grant = body.grants.find((g) => g.name === 'held.example.org')!;
    expect(Date.parse(grant.expires_at)).toBeLessThanOrEqual(Date.now() + 24 * 3600_000);
    expect(Date.parse(grant.expires_at)).toBeGreaterThan(Date.now() + 23 * 3600_000);
  });

  it('a command.approved with more than 1000 domains grants the first 1000 and logs the rest as dropped', async () => {
    ap = await startApprovalProxy({ zone: ZONE, http: true });
    const domains = Array.from({ length: 1500 }, (_, i) => `n${i}.example.com`);
    ap.service.send('command.approved', {
      id: 'cmd_many', agent: 'ci-1', command: 'a build with many hosts', approved_by: 'alice', approved_at: new Date().toISOString(), domains,
    });
    const dropped = await ap.proxy.waitForLine((l) => l.command_id === 'cmd_many' && l.msg === 'approved command names too many hosts; the rest are dropped');
    expect(dropped).toMatchObject({ names: 1500, kept: 1000 });
    const body = await (await api(ap, 'GET', '/v1/grants')).json() as { grants: Array<{ id: string; name: string }> };
    const mine = body.grants.filter((g) => g.id === 'cmd_many').map((g) => g.name);
    expect(mine).toHaveLength(1000);
    expect(mine).toContain('n999.example.com');
    expect(mine).not.toContain('n1000.example.com');
  });
});
