/**
 * Grants end to end: approved commands arrive over the SSE link from the fake
 * approval service, and the proxy (real UDP/TCP sockets, real test authority)
 * resolves their names for that agent only, logs the approval, caps TTLs by
 * the grant's life, and stops when the command is revoked.
 */
import { afterEach, describe, expect, it } from 'vitest';

import type { Zone } from '../helpers/authority.js';
import { fromNow, startApprovalProxy, type ApprovalProxy } from '../helpers/approval-proxy.js';
import { edeOf } from '../helpers/packets.js';
import { addresses, records } from '../helpers/proxy.js';
import { waitFor } from '../helpers/wait-for.js';

const ZONE: Zone = {
  'api.example.com': [{ type: 'A', data: '192.0.2.10', ttl: 300 }],
  'uploads.example.org': [{ type: 'A', data: '192.0.2.11', ttl: 300 }],
  'registry.npmjs.org': [{ type: 'A', data: '104.16.1.34', ttl: 300 }],
  'short.example.com': [{ type: 'A', data: '192.0.2.12', ttl: 300 }],
  'old.example.com': [{ type: 'A', data: '192.0.2.13' }],
  'github.com': [{ type: 'A', data: '140.82.121.3' }],
};

/** Unlisted names are sinkholed here, so "not granted" is an immediate NXDOMAIN. */
const ROLE = '{ allow: [github.com], unlisted: sinkhole }';

let ap: ApprovalProxy | null = null;
afterEach(async () => {
  await ap?.close();
  ap = null;
});

const approved = (id: string, more: Record<string, unknown>) => ({
  id, agent: 'ci-1', approved_by: 'alice', approved_at: new Date().toISOString(), risk_score: 0.2, ...more,
});

/** Waits until the proxy logged that the approval was applied. */
const applied = (a: ApprovalProxy, id: string) =>
  a.proxy.waitForLine((l) => l.command_id === id && typeof l.msg === 'string' && /grant added|no grant/.test(l.msg), `approval ${id} applied`);

