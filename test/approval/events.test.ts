import { describe, expect, it } from 'vitest';

import { APPROVAL_EVENT_LABELS, parseApprovalEvent, parseRfc3339 } from '../../src/approval/events.js';

const approved = {
  id: 'cmd_812',
  agent: 'ci-runner-1',
  command: 'curl -sSL https://api.example.com/v2/items -o items.json',
  approved_by: 'alice',
  risk_score: 0.2,
  approved_at: '2026-11-24T10:00:00Z',
  expires_at: '2026-11-24T10:10:00Z',
  domains: ['api.example.com'],
};

const parse = (type: string | undefined, data: unknown) =>
  parseApprovalEvent(type, typeof data === 'string' ? data : JSON.stringify(data));

describe('parseApprovalEvent', () => {
  it('parses the spec example of command.approved into camelCase with epoch ms', () => {
    expect(parse('command.approved', approved)).toEqual({
      kind: 'event',
      event: {
        type: 'command.approved',
        id: 'cmd_812',
        agent: 'ci-runner-1',
        command: approved.command,
        approvedBy: 'alice',
        riskScore: 0.2,
        approvedAt: Date.UTC(2026, 10, 24, 10, 0, 0),
        expiresAt: Date.UTC(2026, 10, 24, 10, 10, 0),
        domains: ['api.example.com'],
      },
    });
  });

  it('leaves optional fields out when absent or null', () => {
    const minimal = { id: 'c', agent: 'a', command: 'ls', approved_at: '2026-11-24T10:00:00Z', expires_at: null };
    const r = parse('command.approved', minimal);
    expect(r).toEqual({
      kind: 'event',
      event: { type: 'command.approved', id: 'c', agent: 'a', command: 'ls', approvedAt: Date.UTC(2026, 10, 24, 10) },
    });
    expect(r.kind === 'event' && 'expiresAt' in r.event).toBe(false);
  });

  it('cuts ids and texts to 512 characters, so no event can grow the books without bound; the command stays whole for its names', () => {
    const long = 'x'.repeat(5000);
    const r = parse('command.approved', { id: long, agent: 'ci-1', command: long, approved_by: long, approved_at: '2026-11-24T10:00:00Z' });
    expect(r.kind === 'event' && r.event.type === 'command.approved' && [r.event.id.length, r.event.command.length, r.event.approvedBy?.length])
      .toEqual([512, 5000, 512]);
    // Past what names-from-command reads, one character more than it reads marks it as too long.
    const huge = parse('command.approved', { id: 'c', agent: 'ci-1', command: 'x'.repeat(100_000), approved_at: '2026-11-24T10:00:00Z' });
    expect(huge.kind === 'event' && huge.event.type === 'command.approved' && huge.event.command.length).toBe(64 * 1024 + 1);
  });

  it("takes command.approved's agent as an agent name: never cut, no control characters", () => {
    const at = '2026-11-24T10:00:00Z';
    expect(parse('command.approved', { id: 'c', agent: 'ci\n{"forged":1}', command: 'ls', approved_at: at }).kind).toBe('malformed');
    expect(parse('command.approved', { id: 'c', agent: 'a'.repeat(254), command: 'ls', approved_at: at }).kind).toBe('malformed');
  });

  it('ignores fields it does not know', () => {
    expect(parse('command.revoked', { id: 'cmd_812', reason: 'oops' })).toEqual({
      kind: 'event',
      event: { type: 'command.revoked', id: 'cmd_812' },
    });
  });

  it('parses hold.decided and defaults scope to name', () => {
    expect(parse('hold.decided', { hold_id: 'h_1', decision: 'deny' })).toEqual({
      kind: 'event',
      event: { type: 'hold.decided', holdId: 'h_1', decision: 'deny', scope: 'name' },
    });
    expect(
      parse('hold.decided', { hold_id: 'h_4b1f0c', decision: 'allow', scope: 'domain', decided_by: 'bob', ttl_seconds: 600 }),
    ).toEqual({
      kind: 'event',
      event: { type: 'hold.decided', holdId: 'h_4b1f0c', decision: 'allow', scope: 'domain', decidedBy: 'bob', ttlSeconds: 600 },
    });
  });

  it.each([
    ['command.foo', '{}'],
    ['message', '{}'],
    [undefined, '{}'],
    ['command.approved.v2', 'not even json'],
  ])('calls type %s unknown, whatever the data', (type, data) => {
    expect(parseApprovalEvent(type, data)).toEqual({ kind: 'unknown' });
  });

  const { id: _id, ...noId } = approved;
  it.each<[string, string, unknown, string]>([
    ['not JSON', 'command.approved', '{"id": ', 'data is not JSON'],
    ['a JSON array', 'command.revoked', '[1]', 'data is not a JSON object'],
    ['JSON null', 'command.revoked', 'null', 'data is not a JSON object'],
    ['missing id', 'command.approved', noId, 'id: expected a non-empty string'],
    ['empty agent', 'command.approved', { ...approved, agent: '' }, 'agent: expected a non-empty string'],
    ['numeric command', 'command.approved', { ...approved, command: 42 }, 'command: expected a non-empty string'],
    ['approved_at not a date', 'command.approved', { ...approved, approved_at: 'yesterday' }, 'approved_at: expected an RFC 3339 date-time'],
    ['approved_at without zone', 'command.approved', { ...approved, approved_at: '2026-11-24T10:00:00' }, 'approved_at: expected an RFC 3339 date-time'],
    ['approved_at on Feb 30', 'command.approved', { ...approved, approved_at: '2026-02-30T10:00:00Z' }, 'approved_at: expected an RFC 3339 date-time'],
    ['expires_at as epoch', 'command.approved', { ...approved, expires_at: 1790000000 }, 'expires_at: expected an RFC 3339 date-time'],
    ['risk_score as string', 'command.approved', { ...approved, risk_score: '0.2' }, 'risk_score: expected a number'],
    ['domains as string', 'command.approved', { ...approved, domains: 'api.example.com' }, 'domains: expected an array of strings'],
    ['domains with a number', 'command.approved', { ...approved, domains: ['a.example.com', 7] }, 'domains: expected an array of strings'],
    ['revoked without id', 'command.revoked', {}, 'id: expected a non-empty string'],
    ['hold without hold_id', 'hold.decided', { decision: 'allow' }, 'hold_id: expected a non-empty string'],
    ['decision maybe', 'hold.decided', { hold_id: 'h', decision: 'maybe' }, 'decision: expected one of allow, deny'],
    ['scope zone', 'hold.decided', { hold_id: 'h', decision: 'allow', scope: 'zone' }, 'scope: expected one of name, domain'],
    ['ttl_seconds 0', 'hold.decided', { hold_id: 'h', decision: 'allow', ttl_seconds: 0 }, 'ttl_seconds: expected a positive integer'],
    ['ttl_seconds 1.5', 'hold.decided', { hold_id: 'h', decision: 'allow', ttl_seconds: 1.5 }, 'ttl_seconds: expected a positive integer'],
    ['ttl_seconds "60"', 'hold.decided', { hold_id: 'h', decision: 'allow', ttl_seconds: '60' }, 'ttl_seconds: expected a positive integer'],
  ])('rejects %s as malformed, naming the field', (_name, type, data, reason) => {
    expect(parse(type, data)).toEqual({ kind: 'malformed', reason });
  });

  it('has a closed label set for metrics', () => {
    expect(APPROVAL_EVENT_LABELS).toEqual(['command.approved', 'command.revoked', 'hold.decided', 'agent.quarantined', 'agent.released', 'unknown', 'malformed']);
  });
});

