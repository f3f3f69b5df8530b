/**
 * listen.workers end to end (spec product.md "Scale: workers and replicas
 * behave as one proxy"): `node dist/main.js serve` with two workers, a real
 * test authority, the fake approval service, queries from many source ports
 * (each a fresh socket, as a stub's retry is). Every load loop is bounded in
 * count and time; the only processes signalled are the ones spawned here.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSocket, type Socket } from 'node:dgram';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { FakeApprovalService } from '../helpers/approval-service.js';
import { startAuthority, type Authority, type Zone } from '../helpers/authority.js';
import { tcpExchange, udpExchange } from '../helpers/client.js';
import { decodePacket, queryBytes, type DecodedPacket } from '../helpers/packets.js';
import { addresses } from '../helpers/proxy.js';
import { ensureBuilt, freePorts, spawnServe, spawnServeOnce, type LogLine, type Ports, type ServeProcess } from '../helpers/serve-process.js';
import { subscribeDecisions } from '../helpers/sse-client.js';
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

/**
 * `askMany` in rounds until `seen()` names both workers: the kernel wakes whichever worker waits,
 * so a short run may land on one. Bounded: at most `rounds` rounds.
 */
async function askUntilBoth(r: Running, name: string, count: number, seen: () => Iterable<unknown>, rounds = 10): Promise<DecodedPacket[]> {
  const out: DecodedPacket[] = [];
  for (let round = 0; round < rounds; round++) {
    out.push(...(await askMany(r, name, count, 20)));
    // Decision lines leave in batches of up to 5 ms.
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (new Set(seen()).size >= 2) return out;
  }
  throw new Error(`after ${rounds * count} queries for ${name}, only one worker answered`);
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
    const udp = await askUntilBoth(r, 'github.com', 300, () => decisions(r.proc, 'github.com').map((l) => l.worker));
    const tcp = await askMany(r, 'github.com', 40, 10, 'tcp');
    const blocked = await askMany(r, 'blocked.example.com', 60, 20);
    for (const p of [...udp, ...tcp]) expect(addresses(p)).toEqual(['140.82.121.3']);
    for (const p of blocked) expect(p.rcode).toBe('NXDOMAIN');

    const sent = udp.length + tcp.length + blocked.length;
    await waitFor(() => decisions(r.proc, 'blocked.example.com').length === 60, { what: 'every decision line', timeoutMs: 5000 });
    const byWorker = new Map<number, number>();
    for (const l of r.proc.lines) if (l.msg === 'query') byWorker.set(l.worker as number, (byWorker.get(l.worker as number) ?? 0) + 1);
    console.log(`queries per worker (${udp.length} UDP + 40 TCP + 60 UDP, fresh source port each): ${JSON.stringify(Object.fromEntries(byWorker))}`);

    const scrape = (await http(r, '/metrics')).body;
    expect(total(scrape, 'intentdns_queries_total')).toBe(sent);
    expect(total(scrape, 'intentdns_workers')).toBe(2);
    expect(scrape).toMatch(/^intentdns_build_info\{[^}]*\} 1$/m);
    expect(scrape).toMatch(/^process_cpu_user_seconds_total\{worker="0"\} /m);
    expect(scrape).toMatch(/^process_cpu_user_seconds_total\{worker="1"\} /m);
    expect(scrape).toMatch(/^process_cpu_user_seconds_total\{worker="primary"\} /m);
    const checked = await promtool(scrape);
    expect(checked.out).toBe('');
    expect(checked.code).toBe(0);

    // The console's top counts are the workers' merged: every query, whichever worker answered it.
    const top = JSON.parse((await http(r, '/v1/top')).body) as { queries: number; blocked: number; top_blocked: Array<{ name: string; count: number }>; top_agents: Array<{ agent: string; count: number }> };
    expect(top.queries).toBe(sent);
    expect(top.blocked).toBe(60);
    expect(top.top_blocked[0]).toMatchObject({ name: 'blocked.example.com', count: 60 });
    expect(top.top_agents).toEqual([{ agent: 'ci-1', count: sent }]);
  }, 60_000);

  it('a grant arrives once; once /v1/grants lists it, no query for the name from any source port is sinkholed', async () => {
    const r = await startWorkers({ approval: true });
    expect((await ask(r, 'api.example.com')).rcode).toBe('NXDOMAIN');
    service!.send('command.approved', {
      id: 'cmd_1', agent: 'ci-1', approved_by: 'alice', approved_at: new Date().toISOString(), risk_score: 0.1,
      command: 'curl https://api.example.com/', domains: ['api.example.com'],
    });
    await waitFor(async () => JSON.parse((await http(r, '/v1/grants')).body).grants.some((g: { id: string }) => g.id === 'cmd_1'), { what: 'grant listed', timeoutMs: 5000, intervalMs: 5 });
    const granted = (): LogLine[] => decisions(r.proc, 'api.example.com').filter((l) => l.reason === 'grant');
    const after = await askUntilBoth(r, 'api.example.com', 100, () => granted().map((l) => l.worker));
    expect(after.filter((p) => p.rcode !== 'NOERROR')).toEqual([]);
    expect(new Set(granted().map((l) => l.worker))).toEqual(new Set([0, 1]));
    expect(r.proc.lines.filter((l) => l.msg === 'grant added' && l.command_id === 'cmd_1')).toHaveLength(1);
  }, 60_000);

  it('a hold opened in one worker is posted once; its retries, in the other worker, join it; one decision answers all', async () => {
    const r = await startWorkers({ approval: true, role: '{ allow: [github.com], unlisted: hold }' });
    const pids = workerPids(r.proc);
    // Steering by stopping: a stopped worker does not read the shared socket, so the other gets every datagram.
    process.kill(pids.get(1)!, 'SIGSTOP');
    let first: Promise<DecodedPacket>;
    let retries: Array<Promise<DecodedPacket>>;
    try {
      first = ask(r, 'held.example.com', 'udp', 1, 8000);
      await waitFor(() => service!.holds.length === 1, { what: 'the hold POST', timeoutMs: 5000 });
    } finally {
      process.kill(pids.get(1)!, 'SIGCONT');
    }
    process.kill(pids.get(0)!, 'SIGSTOP');
    try {
      // The stub's retries, from new source ports: worker 1 holds them, on the primary's hold.
      retries = Array.from({ length: 5 }, (_, i) => ask(r, 'held.example.com', 'udp', 100 + i, 8000));
      await waitFor(async () => (JSON.parse((await http(r, '/v1/holds')).body).holds[0]?.waiting === 6 ? true : undefined), { what: 'six waiting on one hold', timeoutMs: 5000 });
    } finally {
      // Before the decision: the grant it makes is acknowledged by every worker, worker 0 too.
      process.kill(pids.get(0)!, 'SIGCONT');
    }
    const holdId = (service!.holds[0]!.body as { hold_id: string }).hold_id;
    service!.decide(holdId, 'allow', { ttl_seconds: 120 });
    const answers = await Promise.all([first, ...retries]);
    for (const p of answers) expect(addresses(p)).toEqual(['198.51.100.7']);
    expect(service!.holds.filter((h) => (h.body as { qname: string }).qname === 'held.example.com')).toHaveLength(1);
    const lines = await waitFor(() => {
      const d = decisions(r.proc, 'held.example.com');
      return d.length === 6 ? d : undefined;
    }, { what: '6 decision lines', timeoutMs: 5000 });
    for (const l of lines) expect(l).toMatchObject({ action: 'hold', reason: 'hold_approved', hold_id: holdId });
    expect(countBy(lines, (l) => String(l.worker))).toEqual({ 0: 1, 1: 5 });
    expect(r.proc.lines.filter((l) => l.msg === 'worker exited unexpectedly; replacing it')).toEqual([]);
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
    const sinkholed = (): unknown[] => decisions(r.proc, 'later.example.com').map((l) => l.worker);
    for (const p of await askUntilBoth(r, 'later.example.com', 80, sinkholed)) expect(p.rcode).toBe('NXDOMAIN');
    const scrape = (await http(r, '/metrics')).body;
    expect(scrape).toMatch(/^intentdns_config_reloads_total\{result="failure"\} 1$/m);

    r.rewrite('{ allow: [github.com, later.example.com], unlisted: sinkhole }');
    r.proc.signal('SIGHUP');
    await r.proc.waitForLine((l) => l.msg === 'config reloaded', 'reload applied', 10_000);
    const forwarded = (): unknown[] => decisions(r.proc, 'later.example.com').filter((l) => l.action === 'forward').map((l) => l.worker);
    const after = await askUntilBoth(r, 'later.example.com', 80, forwarded);
    for (const p of after) expect(addresses(p)).toEqual(['198.51.100.9']);
  }, 60_000);

  it('a worker killed with SIGKILL is replaced and counted; the proxy keeps answering meanwhile', async () => {
    const r = await startWorkers({ queries: 'none' });
    const before = workerPids(r.proc);
    const victim = before.get(1)!;
    process.kill(victim, 'SIGKILL');
    // Not ready while a worker is missing: the exit is seen at once, the replacement takes a few hundred ms to bind.
    await waitFor(async () => ((await http(r, '/readyz')).status === 503 ? true : undefined), { what: '/readyz 503 while replacing', timeoutMs: 2000, intervalMs: 5 });
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

  it('a reload while a worker is being replaced: the replacement starts from the new config, and both serve it', async () => {
    const r = await startWorkers();
    const victim = workerPids(r.proc).get(1)!;
    process.kill(victim, 'SIGKILL');
    r.rewrite('{ allow: [github.com, later.example.com], unlisted: sinkhole }');
    r.proc.signal('SIGHUP');
    await r.proc.waitForLine((l) => l.msg === 'config reloaded', 'reload applied', 10_000);
    await waitFor(() => (workerPids(r.proc).get(1) !== victim ? true : undefined), { what: 'a new worker 1', timeoutMs: 10_000 });
    await waitFor(async () => (await http(r, '/readyz')).status === 200, { what: 'ready again', timeoutMs: 5000 });
    const forwarded = (): unknown[] => decisions(r.proc, 'later.example.com').filter((l) => l.action === 'forward').map((l) => l.worker);
    for (const p of await askUntilBoth(r, 'later.example.com', 60, forwarded)) expect(addresses(p)).toEqual(['198.51.100.9']);
    expect(decisions(r.proc, 'later.example.com').filter((l) => l.action !== 'forward')).toEqual([]);
  }, 60_000);

  it('a start that a worker cannot make (listen.dns taken) exits 1 with the reason, and leaves no worker behind', async () => {
    const blocker = createSocket('udp4');
    blockers.push(blocker);
    await new Promise<void>((resolve) => blocker.bind(0, '127.0.0.1', () => resolve()));
    const ports = await freePorts();
    const file = join(dir, 'taken.yaml');
    writeFileSync(file, [
      'version: 1',
      `listen: { dns: ["127.0.0.1:${blocker.address().port}"], http: "127.0.0.1:${ports.http}", workers: 2 }`,
      'upstreams: { servers: ["127.0.0.1:53"] }',
      'clients: [{ name: ci-1, match: ["127.0.0.1/32"], role: coding }]',
      'roles: { coding: { allow: [github.com] } }',
      '',
    ].join('\n'));
    proc = await spawnServeOnce(file);
    expect(await proc.exited).toEqual({ code: 1, signal: null });
    expect(proc.stderr()).toMatch(/cannot listen on 127\.0\.0\.1:\d+ \(udp\): EADDRINUSE \(another process listens on/);
    expect(proc.lines.find((l) => l.msg === 'not starting')).toMatchObject({ code: 'EADDRINUSE', hint: expect.stringContaining('listen.dns') });
    const pids = proc.lines.filter((l) => l.msg === 'worker could not start').map((l) => l.pid as number);
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(proc.lines.filter((l) => l.msg === 'worker exited unexpectedly; replacing it')).toEqual([]);
  }, 30_000);

  it('SIGTERM: exits 0, and every worker is gone', async () => {
    const r = await startWorkers({ queries: 'none' });
    const pids = [...workerPids(r.proc).values()];
    expect(pids).toHaveLength(2);
    expect((await http(r, '/readyz')).status).toBe(200);
    r.proc.signal('SIGTERM');
    expect(await r.proc.exited).toEqual({ code: 0, signal: null });
    for (const pid of pids) expect(alive(pid)).toBe(false);
  }, 30_000);

  it('a quarantine POSTed to the primary is answered once every worker has it: no query from any port gets through after the 200', async () => {
    const r = await startWorkers();
    const res = await http(r, '/v1/agents/ci-1/quarantine', { method: 'POST' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ agent: 'ci-1', known: true, quarantined: true });
    const after = await askUntilBoth(r, 'github.com', 100, () => decisions(r.proc, 'github.com').map((l) => l.worker));
    expect(after.filter((p) => addresses(p).length > 0)).toEqual([]);
    const lines = await waitFor(() => {
      const d = decisions(r.proc, 'github.com');
      return d.length === after.length ? d : undefined;
    }, { what: 'a decision line per query', timeoutMs: 5000 });
    for (const l of lines) expect(l).toMatchObject({ agent: 'ci-1', reason: 'quarantine' });
    expect(JSON.parse((await http(r, '/v1/quarantine')).body)).toMatchObject({ agents: ['ci-1'] });
  }, 60_000);

  it('GET /v1/decisions on the primary streams the decisions of both workers while subscribed', async () => {
    const r = await startWorkers({ queries: 'none' });
    const sub = await subscribeDecisions(r.ports.http);
    try {
      expect(sub.status).toBe(200);
      // The workers hear within 200 ms that someone subscribes.
      await new Promise((resolve) => setTimeout(resolve, 400));
      const asked = await askUntilBoth(r, 'blocked.example.com', 60, () => sub.decisions().map((e) => e.worker));
      const events = await sub.waitForDecisions(asked.length, 5000);
      expect(events.filter((e) => e.qname === 'blocked.example.com')).toHaveLength(asked.length);
    } finally {
      sub.close();
    }
  }, 60_000);

  it('SIGTERM while a query is held: it gets its on_hold_timeout answer at once, and the proxy exits 0', async () => {
    const r = await startWorkers({ approval: true, role: '{ allow: [github.com], unlisted: hold }' });
    const held = ask(r, 'held.example.com', 'udp', 7, 8000);
    await waitFor(() => service!.holds.length === 1, { what: 'the hold POST', timeoutMs: 5000 });
    const signalled = performance.now();
    r.proc.signal('SIGTERM');
    expect((await held).rcode).toBe('NXDOMAIN');
    expect(performance.now() - signalled).toBeLessThan(2000);
    expect(await r.proc.exited).toEqual({ code: 0, signal: null });
  }, 30_000);

  it('when the primary dies, the workers exit', async () => {
    const r = await startWorkers({ queries: 'none' });
    const pids = [...workerPids(r.proc).values()];
    r.proc.signal('SIGKILL');
    await r.proc.exited;
    await waitFor(() => (pids.every((pid) => !alive(pid)) ? true : undefined), { what: 'workers gone', timeoutMs: 5000 });
  }, 30_000);

  it('under logging load through a real pipe with a reader that falls behind, every stdout line of the primary and both workers is whole JSON', async () => {
    // spawn's stdio 'pipe' is a socket pair; a FIFO is the pipe(2) a shell or a supervisor gives, whose
    // writes are atomic only up to PIPE_BUF. Without the 4096-byte cap this test saw lines cut into.
    const main = await ensureBuilt();
    authority ??= await startAuthority({ zone: ZONE });
    const ports = await freePorts();
    const file = join(dir, 'logging.yaml');
    writeFileSync(file, [
      'version: 1',
      `listen: { dns: ["127.0.0.1:${ports.dns}"], http: "127.0.0.1:${ports.http}", workers: 2 }`,
      `upstreams: { servers: ["${authority.hostPort.text}"], timeout: 500ms }`,
      'clients:',
      '  - { name: ci-1, match: ["127.0.0.1/32"], role: coding }',
      'roles:',
      '  coding: { allow: [github.com], unlisted: sinkhole }',
      'log: { level: info, queries: all }',
      '',
    ].join('\n'));
    const fifo = join(dir, 'stdout.fifo');
    await new Promise<void>((resolve, reject) => execFile('mkfifo', [fifo], (err) => (err ? reject(err) : resolve())));
    // Read-write, so opening does not wait for the other end.
    const fd = openSync(fifo, 'r+');
    const child = spawn(process.execPath, [main, 'serve', '--config', file], { stdio: ['ignore', fd, 'pipe'] });
    closeSync(fd);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const reader = createReadStream(fifo, { highWaterMark: 4096 });
    const whole: LogLine[] = [];
    const broken: string[] = [];
    let pending = '';
    reader.setEncoding('utf8').on('data', (chunk: string | Buffer) => {
      pending += String(chunk);
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const part of parts) {
        try {
          whole.push(JSON.parse(part) as LogLine);
        } catch {
          broken.push(part.slice(0, 200));
        }
      }
    });
    try {
      await waitFor(() => whole.some((l) => l.msg === 'intentdns listening') || undefined, { what: 'listening', timeoutMs: 20_000 });
      const socket = createSocket('udp4');
      const names = Array.from({ length: 40 }, (_, i) => `${'x'.repeat(60)}.${'y'.repeat(60)}.${i}.long-name-for-log-lines.example.com`);
      let sent = 0;
      // Bounded: 40 rounds of 200 datagrams, 30 ms apart; the reader stops for two rounds in every four.
      for (let round = 0; round < 40; round++) {
        if (round % 4 === 0) reader.pause();
        if (round % 4 === 2) reader.resume();
        for (let i = 0; i < 200; i++) socket.send(queryBytes({ name: names[i % names.length]!, type: 'A', id: sent++ & 0xffff }), ports.dns, '127.0.0.1');
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
      reader.resume();
      socket.close();
      await waitFor(() => (whole.filter((l) => l.msg === 'query').length >= sent * 0.9 ? true : undefined), { what: 'decision lines', timeoutMs: 10_000 });
      expect(broken).toEqual([]);
      expect(new Set(whole.filter((l) => l.msg === 'query').map((l) => l.worker))).toEqual(new Set([0, 1]));
    } finally {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      reader.destroy();
    }
  }, 60_000);
});

function countBy<T>(items: readonly T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}