describe('grants from approved commands', () => {
  it('an approved command with domains: that agent resolves the name, logged with the approval; another agent does not', async () => {
    ap = await startApprovalProxy({ zone: ZONE, role: ROLE });
    const before = await ap.proxy.query('api.example.com');
    expect(before.packet.rcode).toBe('NXDOMAIN');

    const command = 'curl -sSL https://api.example.com/v2/items -o items.json';
    ap.service.send('command.approved', approved('cmd_812', { command, domains: ['api.example.com'] }));
    await applied(ap, 'cmd_812');

    const reply = await ap.proxy.query('api.example.com', 'A', { edns: true });
    expect(reply.packet.rcode).toBe('NOERROR');
    expect(addresses(reply.packet)).toEqual(['192.0.2.10']);
    expect(reply.log).toMatchObject({
      agent: 'ci-1', action: 'forward', reason: 'grant',
      grant: { id: 'cmd_812', command, approved_by: 'alice' },
    });
    // Over TCP too.
    const tcp = await ap.proxy.query('api.example.com', 'A', { transport: 'tcp' });
    expect(tcp.log).toMatchObject({ reason: 'grant', transport: 'tcp' });

    const other = await ap.proxy.query('api.example.com', 'A', { from: '127.0.0.2', edns: true });
    expect(other.packet.rcode).toBe('NXDOMAIN');
    expect(other.log).toMatchObject({ agent: 'ci-2', action: 'sinkhole', reason: 'unlisted' });
    expect(other.log?.grant).toBeUndefined();
  });

  it('without domains the names come from the command itself (URL hosts, package-manager presets)', async () => {
    ap = await startApprovalProxy({ zone: ZONE, role: ROLE });
    ap.service.send('command.approved', approved('cmd_20', { command: 'npm ci && curl -X PUT --data-binary @dist.tgz "https://uploads.example.org/v1/x"' }));
    await applied(ap, 'cmd_20');

    for (const name of ['uploads.example.org', 'registry.npmjs.org']) {
      const reply = await ap.proxy.query(name);
      expect(reply.packet.rcode).toBe('NOERROR');
      expect(reply.log).toMatchObject({ reason: 'grant', grant: { id: 'cmd_20', approved_by: 'alice' } });
    }
    expect((await ap.proxy.query('api.example.com')).packet.rcode).toBe('NXDOMAIN');
  });

  it('command.revoked: the next query is sinkholed', async () => {
    ap = await startApprovalProxy({ zone: ZONE, role: ROLE });
    ap.service.send('command.approved', approved('cmd_r', { command: 'curl https://api.example.com/' }));
    await applied(ap, 'cmd_r');
    expect((await ap.proxy.query('api.example.com')).log).toMatchObject({ reason: 'grant' });

    ap.service.send('command.revoked', { id: 'cmd_r' });
    await ap.proxy.waitForLine((l) => l.msg === 'command revoked' && l.command_id === 'cmd_r', 'revocation applied');
    const after = await ap.proxy.query('api.example.com', 'A', { edns: true });
    expect(after.packet.rcode).toBe('NXDOMAIN');
    expect(after.log).toMatchObject({ action: 'sinkhole', reason: 'unlisted' });
    expect(edeOf(after.packet)?.infoCode).toBe(15);
  });

  it('an approval whose expires_at has passed adds nothing', async () => {
    ap = await startApprovalProxy({ zone: ZONE, role: ROLE });
    ap.service.send('command.approved', approved('cmd_old', { command: 'curl https://old.example.com/', expires_at: fromNow(-1000) }));
    await applied(ap, 'cmd_old');
    expect(ap.proxy.server.grants.activeCount(Date.now())).toBe(0);
    expect((await ap.proxy.query('old.example.com')).log).toMatchObject({ action: 'sinkhole', reason: 'unlisted' });
  });

  it('answer TTLs are capped by the grant\'s remaining life, and the grant ends on time', async () => {
    ap = await startApprovalProxy({ zone: ZONE, role: ROLE });
    ap.service.send('command.approved', approved('cmd_short', { command: 'curl https://short.example.com/', expires_at: fromNow(1500) }));
    await applied(ap, 'cmd_short');
    const reply = await ap.proxy.query('short.example.com');
    expect(reply.log).toMatchObject({ reason: 'grant' });
    const ttl = records(reply.packet.answers)[0]?.ttl;
    expect(ttl).toBeLessThanOrEqual(1);
    // Past expires_at the name is closed again.
    await waitFor(() => ap!.proxy.server.grants.activeCount(Date.now()) === 0, { what: 'grant to end', timeoutMs: 4000, intervalMs: 50 });
    expect((await ap.proxy.query('short.example.com')).log).toMatchObject({ reason: 'unlisted' });
  });

  it('grants survive a config reload', async () => {
    ap = await startApprovalProxy({ zone: ZONE, role: ROLE });
    ap.service.send('command.approved', approved('cmd_keep', { command: 'curl https://api.example.com/' }));
    await applied(ap, 'cmd_keep');
    const link = ap.proxy.server.approvals.link;
    await ap.proxy.reload(ap.configYaml());
    // Same URL, token and grant_ttl: the link is kept, not restarted.
    expect(ap.proxy.server.approvals.link).toBe(link);
    expect((await ap.proxy.query('api.example.com')).log).toMatchObject({ reason: 'grant', grant: { id: 'cmd_keep' } });
  });

  it('a cold start asks for since = now - grant_ttl and applies approvals made while intentdns was down', async () => {
    const t0 = Date.now();
    ap = await startApprovalProxy({
      zone: ZONE, role: ROLE,
      before: (service) => void service.send('command.approved', approved('cmd_early', { command: 'curl https://api.example.com/' })),
    });
    const first = ap.service.eventsRequests[0]!;
    expect(first.lastEventId).toBeNull();
    expect(first.authorization).toBe('Bearer e2e-approval-token');
    const since = Date.parse(first.since ?? '');
    expect(since).toBeGreaterThanOrEqual(t0 - 10 * 60_000 - 50);
    expect(since).toBeLessThanOrEqual(Date.now() - 10 * 60_000 + 50);
    await applied(ap, 'cmd_early');
    expect((await ap.proxy.query('api.example.com')).log).toMatchObject({ reason: 'grant', grant: { id: 'cmd_early' } });
  });

  it('malformed and unknown events are skipped; later events still work', async () => {
    ap = await startApprovalProxy({ zone: ZONE, role: ROLE });
    ap.service.send('command.approved', '{ not json');
    ap.service.send('command.approved', { id: 'cmd_bad', agent: 'ci-1' });                   // no command, no approved_at
    ap.service.send('command.approved', approved('cmd_bad2', { command: 'x', approved_at: 'yesterday' }));
    ap.service.send('hold.decided', { hold_id: 'h_1', decision: 'maybe' });
    ap.service.send('agent.renamed', { from: 'ci-1', to: 'ci-9' });
    ap.service.send('command.approved', approved('cmd_ok', { command: 'curl https://api.example.com/' }));
    await applied(ap, 'cmd_ok');
    expect(ap.proxy.lines.filter((l) => l.msg === 'skipping malformed approval event')).toHaveLength(4);
    expect(ap.proxy.server.approvals.link?.stats).toMatchObject({ malformed: 4, unknown: 1 });
    expect((await ap.proxy.query('api.example.com')).log).toMatchObject({ reason: 'grant', grant: { id: 'cmd_ok' } });
    expect(ap.linkState()).toBe('up');
  });
});

