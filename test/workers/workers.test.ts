/**
 * listen.workers end to end (spec product.md "Scale: workers and replicas
 * behave as one proxy"): `node dist/main.js serve` with two workers, a real
 * test authority, the fake approval service, queries from many source ports
 * (each a fresh socket, as a stub's retry is). Every load loop is bounded in
 * count and time; the only processes signalled are the ones spawned here.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSocket, type Socket } from 'node:dgram';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { FakeApprovalService } from '../helpers/approval-service.js';
import { startAuthority, type Authority, type Zone } from '../helpers/authority.js';
import { tcpExchange, udpExchange } from '../helpers/client.js';
import { decodePacket, queryBytes, type DecodedPacket } from '../helpers/packets.js';
import { addresses } from '../helpers/proxy.js';
import { spawnServe, type LogLine, type Ports, type ServeProcess } from '../helpers/serve-process.js';
import { waitFor } from '../helpers/wait-for.js';

const TOKEN = 'workers-approval-token';
const ZONE: Zone = {
  'github.com': [{ type: 'A', data: '140.82.121.3', ttl: 300 }],
  'api.example.com': [{ type: 'A', data: '192.0.2.10', ttl: 300 }],
  'held.example.com': [{ type: 'A', data: '198.51.100.7', ttl: 300 }],
  'later.example.com': [{ type: 'A', data: '198.51.100.9', ttl: 300 }],
};

let dir: string;
let authority: Authority | null = null;
let service: FakeApprovalService | null = null;
let proc: ServeProcess | null = null;
let blockers: Socket[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'intentdns-workers-'));
  writeFileSync(join(dir, 'approval-token'), `${TOKEN}\n`);
});

afterEach(async () => {
  await proc?.kill();
  proc = null;
  // The workers are the spawned process's children: a SIGKILLed primary leaves them to notice the disconnect.
  await service?.close();
  service = null;
  await authority?.stop();
  authority = null;
  for (const b of blockers) b.close();
  blockers = [];
  rmSync(dir, { recursive: true, force: true });
});

interface Running {
  readonly proc: ServeProcess;
  readonly ports: Ports;
  readonly file: string;
  /** Writes the config again with `role` for the coding role (and extra listen.dns addresses). */
  rewrite(role: string, extraDns?: readonly string[]): void;
}

const CODING = '{ allow: [github.com], unlisted: sinkhole }';

async function startWorkers(opts: { role?: string; approval?: boolean; queries?: 'all' | 'none' } = {}): Promise<Running> {
  authority ??= await startAuthority({ zone: ZONE });
  if (opts.approval) service ??= await FakeApprovalService.start({ token: TOKEN, pingIntervalMs: 1000 });
  const file = join(dir, 'workers.yaml');
  let ports: Ports | null = null;
  const write = (p: Ports, role: string, extraDns: readonly string[] = []): string => {
    writeFileSync(file, [
      'version: 1',
      `listen: { dns: [${['127.0.0.1:' + p.dns, ...extraDns].map((a) => `"${a}"`).join(', ')}], http: "127.0.0.1:${p.http}", workers: 2 }`,
      `upstreams: { servers: ["${authority!.hostPort.text}"], timeout: 500ms }`,
      'answers: { max_ttl: 60s, block_private: false }',
      'sinkhole: { response: nxdomain, ttl: 5s }',
      'clients:',
      '  - { name: ci-1, match: ["127.0.0.1/32"], role: coding }',
      'roles:',
      `  coding: ${role}`,
      ...(opts.approval
        ? [`approval: { url: "${service!.url}", token_file: "${join(dir, 'approval-token')}", grant_ttl: 10m, hold_timeout: 4s, on_hold_timeout: sinkhole, on_link_down: sinkhole }`]
        : []),
      `log: { level: info, queries: ${opts.queries ?? 'all'} }`,
      '',
    ].join('\n'));
    return file;
  };
  const role = opts.role ?? CODING;
  const started = await spawnServe((p) => {
    ports = p;
    return write(p, role);
  }, 20_000);
  proc = started.proc;
  if (opts.approval) await proc.waitForLine((l) => l.msg === 'approval link up', 'approval link up', 10_000);
  return { proc: started.proc, ports: started.ports, file, rewrite: (r, extra) => void write(ports!, r, extra) };
}

