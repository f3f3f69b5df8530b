/**
 * Fairness, with numbers: a well-behaved agent (127.0.0.10, 50 queries/s over
 * UDP or 20/s over TCP, a connection per query) keeps its answers while
 * another source attacks the proxy. Each scenario measures the agent alone,
 * then under the attack, prints both, and asserts a generous floor: at least
 * 95% answered within 1 s, p99 under 200 ms.
 *
 * The proxy runs as its own process (its own event loop, stdout to a file)
 * and the agent in a worker thread, so neither measures the other's work.
 * The floods come from other loopback addresses: dnsperf for UDP, many
 * connections from 127.0.1.0/24 for TCP. Every scenario ends within 10 s.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeApprovalService } from '../helpers/approval-service.js';
import { startAuthority, type Authority, type Zone } from '../helpers/authority.js';
import { dnsperf, formatFigures, holdTcpSlots, measureAgent, type AgentFigures, type AgentLoad } from '../helpers/load.js';
import { metricValue, startProxyProcess, type ProxyProcess } from '../helpers/proxy-process.js';
import { delay } from '../helpers/wait-for.js';

const GOOD = '127.0.0.10';
const NOISY = '127.0.0.20';
const STRANGER = '127.0.0.66';
/** 33 unknown hosts, as in the report: 33 × 32 connections is more than the 1000 TCP slots. */
const TCP_STRANGERS = Array.from({ length: 33 }, (_, i) => `127.0.1.${i + 1}`);

const GOOD_NAMES = Array.from({ length: 10 }, (_, i) => `good-${i}.example.org`);
const ZONE: Zone = Object.fromEntries([
  ...GOOD_NAMES.map((n, i) => [n, [{ type: 'A', data: `198.51.100.${i + 1}` }]]),
  ['flood.example.org', [{ type: 'A', data: '198.51.100.99' }]],
]);

/**
 * What "keeps its answers" means here, generous on purpose: the test must not fail for a GC pause
 * on a shared 2-core machine (p99 of 200 samples is the second-worst answer), and it still fails
 * by far for the attacks as they were (45% answered, p50 688 ms, p99 1 s; or 0% over TCP).
 */
const FLOOR = { ratio: 0.95, p50Ms: 50, p99Ms: 500 };

let authority: Authority;
let proxy: ProxyProcess | null = null;
let service: FakeApprovalService | null = null;
const scratch = mkdtempSync(join(tmpdir(), 'intentdns-fairness-'));
const report: string[] = [];

beforeAll(async () => {
  authority = await startAuthority({ zone: ZONE });
});
afterEach(async () => {
  await proxy?.stop();
  proxy = null;
  await service?.close();
  service = null;
});
afterAll(async () => {
  await authority.stop();
  rmSync(scratch, { recursive: true, force: true });
  // One summary at the end, for the record (and the before/after table).
  console.log(`fairness figures (good agent ${GOOD}):\n${report.join('\n')}`);
});

/** The good agent has role coding; the noisy one `noisyRole` (coding unless the scenario says). */
function config(opts: { more?: string; noisyRole?: string } = {}): string {
  return `
    version: 1
    listen: { dns: ["127.0.0.1:DNS_PORT"], http: "127.0.0.1:HTTP_PORT" }
    upstreams: { servers: UPSTREAMS, timeout: 500ms }
    answers: { block_private: false }
    clients:
      - { name: good, match: ["${GOOD}/32"], role: coding }
      - { name: noisy, match: ["${NOISY}/32"], role: ${opts.noisyRole ?? 'coding'} }
    roles:
      coding: { allow: ["*.example.org"] }
      explorer: { unlisted: hold }
    ${opts.more ?? ''}
  `;
}

async function start(yaml: string): Promise<ProxyProcess> {
  proxy = await startProxyProcess({ yaml, upstreams: [authority.hostPort.text] });
  return proxy;
}

function agent(p: ProxyProcess, transport: 'udp' | 'tcp', durationMs: number): AgentLoad {
  return { target: p.target, from: GOOD, transport, qps: transport === 'udp' ? 50 : 20, durationMs, names: GOOD_NAMES };
}

function record(scenario: string, alone: AgentFigures, attacked: AgentFigures, attack: string): void {
  const text = `  ${scenario}\n    alone:  ${formatFigures(alone)}\n    attack: ${formatFigures(attacked)}  [${attack}]`;
  report.push(text);
  console.log(text);
}

/** Datagrams the kernel dropped for full receive buffers, IPv4 and IPv6, host-wide. */
function rcvbufErrors(metrics: string): number {
  return metricValue(metrics, 'intentdns_kernel_udp_receive_errors_total', { kind: 'rcvbuf' });
}

function expectFloor(figures: AgentFigures): void {
  expect(figures.ratio, formatFigures(figures)).toBeGreaterThanOrEqual(FLOOR.ratio);
  expect(figures.p50Ms, formatFigures(figures)).toBeLessThan(FLOOR.p50Ms);
  expect(figures.p99Ms, formatFigures(figures)).toBeLessThan(FLOOR.p99Ms);
}

