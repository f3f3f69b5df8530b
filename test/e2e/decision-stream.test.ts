/**
 * GET /v1/decisions against the running proxy over real sockets: live
 * decisions with the log line's JSON, filters, the admin token, the
 * per-subscriber bound (a paused client loses events, counted, and nobody
 * else notices), the subscriber cap, keep-alive pings and reloads.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Zone } from '../helpers/authority.js';
import { startProxy, type Proxy } from '../helpers/proxy.js';
import { subscribeDecisions, type Subscription } from '../helpers/sse-client.js';
import { delay, waitFor } from '../helpers/wait-for.js';

const ZONE: Zone = {
  'github.com': [{ type: 'A', data: '140.82.121.3', ttl: 300 }],
  'api.github.com': [{ type: 'A', data: '140.82.121.6', ttl: 300 }],
  'gist.github.com': [{ type: 'A', data: '140.82.121.4', ttl: 300 }],
  // 60 addresses: a decision line of about 1.3 KB, so a few thousand queries outgrow what loopback's socket buffers hold (~4 MB).
  'wide.github.com': Array.from({ length: 60 }, (_, i) => ({ type: 'A' as const, data: `198.51.${100 + (i >> 5)}.${(i & 31) + 100}`, ttl: 300 })),
};
const TOKEN = 'stream-test-token-0123456789';

let dir: string;
let tokenFile: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'intentdns-stream-'));
  tokenFile = join(dir, 'admin-token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const yaml = (log = 'all'): string => `
  version: 1
  log: { queries: ${log} }
  admin: { token_file: "${tokenFile}" }
  clients:
    - { name: ci-1, match: ["127.0.0.1/32"], role: coding }
    - { name: ci-2, match: ["127.0.0.3/32"], role: coding }
    - { name: docs-1, match: ["127.0.0.4/32"], role: docs }
  roles:
    coding: { allow: [github.com, "*.github.com"], deny: [gist.github.com] }
    docs: { allow: [github.com] }
`;

let proxy: Proxy | null = null;
const subs: Subscription[] = [];
afterEach(async () => {
  for (const s of subs.splice(0)) s.close();
  await proxy?.close();
  proxy = null;
});

async function start(opts: { log?: string; limits?: Parameters<typeof startProxy>[0]['server'] } = {}): Promise<Proxy> {
  proxy = await startProxy({ zone: ZONE, http: true, yaml: yaml(opts.log), ...(opts.limits && { server: opts.limits }) });
  return proxy;
}

const port = (p: Proxy): number => p.server.httpAddress()!.port;

/** `token` null: no Authorization header at all. */
async function subscribe(p: Proxy, query?: string, token: string | null = TOKEN): Promise<Subscription> {
  const sub = await subscribeDecisions(port(p), { ...(token !== null && { token }), ...(query !== undefined && { query }) });
  subs.push(sub);
  return sub;
}

