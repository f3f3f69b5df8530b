/**
 * The decide stage alone, with a fake `next`: the verdict each policy rule
 * sets, and whether the query then goes on down the chain (forwards and holds
 * do, blocks stop here unless audit mode lets them through).
 */
import { describe, expect, it } from 'vitest';

import { parseConfig } from '../../src/config/load.js';
import { DecideStage } from '../../src/decide/decide.js';
import { DomainBudgets } from '../../src/decide/domain-budgets.js';
import { NO_GRANTS, type GrantLookup, type QuarantineLookup } from '../../src/decide/policy.js';
import { compileRoles } from '../../src/decide/role.js';
import { Query, type Agent, type GrantRef, type Next } from '../../src/pipeline/types.js';
import { mustDecode, queryBytes } from '../helpers/packets.js';
import { fakeNext, NOTHING_UPSTREAM } from '../helpers/fake-next.js';

const config = parseConfig(`
version: 1
upstreams: { servers: ["127.0.0.1:5300"] }
clients:
  - { name: ci-runner-1, match: ["10.20.0.11/32"], role: coding }
  - { name: web-1, match: ["10.20.0.12/32"], role: browsing }
  - { name: locked-1, match: ["10.20.0.13/32"], role: locked }
roles:
  coding:
    allow: [github.com, "*.github.com"]
    deny: [gist.github.com]
    qtypes: [A, AAAA]
    unlisted: hold
  browsing: { deny: [evil.example], unlisted: forward }
  locked: { unlisted: sinkhole }
  watched: { unlisted: forward, tunneling: { action: log, max_names_per_domain: 1 } }
`, 'decide.yaml');
const roles = compileRoles(config.roles);
const agent = (name: string, role: string): Agent => ({ name, entry: name, address: '10.20.0.11', mode: 'enforce', modeFrom: 'global', role: roles.get(role)! });
const CODING = agent('ci-runner-1', 'coding');
const BROWSING = agent('web-1', 'browsing');
const LOCKED = agent('locked-1', 'locked');

const GRANT: GrantRef = { id: 'cmd_7', command: 'curl https://api.example.com/', approvedBy: 'alice', expiresAt: Date.now() + 60_000 };
const GRANTS: GrantLookup = { find: (a, n) => (a === 'ci-runner-1' && n === 'api.example.com' ? GRANT : undefined) };
const NOBODY: QuarantineLookup = { match: () => undefined };
const QUARANTINED: QuarantineLookup = { match: (a) => (a.name === 'ci-runner-1' ? 'agent ci-runner-1' : undefined) };
const QUARANTINE_VERDICT = { action: 'sinkhole', reason: 'quarantine', serve: 'sinkhole', rule: 'agent ci-runner-1' };

/** A quarantine an operator can switch on while a query is down the chain. */
function switchable(): QuarantineLookup & { on: boolean } {
  const q = { on: false, match: (a: Agent) => (q.on && a.name === 'ci-runner-1' ? 'agent ci-runner-1' : undefined) };
  return q;
}

/** A query as identify leaves it: agent set, audit from the mode. */
function identified(who: Agent, name: string, type: 'A' | 'TXT' = 'A', audit = false): Query {
  const q = new Query(mustDecode(queryBytes({ name, type, edns: true })), '10.20.0.11', 'udp', 0);
  q.agent = who;
  q.audit = audit;
  return q;
}

async function run(query: Query, grants: GrantLookup = GRANTS, quarantine: QuarantineLookup = NOBODY) {
  const next = fakeNext();
  const fetched = await new DecideStage(grants, quarantine).handle(query, next);
  return { fetched, next, verdict: query.verdict };
}