describe('parseRfc3339', () => {
  it.each([
    ['2026-11-24T10:00:00Z', Date.UTC(2026, 10, 24, 10)],
    ['2026-11-24t10:00:00z', Date.UTC(2026, 10, 24, 10)],
    ['2026-11-24T10:00:00.345Z', Date.UTC(2026, 10, 24, 10, 0, 0, 345)],
    ['2026-11-24T10:00:00.123456789Z', Date.UTC(2026, 10, 24, 10, 0, 0, 123)],
    ['2026-11-24T12:30:00+02:30', Date.UTC(2026, 10, 24, 10)],
    ['2026-11-24T05:00:00-05:00', Date.UTC(2026, 10, 24, 10)],
    ['2028-02-29T00:00:00Z', Date.UTC(2028, 1, 29)],
  ])('reads %s', (text, ms) => {
    expect(parseRfc3339(text)).toBe(ms);
  });

  it.each([
    '2026-11-24',
    '2026-11-24 10:00:00Z',
    '2026-11-24T10:00Z',
    '2026-13-01T00:00:00Z',
    '2027-02-29T00:00:00Z',
    '2026-11-24T24:00:00Z',
    '2026-11-24T10:00:60Z',
    '2026-11-24T10:00:00+2:00',
    'Tue, 24 Nov 2026 10:00:00 GMT',
    ' 2026-11-24T10:00:00Z',
  ])('refuses %s', (text) => {
    expect(parseRfc3339(text)).toBeNull();
  });
});

