/**
 * The upstream stage, the end of the chain, over real loopback authorities:
 * what comes back when an upstream answers (and which one it was), and why
 * nothing did when none would.
 */
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { HostPort } from '../../src/config/types.js';
import { Query, type Fetched } from '../../src/pipeline/types.js';
import { Upstreams } from '../../src/upstream/exchange.js';
import { UpstreamStage } from '../../src/upstream/upstream.js';
import { RCODE } from '../../src/wire/constants.js';
import { startAuthority, type Authority, type Zone } from '../helpers/authority.js';
import { CD, RD, mustDecode, queryBytes, type QueryOptions } from '../helpers/packets.js';

const log = pino({ level: 'silent' });
const TIMEOUT_MS = 200;
const ZONE: Zone = { 'example.org': [{ type: 'A', data: '93.184.216.34', ttl: 300 }] };

function stage(servers: readonly HostPort[]): UpstreamStage {
  return new UpstreamStage(new Upstreams({ servers, timeoutMs: TIMEOUT_MS, log }));
}

function forwarded(opts: Partial<QueryOptions> = {}): Query {
  return new Query(mustDecode(queryBytes({ name: 'example.org', edns: true, ...opts })), '10.20.0.11', 'udp', 0);
}

function answered(fetched: Fetched): Extract<Fetched, { kind: 'answer' }> {
  if (fetched.kind !== 'answer') throw new Error(`expected an answer, got: ${fetched.error}`);
  return fetched;
}

describe('UpstreamStage', () => {
  let a: Authority;
  let b: Authority;

  beforeAll(async () => {
    a = await startAuthority({ zone: ZONE });
    b = await startAuthority({ zone: ZONE });
  });
  afterEach(() => {
    for (const dns of [a, b]) {
      dns.behave({ mode: 'normal' });
      dns.queries.length = 0;
    }
  });
  afterAll(async () => {
    await a.stop();
    await b.stop();
  });

  it('an answer comes back fresh (age 0), naming the upstream that gave it', async () => {
    const fetched = answered(await stage([a.hostPort]).handle(forwarded()));
    expect(fetched.source).toBe(a.hostPort.text);
    expect(fetched.source).toBe(`127.0.0.1:${a.port}`);
    expect(fetched.ageS).toBe(0);
    expect(fetched.view.rcode).toBe(RCODE.NOERROR);
    expect(fetched.view.addresses).toEqual(['93.184.216.34']);
    expect(a.queries.map((q) => q.name)).toEqual(['example.org']);
  });

  it('an upstream NXDOMAIN is an answer, passed on as such', async () => {
    const fetched = answered(await stage([a.hostPort]).handle(forwarded({ name: 'nowhere.example.org' })));
    expect(fetched.view.rcode).toBe(RCODE.NXDOMAIN);
    expect(fetched.source).toBe(a.hostPort.text);
  });

  it("asks the upstream with the client's DO and CD bits", async () => {
    await stage([a.hostPort]).handle(forwarded({ edns: { do: true }, flags: RD | CD }));
    await stage([a.hostPort]).handle(forwarded());
    expect(a.queries.map((q) => [q.dnssecOk, q.checkingDisabled])).toEqual([[true, true], [false, false]]);
  });

  it('a silent upstream gives a failure naming it, after the timeout', async () => {
    a.behave({ mode: 'drop' });
    const started = performance.now();
    const fetched = await stage([a.hostPort]).handle(forwarded());
    expect(performance.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(fetched.kind).toBe('failed');
    if (fetched.kind !== 'failed') return;
    expect(fetched.error).toContain(a.hostPort.text);
    expect(fetched.error).toMatch(/timeout/);
  });

  it('when the first upstream is silent the second answers, and is named as the source', async () => {
    a.behave({ mode: 'drop' });
    const fetched = answered(await stage([a.hostPort, b.hostPort]).handle(forwarded()));
    expect(fetched.source).toBe(b.hostPort.text);
    expect(fetched.ageS).toBe(0);
  });

  it('when every upstream fails the error names each of them', async () => {
    a.behave({ mode: 'drop' });
    b.behave({ mode: 'servfail' });
    const fetched = await stage([a.hostPort, b.hostPort]).handle(forwarded());
    expect(fetched).toMatchObject({ kind: 'failed' });
    if (fetched.kind !== 'failed') return;
    expect(fetched.error).toContain(a.hostPort.text);
    expect(fetched.error).toContain(b.hostPort.text);
    expect(fetched.error).toMatch(/SERVFAIL/);
  });
});
