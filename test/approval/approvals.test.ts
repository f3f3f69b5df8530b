/**
 * The approval glue over a real SSE stream from the fake approval service:
 * link events become grants, revocations and hold decisions.
 */

import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';

import {
  Approvals,
  approvedUntil,
} from '../../src/approval/approvals.js';
import type { CommandApprovedEvent } from '../../src/approval/events.js';
import type { ApprovalConfig } from '../../src/config/types.js';
import { GrantStore } from '../../src/grants/grants.js';
import { HoldRegistry } from '../../src/hold/registry.js';
import { QTYPE } from '../../src/wire/qtypes.js';
import { FakeApprovalService } from '../helpers/approval-service.js';
import { waitFor } from '../helpers/wait-for.js';

const TOKEN = 'glue-token';
const MIN = 60_000;

function approvalConfig(url: string, more: Partial<ApprovalConfig> = {}): ApprovalConfig {
  return {
    url, tokenFile: null, grantTtlMs: 10 * MIN, maxGrantTtlMs: 24 * 60 * MIN, holdTimeoutMs: 300, onHoldTimeout: 'sinkhole',
    onLinkDown: 'sinkhole', maxPendingHolds: 100, maxPendingHoldsPerAgent: 10, internalSuffixes: ['corp.internal'], ...more,
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

let service: FakeApprovalService | null = null;
let approvals: Approvals | null = null;
/** What the server would own and hand the approval glue. */
let side: { grants: GrantStore; holds: HoldRegistry };
const lines: Array<Record<string, unknown>> = [];

async function setup(more: Partial<ApprovalConfig> = {}): Promise<{ service: FakeApprovalService; approvals: Approvals }> {
  service = await FakeApprovalService.start({ token: TOKEN });
  lines.length = 0;
  const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  const grants = new GrantStore();
  const holds = new HoldRegistry({
    grants, log, post: (request, timeoutMs) => approvals!.postHold(request, timeoutMs), linkUp: () => approvals?.linkState === 'up',
  });
  side = { grants, holds };
  approvals = new Approvals({ log, grants, holds, link: { backoff: { initialMs: 20, maxMs: 100 }, heartbeatTimeoutMs: 2000 } });
  approvals.configure(approvalConfig(service.url, more), TOKEN);
  approvals.start();
  await waitFor(() => approvals!.linkState === 'up', { what: 'link up' });
  return { service, approvals };
}

afterEach(async () => {
  await approvals?.stop();
  await service?.close();
  approvals = null;
  service = null;
});

describe('Approvals: command events', () => {
  it('an approval that grants nothing is counted by reason, logged at warn with its id and why, and listed', async () => {
    const { service, approvals } = await setup();
    const now = Date.now();
    // db.other.internal: an internal name outside approval.internal_suffixes (corp.internal), so not a host intentdns accepts.
    service.send('command.approved', { id: 'cmd_int', agent: 'ci-1', command: 'psql -h db.other.internal', approved_at: iso(now) });
    service.send('command.approved', { id: 'cmd_ls', agent: 'ci-1', command: 'ls -la', approved_at: iso(now) });
    service.send('command.approved', { id: 'cmd_bad', agent: 'ci-1', command: 'x', domains: ['not a host!'], approved_at: iso(now) });
    service.send('command.approved', { id: 'cmd_old', agent: 'ci-2', command: 'curl https://old.example.com', approved_at: iso(now - 20 * MIN) });
    service.send('command.approved', { id: 'cmd_ok', agent: 'ci-1', command: 'curl https://ok.example.com', approved_at: iso(now) });
    await waitFor(() => side.grants.find('ci-1', 'ok.example.com', Date.now()), { what: 'the one grant' });

    expect(approvals.noGrants.counts).toEqual({ expired: 1, no_host: 2, not_host_names: 1 });
    const warned = lines.filter((l) => l.level === 40 && typeof l.msg === 'string' && l.msg.endsWith('; no grant'));
    expect(warned.map((l) => [l.command_id, l.reason])).toEqual([
      ['cmd_int', 'no_host'], ['cmd_ls', 'no_host'], ['cmd_bad', 'not_host_names'], ['cmd_old', 'expired'],
    ]);
    const listed = approvals.noGrants.list();
    expect(listed.map((e) => e.id)).toEqual(['cmd_old', 'cmd_bad', 'cmd_ls', 'cmd_int']);
    expect(listed[3]).toMatchObject({ agent: 'ci-1', command: 'psql -h db.other.internal', reason: 'no_host' });
    expect(Date.parse(listed[3]!.at)).toBeGreaterThanOrEqual(now);
  });

  it('command.approved with domains grants those names to that agent until expires_at', async () => {
    const { service, approvals } = await setup();
    const now = Date.now();
    service.send('command.approved', {
      id: 'cmd_812', agent: 'ci-runner-1', command: 'curl -sSL https://api.example.com/v2/items -o items.json',
      approved_by: 'alice', approved_at: iso(now), expires_at: iso(now + 5 * MIN), domains: ['api.example.com', '*.cdn.example.net'],
    });
    const grant = await waitFor(() => side.grants.find('ci-runner-1', 'api.example.com', Date.now()), { what: 'grant' });
    expect(grant).toEqual({ id: 'cmd_812', command: 'curl -sSL https://api.example.com/v2/items -o items.json', approvedBy: 'alice', expiresAt: Date.parse(iso(now + 5 * MIN)) });
    expect(side.grants.find('ci-runner-1', 'img.cdn.example.net', Date.now())?.id).toBe('cmd_812');
    expect(side.grants.find('ci-runner-2', 'api.example.com', Date.now())).toBeUndefined();
    expect(lines.find((l) => l.msg === 'grant added')).toMatchObject({ command_id: 'cmd_812', from: 'domains', names: ['api.example.com', '*.cdn.example.net'] });
  });

  it('without domains the names come from the command, presets and internal suffixes included', async () => {
    const { service, approvals } = await setup();
    service.send('command.approved', {
      id: 'cmd_9', agent: 'ci-1', approved_at: iso(Date.now()),
      command: 'npm install left-pad && curl https://uploads.example.org/x && psql -h db.corp.internal',
    });
    await waitFor(() => side.grants.activeCount(Date.now()) > 0, { what: 'grants' });
    const names = side.grants.list(Date.now()).map((g) => g.name).sort();
    expect(names).toEqual(['db.corp.internal', 'registry.npmjs.org', 'registry.yarnpkg.com', 'uploads.example.org']);
  });

  it('a long command grants the hosts after its 512th character too; the grant keeps it cut to 512', async () => {
    const { service } = await setup();
    const command = `echo ${'x'.repeat(600)} && curl https://late.example.com/upload`;
    service.send('command.approved', { id: 'cmd_long', agent: 'ci-1', approved_at: iso(Date.now()), command });
    const grant = await waitFor(() => side.grants.find('ci-1', 'late.example.com', Date.now()), { what: 'grant for the host after 512 characters' });
    expect(grant.command).toBe(`${command.slice(0, 512)}…`);
  });

  it('an approval already expired adds nothing; revoke ends the grants of that command', async () => {
    const { service, approvals } = await setup();
    const now = Date.now();
    service.send('command.approved', { id: 'cmd_old', agent: 'ci-1', command: 'curl https://old.example.com', approved_at: iso(now - 20 * MIN) });
    service.send('command.approved', { id: 'cmd_past', agent: 'ci-1', command: 'curl https://past.example.com', approved_at: iso(now), expires_at: iso(now - 1000) });
    service.send('command.approved', { id: 'cmd_new', agent: 'ci-1', command: 'curl https://new.example.com https://two.example.com', approved_at: iso(now) });
    await waitFor(() => side.grants.find('ci-1', 'new.example.com', Date.now()), { what: 'new grant' });
    expect(side.grants.activeCount(Date.now())).toBe(2);
    expect(lines.filter((l) => l.msg === 'approved command has already expired; no grant')).toHaveLength(2);

    service.send('command.revoked', { id: 'cmd_new' });
    await waitFor(() => side.grants.activeCount(Date.now()) === 0, { what: 'revoked' });
    expect(lines.find((l) => l.msg === 'command revoked')).toMatchObject({ command_id: 'cmd_new', grants: 2 });
  });

  it('approvedUntil: the earliest of expires_at, approved_at + grant_ttl and now + grant_ttl', () => {
    const now = Date.UTC(2026, 10, 24, 10, 0);
    const e = (approvedAt: number, expiresAt?: number): CommandApprovedEvent =>
      ({ type: 'command.approved', id: 'c', agent: 'a', command: 'x', approvedAt, ...(expiresAt !== undefined && { expiresAt }) });
    expect(approvedUntil(e(now - MIN, now + 2 * MIN), 10 * MIN, now)).toBe(now + 2 * MIN);
    expect(approvedUntil(e(now - MIN), 10 * MIN, now)).toBe(now + 9 * MIN);
    // A service clock ahead of ours cannot stretch a grant.
    expect(approvedUntil(e(now + 5 * MIN), 10 * MIN, now)).toBe(now + 10 * MIN);
  });
});

describe('Approvals: holds over the link', () => {
  it('a hold is posted with the token and decided by a hold.decided event', async () => {
    const { service, approvals } = await setup();
    service.onHold = (hold) => {
      const id = (hold.body as { hold_id: string }).hold_id;
      service.send('hold.decided', { hold_id: id, decision: 'allow', scope: 'domain', decided_by: 'bob', ttl_seconds: 120 });
    };
    const outcome = await side.holds.wait(
      { agent: 'ci-1', entry: 'ci-1', role: 'coding', client: '10.0.0.1', qname: 'a.b.example.co.uk', qtype: QTYPE.A },
      { timeoutMs: 2000, maxPending: 10, maxPendingPerAgent: 1, keepOpenMs: 60_000 },
    );
    expect(outcome).toMatchObject({ kind: 'approved', grant: { approvedBy: 'bob' } });
    expect(service.holds[0]?.authorization).toBe(`Bearer ${TOKEN}`);
    expect(side.grants.list(Date.now())).toMatchObject([{ agent: 'ci-1', scope: 'domain', name: 'example.co.uk', source: 'hold', approved_by: 'bob' }]);
  });

  it('a decision for an unknown hold is logged and ignored', async () => {
    const { service } = await setup();
    service.send('hold.decided', { hold_id: 'h_000000000000', decision: 'allow' });
    await waitFor(() => lines.find((l) => l.msg === 'decision for a hold not pending here; ignored'), { what: 'log line' });
  });
});

describe('Approvals: configuration', () => {
  it('a changed token restarts the link; the same settings keep it', async () => {
    const { service, approvals } = await setup();
    const first = approvals.link;
    approvals.configure(approvalConfig(service.url, { holdTimeoutMs: 999 }), TOKEN);
    expect(approvals.link).toBe(first);
    approvals.configure(approvalConfig(service.url), 'other-token');
    expect(approvals.link).not.toBe(first);
    // The service wants the old token: the new link cannot come up.
    await waitFor(() => service.eventsRequests.some((r) => r.authorization === 'Bearer other-token' && r.status === 401), { what: '401' });
    approvals.configure(null, null);
    expect(approvals.link).toBeNull();
    expect(approvals.linkState).toBe('stopped');
  });
});