describe('parseApprovalEvent: v1.1 fields', () => {
  const decided = { hold_id: 'h_4b1f0c', decision: 'allow', scope: 'name', decided_by: 'bob', ttl_seconds: 600 };

  it('hold.decided carries its question: agent, qname (lower-cased, no trailing dot) and qtype as a number', () => {
    expect(parse('hold.decided', { ...decided, agent: 'ci-runner-1', qname: 'Uploads.Untrusted.Example.', qtype: 'AAAA' })).toEqual({
      kind: 'event',
      event: {
        type: 'hold.decided', holdId: 'h_4b1f0c', decision: 'allow', scope: 'name', decidedBy: 'bob', ttlSeconds: 600,
        question: { agent: 'ci-runner-1', qname: 'uploads.untrusted.example', qtype: 28 },
      },
    });
    expect(parse('hold.decided', { ...decided, agent: 'a', qname: 'x.example', qtype: null })).toMatchObject({ event: { question: { agent: 'a', qname: 'x.example' } } });
  });

  it('a v1 hold.decided (no question fields) has no question', () => {
    const r = parse('hold.decided', decided);
    expect(r.kind).toBe('event');
    expect(r.kind === 'event' && 'question' in r.event).toBe(false);
  });

  it.each([
    ['agent without qname', { agent: 'a' }, 'agent and qname: expected both or neither'],
    ['qname without agent', { qname: 'x.example' }, 'agent and qname: expected both or neither'],
    ['qtype alone', { qtype: 'A' }, 'qtype: expected only beside agent and qname'],
    ['a qname that is no name', { agent: 'a', qname: 'bad name!' }, 'qname: expected a domain name'],
    ['a qname that is not a string', { agent: 'a', qname: 7 }, 'qname: expected a domain name'],
    ['an unknown qtype', { agent: 'a', qname: 'x.example', qtype: 'NOPE' }, 'qtype: expected a query type name'],
    ['an agent with control characters', { agent: 'a\nb', qname: 'x.example' }, 'agent: contains control characters'],
    ['an agent longer than 253', { agent: 'a'.repeat(254), qname: 'x.example' }, 'agent: longer than 253 characters'],
  ])('hold.decided with %s is malformed', (_what, more, reason) => {
    expect(parse('hold.decided', { ...decided, ...more })).toEqual({ kind: 'malformed', reason });
  });

  it('agent.quarantined and agent.released', () => {
    expect(parse('agent.quarantined', { agent: 'ci-runner-1', reason: 'risk score', by: 'alice' })).toEqual({
      kind: 'event', event: { type: 'agent.quarantined', agent: 'ci-runner-1', reason: 'risk score', by: 'alice' },
    });
    expect(parse('agent.quarantined', { agent: 'ci-runner-1' })).toEqual({ kind: 'event', event: { type: 'agent.quarantined', agent: 'ci-runner-1' } });
    expect(parse('agent.released', { agent: 'ci-runner-1', by: 'alice', reason: 'ignored' })).toEqual({
      kind: 'event', event: { type: 'agent.released', agent: 'ci-runner-1', by: 'alice' },
    });
  });

  it.each([
    ['agent.quarantined', {}, 'agent: expected a non-empty string'],
    ['agent.quarantined', { agent: '' }, 'agent: expected a non-empty string'],
    ['agent.quarantined', { agent: 'a', reason: 5 }, 'reason: expected a non-empty string'],
    ['agent.released', { agent: ['a'] }, 'agent: expected a non-empty string'],
    ['agent.released', { agent: 'a\u0085' }, 'agent: contains control characters'],
  ])('%s %j is malformed', (type, data, reason) => {
    expect(parse(type, data)).toEqual({ kind: 'malformed', reason });
  });
});