async function metric(p: Proxy, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port(p)}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no ${name} in /metrics`);
  return Number(line.slice(name.length + 1));
}

describe('GET /v1/decisions', () => {
  it('streams a query\'s decision as it happens, as a decision event whose data is the decision log line', async () => {
    const p = await start();
    const sub = await subscribe(p);
    expect(sub.status).toBe(200);
    expect(sub.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(sub.headers['cache-control']).toBe('no-store');
    const r = await p.query('api.github.com', 'A', { edns: true });
    const [event] = await sub.waitForDecisions(1);
    expect(r.log).toBeDefined();
    // The same text: the log line parsed and written again gives the event's data back.
    expect(sub.events.find((e) => e.event === 'decision')!.data).toBe(JSON.stringify(r.log));
    expect(event).toMatchObject({ msg: 'query', agent: 'ci-1', role: 'coding', qname: 'api.github.com', action: 'forward', reason: 'allowlist', blocked: false });
    expect(await metric(p, 'intentdns_decision_stream_subscribers')).toBe(1);
  });

  it('streams every decision whatever log.queries says, and keeps its subscribers through a reload', async () => {
    const p = await start({ log: 'none' });
    const sub = await subscribe(p);
    await p.query('github.com');
    const [first] = await sub.waitForDecisions(1);
    expect(p.decisions()).toEqual([]);          // the log wrote nothing
    expect(first).toMatchObject({ qname: 'github.com', action: 'forward' });
    await p.reload(yaml('blocked').replace('deny: [gist.github.com]', 'deny: [gist.github.com, api.github.com]'));
    expect((await p.query('api.github.com')).packet.rcode).toBe('NXDOMAIN');
    const after = await sub.waitForDecisions(2);
    expect(after[1]).toMatchObject({ qname: 'api.github.com', action: 'sinkhole', reason: 'denylist', blocked: true });
  });

  it('filters by agent, role, action and reason, exactly', async () => {
    const p = await start();
    const denied = await subscribe(p, 'action=sinkhole&role=coding');
    const ci2 = await subscribe(p, 'agent=ci-2');
    const allow = await subscribe(p, 'reason=allowlist&role=docs');
    const prefix = await subscribe(p, 'agent=ci');   // exact match: no agent is called "ci"
    await p.query('github.com');                                  // ci-1 forward allowlist
    await p.query('gist.github.com');                             // ci-1 sinkhole
    await p.query('gist.github.com', 'A', { from: '127.0.0.3' }); // ci-2 sinkhole
    await p.query('github.com', 'A', { from: '127.0.0.4' });      // docs-1 forward allowlist
    await p.query('gist.github.com', 'A', { from: '127.0.0.4' }); // docs-1 sinkhole unlisted
    const everything = await subscribe(p);
    await p.query('api.github.com', 'A', { from: '127.0.0.3' });  // ci-2 forward; the last one, so all the above arrived first
    await everything.waitForDecisions(1);
    await ci2.waitForDecisions(2);
    const seen = (s: Subscription): string[] => s.decisions().map((d) => `${d.agent as string} ${d.qname as string} ${d.action as string}`);
    expect(seen(denied)).toEqual(['ci-1 gist.github.com sinkhole', 'ci-2 gist.github.com sinkhole']);
    expect(seen(ci2)).toEqual(['ci-2 gist.github.com sinkhole', 'ci-2 api.github.com forward']);
    expect(seen(allow)).toEqual(['docs-1 github.com forward']);
    expect(seen(prefix)).toEqual([]);
  });

  it('answers 400 for an unknown action, reason or parameter, naming it', async () => {
    const p = await start();
    for (const [query, says] of [
      ['action=blocked', 'unknown action "blocked"; one of forward, sinkhole, hold, refuse, drop'],
      ['reason=allowed', 'unknown reason "allowed"'],
      ['qname=github.com', 'unknown parameter "qname"; the filters are agent, role, action, reason'],
      ['agent=a&agent=b', 'agent is given 2 times'],
      ['role=', 'role is empty'],
    ] as const) {
      const sub = await subscribe(p, query);
      expect(sub.status, query).toBe(400);
      expect((JSON.parse(await sub.body()) as { error: string }).error, query).toContain(says);
    }
    expect(await metric(p, 'intentdns_decision_stream_subscribers')).toBe(0);
  });

  it('answers 401 without the admin token or with a wrong one', async () => {
    const p = await start();
    const none = await subscribe(p, undefined, null);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="intentdns"');
    const wrong = await subscribe(p, undefined, 'not-the-token');
    expect(wrong.status).toBe(401);
    await p.query('github.com');
    expect(none.events).toEqual([]);
  });

  it('a subscriber that stops reading loses events, counted; the others and the queries do not notice, and its backlog stays bounded', async () => {
    // Room for a burst of 50 lines to a reader that keeps up; far less than what the stuck one is sent.
    const BOUND = 128 * 1024;
    const p = await start({ log: 'none', limits: { decisionStream: { maxBufferedBytes: BOUND } } });
    const stuck = await subscribe(p);
    const reader = await subscribe(p);
    await p.query('github.com');
    await stuck.waitForDecisions(1);
    await reader.waitForDecisions(1);
    stuck.pause();
    // Enough lines to fill the loopback socket buffers and then the bound many times over.
    const N = 6000;
    const started = Date.now();
    let answered = 0;
    for (let i = 0; i < N; i += 50) {
      const batch = Array.from({ length: Math.min(50, N - i) }, () => p.query('wide.github.com', 'A', { edns: true, timeoutMs: 3000 }));
      for (const r of await Promise.all(batch)) if (r.packet.rcode === 'NOERROR') answered++;
    }
    const seconds = (Date.now() - started) / 1000;
    expect(answered).toBe(N);
    const dropped = await metric(p, 'intentdns_decision_stream_dropped_total');
    // The reader that kept up got every one of them.
    await reader.waitForDecisions(N + 1, 10_000);
    expect(dropped).toBeGreaterThan(0);
    expect(dropped).toBeLessThan(N);
    // What the proxy keeps for the stuck one is at most the bound plus one line (bytes in the kernel aside).
    expect(p.server.decisions.largestBacklog).toBeGreaterThan(0);
    expect(p.server.decisions.largestBacklog).toBeLessThanOrEqual(BOUND + 2048);   // one line over at most
    // Resumed: it reads what was kept, is told how many it lost, and then gets new decisions again.
    stuck.resume();
    await p.query('api.github.com');
    await waitFor(() => stuck.decisions().some((d) => d.qname === 'api.github.com'), { what: 'the stuck subscriber catching up', timeoutMs: 5000 });
    const told = stuck.events.filter((e) => e.event === 'dropped').reduce((n, e) => n + (JSON.parse(e.data) as { count: number }).count, 0);
    expect(told).toBe(dropped);
    // Every decision either reached it or was counted as dropped: none vanished, none came twice.
    expect(stuck.decisions().length + dropped).toBe(N + 2);
    expect(seconds).toBeLessThan(30);
  }, 60_000);

  it('takes at most maxSubscribers at once (503 beyond), and makes room when one leaves', async () => {
    const p = await start({ limits: { decisionStream: { maxSubscribers: 2 } } });
    const a = await subscribe(p);
    await subscribe(p);
    const third = await subscribe(p);
    expect(third.status).toBe(503);
    expect(third.headers['retry-after']).toBe('5');
    expect((JSON.parse(await third.body()) as { error: string }).error).toContain('2 subscribers');
    a.close();
    await waitFor(async () => (await metric(p, 'intentdns_decision_stream_subscribers')) === 1, { what: 'the closed subscriber removed', timeoutMs: 2000 });
    const fourth = await subscribe(p);
    expect(fourth.status).toBe(200);
  });

  it('sends a ": ping" comment every ping interval while nothing happens', async () => {
    const p = await start({ limits: { decisionStream: { pingIntervalMs: 100 } } });
    const sub = await subscribe(p);
    await delay(350);
    expect(sub.comments.filter((c) => c === 'ping').length).toBeGreaterThanOrEqual(2);
    expect(sub.comments[0]).toBe('intentdns decisions');
  });
});
