/**
 * The check stage alone, with a fake `next` that brings a real upstream answer
 * (bytes from dns-packet, walked by wire/response): which answers replace the
 * verdict with a sinkhole (a CNAME into the deny list, a private address for
 * a public name), which leave it alone, and that what came back is returned
 * as it came.
 */
import type * as dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';

import { CheckStage } from '../../src/check/check.js';
import { parseConfig } from '../../src/config/load.js';
import { compileRoles } from '../../src/decide/role.js';
import { Query, type Fetched, type GrantRef, type Verdict } from '../../src/pipeline/types.js';
import { walkResponse } from '../../src/wire/response.js';
import { mustDecode, question, queryBytes, responseBytes } from '../helpers/packets.js';
import { fakeNext } from '../helpers/fake-next.js';

const config = parseConfig(`
version: 1
upstreams: { servers: ["127.0.0.1:5300"] }
clients:
  - { name: ci-runner-1, match: ["10.20.0.11/32"], role: coding }
roles:
  coding:
    deny: ["*.tracker.example"]
    private_ok: [intranet.example.com]
    unlisted: forward
`, 'check.yaml');
const role = compileRoles(config.roles).get('coding')!;

const GRANT: GrantRef = { id: 'cmd_9', command: 'curl https://www.example.com/', approvedBy: 'alice', expiresAt: Date.now() + 60_000 };
const APPROVED: Verdict = { action: 'hold', reason: 'hold_approved', serve: 'upstream', holdId: 'h_1', grant: GRANT };
const ALLOWED: Verdict = { action: 'forward', reason: 'unlisted', serve: 'upstream' };

function forwarded(name: string, verdict: Verdict = ALLOWED): Query {
  const q = new Query(mustDecode(queryBytes({ name, edns: true })), '10.20.0.11', 'udp', 0);
  q.agent = { name: 'ci-runner-1', entry: 'ci-runner-1', address: '10.20.0.11', mode: 'enforce', modeFrom: 'global', role };
  q.verdict = verdict;
  return q;
}

/** What an upstream brought back for `name`. */
function fetchedFor(name: string, answers: dnsPacket.Answer[], type: 'A' | 'AAAA' = 'A'): Fetched {
  const view = walkResponse(responseBytes({ name, type, answers }), question(name).length);
  return { kind: 'answer', view, ageS: 0, source: '127.0.0.1:5300' };
}

const a = (name: string, data: string): dnsPacket.Answer => ({ name, type: 'A', ttl: 300, data });
const aaaa = (name: string, data: string): dnsPacket.Answer => ({ name, type: 'AAAA', ttl: 300, data });
const cname = (name: string, data: string): dnsPacket.Answer => ({ name, type: 'CNAME', ttl: 300, data });

/** A next that records its calls and brings `fetched`. */
async function run(query: Query, fetched: Fetched | null, blockPrivate = true) {
  const next = fakeNext(fetched);
  const returned = await new CheckStage(blockPrivate).handle(query, next);
  return { returned, next, verdict: query.verdict };
}

describe('CheckStage', () => {
  it('a clean public answer leaves the verdict alone and is returned as it came', async () => {
    const query = forwarded('www.example.com', APPROVED);
    const fetched = fetchedFor('www.example.com', [cname('www.example.com', 'cdn.example.net'), a('cdn.example.net', '93.184.216.34')]);
    const r = await run(query, fetched);
    expect(r.returned).toBe(fetched);
    expect(r.verdict).toBe(APPROVED);
    expect(r.next.calls).toEqual([query]);
  });

  it('a CNAME into the deny list sinkholes the answer, naming target and rule, keeping grant and hold', async () => {
    const query = forwarded('www.example.com', APPROVED);
    const fetched = fetchedFor('www.example.com', [cname('www.example.com', 'Cdn.Tracker.Example'), a('cdn.tracker.example', '93.184.216.34')]);
    const r = await run(query, fetched);
    const rule = 'cdn.tracker.example matches *.tracker.example';
    expect(r.verdict).toEqual({ action: 'sinkhole', reason: 'denylist_cname', serve: 'sinkhole', rule, holdId: 'h_1', grant: GRANT });
    expect(r.returned).toBe(fetched);
    expect(r.next.calls).toEqual([query]);
  });

  it.each([
    ['A', a('app.example.com', '10.0.0.5'), '10.0.0.5'],
    ['A', a('app.example.com', '127.0.0.1'), '127.0.0.1'],
    ['AAAA', aaaa('app.example.com', 'fd00::1'), 'fd00::1'],
    ['AAAA', aaaa('app.example.com', '::1'), '::1'],
  ] as const)('a private %s answer (%j) for a public name is rebinding', async (type, record, address) => {
    const query = forwarded('app.example.com');
    const fetched = fetchedFor('app.example.com', [record], type);
    const r = await run(query, fetched);
    const rule = `app.example.com answered ${address}`;
    expect(r.verdict).toEqual({ action: 'sinkhole', reason: 'rebinding', serve: 'sinkhole', rule });
    expect(r.returned).toBe(fetched);
    expect(r.next.calls).toHaveLength(1);
  });

  it('a private address for a name in private_ok is let through', async () => {
    const query = forwarded('intranet.example.com');
    const r = await run(query, fetchedFor('intranet.example.com', [a('intranet.example.com', '10.1.2.3')]));
    expect(r.verdict).toBe(ALLOWED);
    expect(r.next.calls).toHaveLength(1);
  });

  it('one answer served again (a cache hit) is judged the same for each query: private_ok is still per name', async () => {
    // The same view twice, as the cache hands it out: the second query must not inherit the first's pass.
    const stage = new CheckStage(true);
    const fetched = fetchedFor('intranet.example.com', [a('intranet.example.com', '10.1.2.3')]);
    const inside = forwarded('intranet.example.com');
    await stage.handle(inside, fakeNext(fetched));
    expect(inside.verdict).toBe(ALLOWED);
    for (let i = 0; i < 2; i++) {
      const outside = forwarded('app.example.com');
      await stage.handle(outside, fakeNext(fetched));
      expect(outside.verdict?.reason).toBe('rebinding');
      expect(outside.verdict?.rule).toBe('app.example.com answered 10.1.2.3');
    }
  });

  it('with block_private off, a private address is let through', async () => {
    const query = forwarded('app.example.com');
    const fetched = fetchedFor('app.example.com', [a('app.example.com', '192.168.1.1')]);
    const r = await run(query, fetched, false);
    expect(r.verdict).toBe(ALLOWED);
    expect(r.returned).toBe(fetched);
    expect(r.next.calls).toHaveLength(1);
  });

  it('with block_private off, a CNAME into the deny list is still sinkholed', async () => {
    const r = await run(forwarded('www.example.com'), fetchedFor('www.example.com', [cname('www.example.com', 'x.tracker.example')]), false);
    expect(r.verdict?.reason).toBe('denylist_cname');
  });

  it('a failed fetch, or nothing fetched, passes through with the verdict untouched', async () => {
    const failed: Fetched = { kind: 'failed', error: 'all upstreams failed' };
    for (const fetched of [failed, null]) {
      const query = forwarded('app.example.com');
      const r = await run(query, fetched);
      expect(r.returned).toBe(fetched);
      expect(r.verdict).toBe(ALLOWED);
      expect(r.next.calls).toEqual([query]);
    }
  });
});