/** One query from a fresh socket (a new source port). */
async function ask(r: Running, name: string, transport: 'udp' | 'tcp' = 'udp', id = 1, timeoutMs = 3000): Promise<DecodedPacket> {
  const target = { host: '127.0.0.1', port: r.ports.dns };
  const bytes = queryBytes({ name, type: 'A', id });
  const raw = transport === 'udp' ? await udpExchange(target, bytes, { timeoutMs }) : await tcpExchange(target, bytes, { timeoutMs });
  if (raw === null) throw new Error(`no answer for ${name} over ${transport}`);
  return decodePacket(raw);
}

/** `count` queries, `parallel` at a time, each from its own socket. */
async function askMany(r: Running, name: string, count: number, parallel = 20, transport: 'udp' | 'tcp' = 'udp'): Promise<DecodedPacket[]> {
  const out: DecodedPacket[] = [];
  for (let i = 0; i < count; i += parallel) {
    const batch = Array.from({ length: Math.min(parallel, count - i) }, (_, j) => ask(r, name, transport, (i + j) % 65_536));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

async function http(r: Running, path: string, init?: RequestInit): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${r.ports.http}${path}`, init);
  return { status: res.status, body: await res.text() };
}

/** Sum of every series of a metric in one /metrics scrape. */
function total(scrape: string, name: string): number {
  let sum = 0;
  for (const line of scrape.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

function promtool(scrape: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile('promtool', ['check', 'metrics'], { timeout: 10_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, out: stdout + stderr });
    });
    child.stdin?.end(scrape);
  });
}

/** The workers' pids as the primary logged them ("worker listening"), latest per index. */
function workerPids(p: ServeProcess): Map<number, number> {
  const pids = new Map<number, number>();
  for (const l of p.lines) if (l.msg === 'worker listening') pids.set(l.worker as number, l.pid as number);
  return pids;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const decisions = (p: ServeProcess, qname: string): LogLine[] => p.lines.filter((l) => l.msg === 'query' && l.qname === qname);

describe('listen.workers: 2', () => {
  it('both workers answer queries from many source ports, over UDP and TCP; /metrics sums them to what was sent, promtool-clean', async () => {
    const r = await startWorkers();
    expect(workerPids(r.proc).size).toBe(2);
    const udp = await askMany(r, 'github.com', 300, 30);
    const tcp = await askMany(r, 'github.com', 40, 10, 'tcp');
    const blocked = await askMany(r, 'blocked.example.com', 60, 20);
    for (const p of [...udp, ...tcp]) expect(addresses(p)).toEqual(['140.82.121.3']);
    for (const p of blocked) expect(p.rcode).toBe('NXDOMAIN');

    await waitFor(() => decisions(r.proc, 'blocked.example.com').length === 60, { what: 'every decision line', timeoutMs: 5000 });
    const byWorker = new Map<number, number>();
    for (const l of r.proc.lines) if (l.msg === 'query') byWorker.set(l.worker as number, (byWorker.get(l.worker as number) ?? 0) + 1);
    console.log(`queries per worker (300 UDP + 40 TCP + 60 UDP, fresh source port each): ${JSON.stringify(Object.fromEntries(byWorker))}`);
    // Both served: the kernel wakes whichever worker waits on the shared socket.
    expect([...byWorker.keys()].sort()).toEqual([0, 1]);

    const scrape = (await http(r, '/metrics')).body;
    expect(total(scrape, 'intentdns_queries_total')).toBe(400);
    expect(total(scrape, 'intentdns_workers')).toBe(2);
    expect(scrape).toMatch(/^intentdns_build_info\{[^}]*\} 1$/m);
    expect(scrape).toMatch(/^process_cpu_user_seconds_total\{worker="0"\} /m);
    expect(scrape).toMatch(/^process_cpu_user_seconds_total\{worker="1"\} /m);
    expect(scrape).toMatch(/^process_cpu_user_seconds_total\{worker="primary"\} /m);
    const checked = await promtool(scrape);
    expect(checked.out).toBe('');
    expect(checked.code).toBe(0);
  }, 60_000);

  it('a grant arrives once; once /v1/grants lists it, no query for the name from any source port is sinkholed', async () => {
    const r = await startWorkers({ approval: true });
    expect((await ask(r, 'api.example.com')).rcode).toBe('NXDOMAIN');
    service!.send('command.approved', {
      id: 'cmd_1', agent: 'ci-1', approved_by: 'alice', approved_at: new Date().toISOString(), risk_score: 0.1,
      command: 'curl https://api.example.com/', domains: ['api.example.com'],
    });
    await waitFor(async () => JSON.parse((await http(r, '/v1/grants')).body).grants.some((g: { id: string }) => g.id === 'cmd_1'), { what: 'grant listed', timeoutMs: 5000, intervalMs: 5 });
    const after = await askMany(r, 'api.example.com', 200, 25);
    expect(after.filter((p) => p.rcode !== 'NOERROR')).toEqual([]);
    const lines = decisions(r.proc, 'api.example.com').filter((l) => l.reason === 'grant');
    expect(new Set(lines.map((l) => l.worker))).toEqual(new Set([0, 1]));
    expect(r.proc.lines.filter((l) => l.msg === 'grant added' && l.command_id === 'cmd_1')).toHaveLength(1);
  }, 60_000);

  it('a hold opened in one worker is posted once; retries from other ports join it in either worker; one decision answers all', async () => {
    const r = await startWorkers({ approval: true, role: '{ allow: [github.com], unlisted: hold }' });
    const first = ask(r, 'held.example.com', 'udp', 1, 8000);
    await waitFor(() => service!.holds.length === 1, { what: 'the hold POST', timeoutMs: 5000 });
    // The stub's retries: new sockets, so the kernel hands them to either worker.
    const retries = Array.from({ length: 12 }, (_, i) => ask(r, 'held.example.com', 'udp', 100 + i, 8000));
    // Let the retries reach the workers and join the hold before it is decided.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const holdId = (service!.holds[0]!.body as { hold_id: string }).hold_id;
    service!.decide(holdId, 'allow', { ttl_seconds: 120 });
    const answers = await Promise.all([first, ...retries]);
    for (const p of answers) expect(addresses(p)).toEqual(['198.51.100.7']);
    expect(service!.holds.filter((h) => (h.body as { qname: string }).qname === 'held.example.com')).toHaveLength(1);
    const lines = await waitFor(() => {
      const d = decisions(r.proc, 'held.example.com');
      return d.length === 13 ? d : undefined;
    }, { what: '13 decision lines', timeoutMs: 5000 });
    for (const l of lines) expect(l).toMatchObject({ action: 'hold', reason: 'hold_approved', hold_id: holdId });
    console.log(`held query and retries answered per worker: ${JSON.stringify(countBy(lines, (l) => String(l.worker)))}`);
    expect(new Set(lines.map((l) => l.worker))).toEqual(new Set([0, 1]));
  }, 60_000);

  it('a reload that fails in a worker (a listen.dns address it cannot bind) changes no worker; a good one reaches both', async () => {
    const r = await startWorkers();
    const blocker = createSocket('udp4');
    blockers.push(blocker);
    await new Promise<void>((resolve) => blocker.bind(0, '127.0.0.1', () => resolve()));
    const taken = `127.0.0.1:${blocker.address().port}`;
    // The new policy would allow later.example.com; the taken address makes every worker's prepare fail.
    r.rewrite('{ allow: [github.com, later.example.com], unlisted: sinkhole }', [taken]);
    r.proc.signal('SIGHUP');
    const failed = await r.proc.waitForLine((l) => l.msg === 'config reload failed; keeping the running config', 'reload failed', 10_000);
    expect(JSON.stringify(failed.errors)).toMatch(/worker \d: cannot listen on 127\.0\.0\.1:\d+/);
    for (const p of await askMany(r, 'later.example.com', 80, 20)) expect(p.rcode).toBe('NXDOMAIN');
    const scrape = (await http(r, '/metrics')).body;
    expect(scrape).toMatch(/^intentdns_config_reloads_total\{result="failure"\} 1$/m);

    r.rewrite('{ allow: [github.com, later.example.com], unlisted: sinkhole }');
    r.proc.signal('SIGHUP');
    await r.proc.waitForLine((l) => l.msg === 'config reloaded', 'reload applied', 10_000);
    const after = await askMany(r, 'later.example.com', 80, 20);
    for (const p of after) expect(addresses(p)).toEqual(['198.51.100.9']);
    expect(new Set(decisions(r.proc, 'later.example.com').filter((l) => l.action === 'forward').map((l) => l.worker))).toEqual(new Set([0, 1]));
  }, 60_000);

  it('a worker killed with SIGKILL is replaced and counted; the proxy keeps answering meanwhile', async () => {
    const r = await startWorkers({ queries: 'none' });
    const before = workerPids(r.proc);
    const victim = before.get(1)!;
    process.kill(victim, 'SIGKILL');
    // Queries during the replacement: the other worker still reads the shared socket.
    const during = await askMany(r, 'github.com', 60, 10);
    for (const p of during) expect(addresses(p)).toEqual(['140.82.121.3']);
    await r.proc.waitForLine((l) => l.msg === 'worker exited unexpectedly; replacing it' && l.pid === victim, 'exit logged', 5000);
    await waitFor(() => (workerPids(r.proc).get(1) !== victim ? true : undefined), { what: 'a new worker 1', timeoutMs: 10_000 });
    expect(alive(victim)).toBe(false);
    await waitFor(async () => (await http(r, '/readyz')).status === 200, { what: 'ready again', timeoutMs: 5000 });
    const scrape = (await http(r, '/metrics')).body;
    expect(scrape).toMatch(/^intentdns_worker_restarts_total 1$/m);
    expect(scrape).toMatch(/^intentdns_workers 2$/m);
    for (const p of await askMany(r, 'github.com', 60, 20)) expect(addresses(p)).toEqual(['140.82.121.3']);
  }, 60_000);

  it('SIGTERM: exits 0, and every worker is gone', async () => {
    const r = await startWorkers({ queries: 'none' });
    const pids = [...workerPids(r.proc).values()];
    expect(pids).toHaveLength(2);
    expect((await http(r, '/readyz')).status).toBe(200);
    r.proc.signal('SIGTERM');
    expect(await r.proc.exited).toEqual({ code: 0, signal: null });
    for (const pid of pids) expect(alive(pid)).toBe(false);
  }, 30_000);

  it('under logging load, every stdout line of the primary and both workers is whole JSON', async () => {
    const r = await startWorkers();
    // Long names make long lines, so the 64 KiB batches of one writer would be cut into by the other's.
    const names = Array.from({ length: 20 }, (_, i) => `${'x'.repeat(50)}.${'y'.repeat(50)}.${i}.long-name-for-log-lines.example.com`);
    const started = performance.now();
    let sent = 0;
    while (sent < 1500 && performance.now() - started < 20_000) {
      await Promise.all(names.map((n, i) => ask(r, n, 'udp', sent + i)));
      sent += names.length;
    }
    await waitFor(() => r.proc.lines.filter((l) => l.msg === 'query').length >= sent ? true : undefined, { what: 'every decision line', timeoutMs: 10_000 });
    expect(r.proc.lines.filter((l) => 'raw' in l)).toEqual([]);
    expect(new Set(r.proc.lines.filter((l) => l.msg === 'query').map((l) => l.worker))).toEqual(new Set([0, 1]));
  }, 60_000);
});

function countBy<T>(items: readonly T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}