describe('DecideStage', () => {
  it.each([
    ['an allowlisted name', CODING, 'api.github.com', { action: 'forward', reason: 'allowlist', serve: 'upstream', rule: '*.github.com' }],
    ['a granted name', CODING, 'api.example.com', { action: 'forward', reason: 'grant', serve: 'upstream', grant: GRANT }],
    ['an unlisted name under unlisted: forward', BROWSING, 'example.net', { action: 'forward', reason: 'unlisted', serve: 'upstream' }],
  ] as const)('%s goes on to be resolved', async (_what, who, name, verdict) => {
    const query = identified(who, name);
    const r = await run(query);
    expect(r.verdict).toEqual(verdict);
    expect(r.next.calls).toEqual([query]);
    expect(r.fetched).toBe(NOTHING_UPSTREAM);
  });

  it.each([
    ['a denylisted name', CODING, 'gist.github.com', 'A', { action: 'sinkhole', reason: 'denylist', serve: 'sinkhole', rule: 'gist.github.com' }],
    ['a type the role does not list', CODING, 'github.com', 'TXT', { action: 'refuse', reason: 'qtype', serve: 'refused', rule: 'qtypes of coding (TXT)' }],
    ['an unlisted name under unlisted: sinkhole', LOCKED, 'example.net', 'A', { action: 'sinkhole', reason: 'unlisted', serve: 'sinkhole' }],
  ] as const)('%s is blocked here: the chain stops', async (_what, who, name, type, verdict) => {
    const r = await run(identified(who, name, type));
    expect(r.verdict).toEqual(verdict);
    expect(r.fetched).toBeNull();
    expect(r.next.calls).toHaveLength(0);
  });

  it('a quarantined agent is sinkholed even for an allowed, granted name, and nothing is resolved', async () => {
    for (const name of ['github.com', 'api.example.com']) {
      const r = await run(identified(CODING, name), GRANTS, QUARANTINED);
      expect(r.verdict).toEqual(QUARANTINE_VERDICT);
      expect(r.fetched).toBeNull();
      expect(r.next.calls).toHaveLength(0);
    }
  });

  it('an agent quarantined while its query was down the chain (a hold, an upstream) gets the quarantine verdict, hold id kept', async () => {
    const quarantine = switchable();
    const query = identified(CODING, 'example.org');
    const approved = { action: 'hold', reason: 'hold_approved', serve: 'upstream', holdId: 'h_1', grant: GRANT } as const;
    const next: Next = (q) => {
      // What hold/ does after the reviewer allowed it, and the operator's quarantine landing meanwhile.
      q.verdict = approved;
      quarantine.on = true;
      return Promise.resolve(NOTHING_UPSTREAM);
    };
    const fetched = await new DecideStage(NO_GRANTS, quarantine).handle(query, next);
    expect(fetched).toBe(NOTHING_UPSTREAM);
    expect(query.verdict).toEqual({ ...QUARANTINE_VERDICT, holdId: 'h_1' });
  });

  it('the stage spends the budgets it was given at the time its clock says, and a quarantine after the wait keeps the logged signal', async () => {
    const watched = agent('ci-runner-1', 'watched');
    const budgets = new DomainBudgets({ seed: 1 });
    let now = 0;
    const stage = (q: QuarantineLookup) => new DecideStage(NO_GRANTS, q, budgets, () => now);
    await stage(NOBODY).handle(identified(watched, 'a.example.org'), fakeNext());
    const second = identified(watched, 'b.example.org');
    await stage(NOBODY).handle(second, fakeNext());
    expect(second.verdict).toEqual({ action: 'forward', reason: 'unlisted', serve: 'upstream', tunneling: 'max_names_per_domain (2 > 1) under example.org' });
    now = 10 * 60_000;
    const later = identified(watched, 'c.example.org');
    await stage(NOBODY).handle(later, fakeNext());
    expect(later.verdict).not.toHaveProperty('tunneling');

    const quarantine = switchable();
    const walkedOut = identified(watched, 'd.example.org');
    await stage(quarantine).handle(walkedOut, (q) => { quarantine.on = true; return Promise.resolve(NOTHING_UPSTREAM); });
    expect(walkedOut.verdict).toEqual({ ...QUARANTINE_VERDICT, tunneling: 'max_names_per_domain (2 > 1) under example.org' });
  });

  it('a forwarded query whose agent stays free keeps its verdict after the wait', async () => {
    const query = identified(CODING, 'api.github.com');
    await new DecideStage(GRANTS, switchable()).handle(query, fakeNext());
    expect(query.verdict).toMatchObject({ reason: 'allowlist' });
  });

  it('an unlisted name under unlisted: hold goes on to ask a reviewer', async () => {
    const query = identified(CODING, 'example.org');
    const r = await run(query, NO_GRANTS);
    expect(r.verdict).toEqual({ action: 'hold', reason: 'unlisted', serve: 'review' });
    expect(r.next.calls).toEqual([query]);
    expect(r.fetched).toBe(NOTHING_UPSTREAM);
  });

  it('a grant only opens the name for the agent it was given to', async () => {
    const other = agent('ci-runner-2', 'coding');
    const r = await run(identified(other, 'api.example.com'));
    expect(r.verdict).toEqual({ action: 'hold', reason: 'unlisted', serve: 'review' });
  });

  it('in audit mode a denied name still goes on, with its denylist verdict kept for the log', async () => {
    const query = identified(CODING, 'gist.github.com', 'A', true);
    const r = await run(query);
    expect(r.verdict).toEqual({ action: 'sinkhole', reason: 'denylist', serve: 'sinkhole', rule: 'gist.github.com' });
    expect(query.audit).toBe(true);
    expect(r.next.calls).toEqual([query]);
    expect(r.fetched).toBe(NOTHING_UPSTREAM);
  });

  it('in audit mode a quarantined agent and a refused type go on too, verdicts unchanged', async () => {
    const quarantined = await run(identified(CODING, 'github.com', 'A', true), GRANTS, QUARANTINED);
    expect(quarantined.verdict?.reason).toBe('quarantine');
    expect(quarantined.next.calls).toHaveLength(1);
    const refused = await run(identified(CODING, 'github.com', 'TXT', true));
    expect(refused.verdict).toMatchObject({ reason: 'qtype', serve: 'refused' });
    expect(refused.next.calls).toHaveLength(1);
  });
});