describe('fairness: a good agent keeps its answers', () => {
  it('while an unknown source floods UDP (dnsperf, 20k queries/s)', async () => {
    const p = await start(config());
    const alone = await measureAgent(agent(p, 'udp', 1500));
    const kernelBefore = rcvbufErrors(await p.metrics());
    const flood = dnsperf({ target: p.target, from: STRANGER, qps: 20_000, seconds: 5, names: ['flood.example.org'], dataFile: join(scratch, 'stranger.txt') });
    await delay(500);
    const attacked = await measureAgent(agent(p, 'udp', 4000));
    const run = await flood;
    const metrics = await p.metrics();
    const strangerLines = p.lines(`"${STRANGER}"`).filter((l) => l.client === STRANGER);
    record('UDP flood from an unknown source', alone, attacked,
      `dnsperf sent ${run.sent}; ${strangerLines.length} log lines for it; log ${(p.logBytes() / 1024).toFixed(0)} KiB; `
      + `kernel rcvbuf drops +${rcvbufErrors(metrics) - kernelBefore} (host-wide)`);
    expectFloor(attacked);
    // Strangers get 20 queries/s (burst 40): the rest is dropped and counted, not answered.
    const dropped = metricValue(metrics, 'intentdns_queries_total', { action: 'drop', reason: 'rate_limit' });
    expect(dropped).toBeGreaterThan(run.sent / 2);
    // One line per source per 10 s, carrying the count; the first one at once.
    expect(strangerLines.length).toBeLessThanOrEqual(2);
    expect(strangerLines[0]).toMatchObject({ limited: 1 });
    expect(metrics).toMatch(/^intentdns_kernel_udp_receive_errors_total\{/m);
  }, 15_000);

  it('while another agent floods UDP past its client_qps', async () => {
    const p = await start(config({ more: 'limits: { client_qps: 200 }' }));
    const alone = await measureAgent(agent(p, 'udp', 1500));
    const kernelBefore = rcvbufErrors(await p.metrics());
    const flood = dnsperf({ target: p.target, from: NOISY, qps: 20_000, seconds: 5, names: GOOD_NAMES, dataFile: join(scratch, 'noisy.txt') });
    await delay(500);
    const attacked = await measureAgent(agent(p, 'udp', 4000));
    const run = await flood;
    const metrics = await p.metrics();
    const noisyLines = p.lines('rate_limit').filter((l) => l.client === NOISY && l.reason === 'rate_limit');
    record('UDP flood from another agent (client_qps 200)', alone, attacked,
      `dnsperf sent ${run.sent}; ${noisyLines.length} rate_limit log lines for it; log ${(p.logBytes() / 1024).toFixed(0)} KiB; `
      + `kernel rcvbuf drops +${rcvbufErrors(metrics) - kernelBefore} (host-wide)`);
    expectFloor(attacked);
    expect(metricValue(metrics, 'intentdns_queries_total', { role: 'coding', action: 'drop', reason: 'rate_limit' })).toBeGreaterThan(run.sent / 2);
    expect(noisyLines.length).toBeLessThanOrEqual(2);
  }, 15_000);

  it('over TCP while 33 unknown hosts try to hold 32 connections each', async () => {
    const p = await start(config());
    const alone = await measureAgent(agent(p, 'tcp', 1500));
    const holders = holdTcpSlots({ target: p.target, sources: TCP_STRANGERS, perSource: 32, mode: 'query', everyMs: 2000 });
    try {
      await delay(1500);
      const attacked = await measureAgent(agent(p, 'tcp', 3000));
      record('TCP slots held by 33 unknown hosts × 32 connections', alone, attacked, `${holders.opened()} attacker connections opened`);
      expectFloor(attacked);
    } finally {
      await holders.stop();
    }
  }, 15_000);

  it('over TCP while 33 unknown hosts drip bytes on 32 connections each', async () => {
    const p = await start(config());
    const alone = await measureAgent(agent(p, 'tcp', 1500));
    const holders = holdTcpSlots({ target: p.target, sources: TCP_STRANGERS, perSource: 32, mode: 'drip', everyMs: 300 });
    try {
      await delay(1500);
      const attacked = await measureAgent(agent(p, 'tcp', 3000));
      record('TCP slots held by 33 unknown hosts dripping bytes', alone, attacked, `${holders.opened()} attacker connections opened`);
      expectFloor(attacked);
    } finally {
      await holders.stop();
    }
  }, 15_000);

  it('while another agent floods holds (every name unlisted, nobody decides)', async () => {
    service = await FakeApprovalService.start({ token: 'fairness-token' });
    const tokenFile = join(scratch, 'approval-token');
    writeFileSync(tokenFile, 'fairness-token\n');
    const p = await start(config({
      noisyRole: 'explorer',
      more: `approval: { url: "${service.url}", token_file: "${tokenFile}", hold_timeout: 1s, max_pending_holds: 1000 }`,
    }));
    const s = service;
    for (let i = 0; i < 100 && s.openStreams === 0; i++) await delay(20);
    const alone = await measureAgent(agent(p, 'udp', 1500));
    const names = Array.from({ length: 20_000 }, (_, i) => `n${i}.unlisted.test`);
    const flood = dnsperf({ target: p.target, from: NOISY, qps: 2000, seconds: 5, names, dataFile: join(scratch, 'holds.txt') });
    await delay(500);
    const attacked = await measureAgent(agent(p, 'udp', 4000));
    const run = await flood;
    record('hold flood from another agent (2000 unlisted names/s)', alone, attacked, `dnsperf sent ${run.sent}; ${s.holds.length} hold POSTs`);
    expectFloor(attacked);
  }, 15_000);
});
