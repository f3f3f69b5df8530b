/**
 * Graceful shutdown: /readyz turns 503 at once, a held query gets its
 * on_hold_timeout answer at once (not after hold_timeout), queries in flight
 * upstream are still answered, the approval link closes, and `intentdns
 * serve` exits 0 by itself, well within its deadline.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { FakeApprovalService } from '../helpers/approval-service.js';
import { startApprovalProxy, type ApprovalProxy } from '../helpers/approval-proxy.js';
import { startAuthority, type Authority, type Zone } from '../helpers/authority.js';
import { udpExchange } from '../helpers/client.js';
import { decodePacket, edeOf, queryBytes } from '../helpers/packets.js';
import { addresses, poll } from '../helpers/proxy.js';
import { spawnServe } from '../helpers/serve-process.js';
import { waitFor } from '../helpers/wait-for.js';

const ZONE: Zone = {
  'held.example.com': [{ type: 'A', data: '198.51.100.7', ttl: 300 }],
  'slow.example.com': [{ type: 'A', data: '198.51.100.8', ttl: 300 }],
};

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('Server.close()', () => {
  it('is not ready from the first moment; a held query gets its on_hold_timeout answer at once; the link closes', async () => {
    const ap: ApprovalProxy = await startApprovalProxy({ zone: ZONE, approval: { hold_timeout: '4s', on_hold_timeout: 'servfail' } });
    cleanups.push(() => ap.close());
    const pending = ap.proxy.query('held.example.com', 'A', { timeoutMs: 5000 });
    await ap.holdFor('held.example.com');
    expect(ap.proxy.server.ready).toBe(true);

    const started = performance.now();
    const closing = ap.proxy.server.close();
    expect(ap.proxy.server.ready).toBe(false);
    const reply = await pending;
    // Answered by the shutdown, not by the 4 s hold timeout.
    expect(performance.now() - started).toBeLessThan(1500);
    expect(reply.packet.rcode).toBe('SERVFAIL');
    expect(reply.log).toMatchObject({ agent: 'ci-1', action: 'hold', reason: 'hold_timeout' });
    await closing;
    expect(ap.linkState()).toBe('stopped');
    await waitFor(() => ap.service.openStreams === 0, { what: 'event stream closed' });
    // Idempotent: the harness closes it again.
    await ap.proxy.server.close();
  });
});

describe('intentdns serve: SIGTERM', () => {
  it('503 first, the held query gets its on_hold_timeout answer, a query in flight upstream is answered, exit 0 in time', async () => {
    const service = await FakeApprovalService.start({ token: 'shutdown-token' });
    cleanups.push(() => service.close());
    const authority: Authority = await startAuthority({ zone: ZONE });
    cleanups.push(() => authority.stop());
    const dir = mkdtempSync(join(tmpdir(), 'intentdns-shutdown-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'approval-token'), 'shutdown-token\n');

    const { proc, ports } = await spawnServe((p) => {
      const file = join(dir, 'intentdns.yaml');
      writeFileSync(file, [
        'version: 1',
        `listen: { dns: ["127.0.0.1:${p.dns}"], http: "127.0.0.1:${p.http}" }`,
        `upstreams: { servers: ["${authority.hostPort.text}"], timeout: 4s }`,
        'answers: { block_private: false }',
        'clients: [{ name: ci-1, match: ["127.0.0.1/32"], role: coding }]',
        'roles: { coding: { allow: [slow.example.com], unlisted: hold } }',
        `approval: { url: "${service.url}", token_file: approval-token, hold_timeout: 4s, on_hold_timeout: servfail }`,
      ].join('\n'));
      return file;
    });
    cleanups.push(() => proc.kill());
    const dns = { host: '127.0.0.1', port: ports.dns };
    const readyz = (): Promise<number | 'refused'> => httpStatus(ports.http, '/readyz');

    await waitFor(() => service.openStreams === 1, { what: 'approval link up', timeoutMs: 5000 });
    expect(await readyz()).toBe(200);

    // One query held by the approval service, one waiting on a slow upstream.
    const held = udpExchange(dns, queryBytes({ name: 'held.example.com', edns: true }), { timeoutMs: 6000 });
    await waitFor(() => service.holds.length === 1, { what: 'hold POST', timeoutMs: 3000 });
    authority.behave({ mode: 'delay', delayMs: 1500 });
    const slow = udpExchange(dns, queryBytes({ name: 'slow.example.com' }), { timeoutMs: 6000 });
    await waitFor(() => authority.queries.some((q) => q.name === 'slow.example.com'), { what: 'slow query upstream', timeoutMs: 3000 });

    const started = performance.now();
    proc.signal('SIGTERM');
    // Not ready while it drains: the slow answer keeps the DNS listeners (and so HTTP) open.
    await poll(async () => (await readyz()) === 503, { what: '/readyz 503', timeoutMs: 3000, intervalMs: 10 });

    const heldReply = await held;
    expect(heldReply).not.toBeNull();
    const heldPacket = decodePacket(heldReply!);
    expect(heldPacket.rcode).toBe('SERVFAIL');
    expect(performance.now() - started).toBeLessThan(2500);

    const slowReply = await slow;
    expect(slowReply).not.toBeNull();
    expect(addresses(decodePacket(slowReply!))).toEqual(['198.51.100.8']);

    const exit = await proc.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(performance.now() - started).toBeLessThan(8000);
    expect(await readyz()).toBe('refused');
    await waitFor(() => service.openStreams === 0, { what: 'event stream closed' });

    const msgs = proc.lines.map((l) => l.msg);
    expect(msgs.indexOf('shutting down')).toBeGreaterThan(msgs.indexOf('intentdns listening'));
    expect(msgs.at(-1)).toBe('intentdns stopped');
    expect(proc.lines.find((l) => l.msg === 'query' && l.qname === 'held.example.com')).toMatchObject({ action: 'hold', reason: 'hold_timeout', rcode: 'SERVFAIL' });
    expect(proc.lines.find((l) => l.msg === 'query' && l.qname === 'slow.example.com')).toMatchObject({ action: 'forward', reason: 'allowlist' });
    expect(proc.stderr()).toBe('');
    expect(edeOf(heldPacket)).toBeUndefined();
  }, 30_000);

  it('SIGINT does the same; a second signal exits at once', async () => {
    const authority = await startAuthority({ zone: ZONE });
    cleanups.push(() => authority.stop());
    const dir = mkdtempSync(join(tmpdir(), 'intentdns-shutdown-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const write = (p: { dns: number; http: number }): string => {
      const file = join(dir, 'intentdns.yaml');
      writeFileSync(file, [
        'version: 1',
        `listen: { dns: ["127.0.0.1:${p.dns}"], http: "127.0.0.1:${p.http}" }`,
        `upstreams: { servers: ["${authority.hostPort.text}"], timeout: 4s }`,
        'clients: [{ name: ci-1, match: ["127.0.0.1/32"], role: coding }]',
        'roles: { coding: { allow: [slow.example.com] } }',
      ].join('\n'));
      return file;
    };

    const first = await spawnServe(write);
    cleanups.push(() => first.proc.kill());
    first.proc.signal('SIGINT');
    expect(await first.proc.exited).toEqual({ code: 0, signal: null });

    // A query in flight would keep the listeners open for up to their 5 s grace; the second signal does not wait.
    const second = await spawnServe(write);
    cleanups.push(() => second.proc.kill());
    authority.behave({ mode: 'delay', delayMs: 4000 });
    void udpExchange({ host: '127.0.0.1', port: second.ports.dns }, queryBytes({ name: 'slow.example.com' }), { timeoutMs: 1000 });
    await waitFor(() => authority.queries.some((q) => q.name === 'slow.example.com'), { what: 'slow query upstream', timeoutMs: 3000 });
    const started = performance.now();
    second.proc.signal('SIGTERM');
    await second.proc.waitForLine((l) => l.msg === 'shutting down');
    second.proc.signal('SIGTERM');
    expect(await second.proc.exited).toEqual({ code: 128 + 15, signal: null });
    expect(performance.now() - started).toBeLessThan(2000);
    expect(second.proc.lines.some((l) => l.msg === 'intentdns stopped')).toBe(false);
  }, 30_000);
});

/** GET on 127.0.0.1; the status, or 'refused' when nothing listens. */
async function httpStatus(port: number, path: string): Promise<number | 'refused'> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 'refused';
  }
}