describe('audit mode: would-block answers keep their TTL caps', () => {
  const AUDIT_ZONE: Zone = {
    'rebind.example.com': [{ type: 'A', data: '10.1.2.3', ttl: 3600 }],
    'alias.example.com': [{ type: 'CNAME', data: 'cdn.evil.example', ttl: 3600 }],
    'cdn.evil.example': [{ type: 'A', data: '203.0.113.9', ttl: 3600 }],
    'listed-rebind.example.net': [{ type: 'A', data: '10.4.5.6', ttl: 3600 }],
  };

  // Before: in audit mode the answer check returned before capping, so these reached the agent with TTL 3600.
  it('a rebinding answer and a denied-CNAME answer: TTL ≤ answers.max_ttl and ≤ the grant\'s remaining life', async () => {
    ap = await startApprovalProxy({
      zone: AUDIT_ZONE, mode: 'audit', answers: '{ max_ttl: 60s, block_private: true }',
      role: '{ allow: [listed-rebind.example.net], deny: ["*.evil.example"], unlisted: sinkhole }',
    });
    const listed = await ap.proxy.query('listed-rebind.example.net');
    expect(listed.log).toMatchObject({ reason: 'rebinding', would_block: true });
    expect(addresses(listed.packet)).toEqual(['10.4.5.6']);
    expect(records(listed.packet.answers)[0]?.ttl).toBe(60);

    const expiresAt = new Date(Date.now() + 20_000).toISOString();
    ap.service.send('command.approved', approved('cmd_audit', {
      command: 'curl https://rebind.example.com/ https://alias.example.com/', expires_at: expiresAt,
      domains: ['rebind.example.com', 'alias.example.com'],
    }));
    await applied(ap, 'cmd_audit');
    for (const [name, reason] of [['rebind.example.com', 'rebinding'], ['alias.example.com', 'denylist_cname']] as const) {
      const r = await ap.proxy.query(name);
      expect(r.log).toMatchObject({ reason, would_block: true, grant: { id: 'cmd_audit' } });
      expect(r.packet.answers.length).toBeGreaterThan(0);
      for (const rr of records(r.packet.answers)) expect(rr.ttl).toBeLessThanOrEqual(20);
    }
  });
});
