/**
 * Load for the fairness tests, every loop bounded in count and time:
 *
 * - `measureAgent`: the well-behaved agent. A fixed, modest rate of queries
 *   from one loopback source, over UDP (one socket, as a stub resolver) or TCP
 *   (a connection per query, as glibc does after TC), in a worker thread so
 *   that its clock and its sockets do not share an event loop with whatever
 *   the test does meanwhile. Returns what a user would notice: how many got an
 *   answer in time, and p50/p99 latency.
 * - `dnsperf`: a UDP flood from another loopback source (Debian's dnsperf).
 * - `holdTcpSlots`: many connections from many loopback sources that either
 *   send a query now and then (keeping the connection busy) or drip the bytes
 *   of a frame (keeping it open without ever finishing a query).
 *
 * Nothing here knows intentdns: bytes in, bytes out, on 127.0.0.0/8 only.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import { delay } from './wait-for.js';

export interface Target {
  readonly host: string;
  readonly port: number;
}

export interface AgentLoad {
  readonly target: Target;
  /** Loopback source address of the agent, e.g. "127.0.0.10". */
  readonly from: string;
  readonly transport: 'udp' | 'tcp';
  readonly qps: number;
  readonly durationMs: number;
  /** Names asked in turn (type A). */
  readonly names: readonly string[];
  /** A reply later than this counts as not answered (a stub resolver has retried by then). Default 1000 ms. */
  readonly timeoutMs?: number;
}

export interface AgentFigures {
  readonly sent: number;
  /** Replies with rcode NOERROR and at least one answer record, in time. */
  readonly answered: number;
  /** answered / sent. */
  readonly ratio: number;
  /** Of the answered queries, in milliseconds; NaN when none was answered. */
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export function formatFigures(f: AgentFigures): string {
  return `${f.answered}/${f.sent} answered (${(f.ratio * 100).toFixed(1)}%), p50 ${f.p50Ms.toFixed(1)} ms, p99 ${f.p99Ms.toFixed(1)} ms`;
}

/** An A query for `name`, in the plain JavaScript both worker threads below run. */
const QUERY_JS = String.raw`
function query(id, name) {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')]));
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2);   // RD
  header.writeUInt16BE(1, 4);
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}
`;

/** The agent's side of the measurement, as plain JavaScript for the worker thread. */
const AGENT_WORKER = String.raw`
const { workerData, parentPort } = require('node:worker_threads');
const dgram = require('node:dgram');
const net = require('node:net');
const { target, from, transport, qps, durationMs, names, timeoutMs } = workerData;

${QUERY_JS}
const answered = (reply) => reply.length >= 12 && (reply.readUInt16BE(2) & 0x800f) === 0x8000 && reply.readUInt16BE(6) > 0;

const latencies = [];
let sent = 0;
let open = 0;
let nextId = 1;
const pending = new Map();   // id -> sent at

function settle(id, ok) {
  const at = pending.get(id);
  if (at === undefined) return;
  pending.delete(id);
  if (ok) latencies.push(performance.now() - at);
}

let udp = null;
function sendUdp(id, bytes) {
  udp.send(bytes, target.port, target.host);
}
function sendTcp(id, bytes) {
  open++;
  const socket = net.connect({ host: target.host, port: target.port, localAddress: from });
  let buf = Buffer.alloc(0);
  const done = (ok) => { if (!socket.destroyed) socket.destroy(); settle(id, ok); };
  socket.setNoDelay(true);
  socket.on('connect', () => { const len = Buffer.alloc(2); len.writeUInt16BE(bytes.length); socket.write(Buffer.concat([len, bytes])); });
  socket.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(answered(buf.subarray(2, 2 + buf.readUInt16BE(0))));
  });
  socket.on('error', () => done(false));
  socket.on('close', () => { open--; done(false); });
  socket.setTimeout(timeoutMs, () => done(false));
}

async function main() {
  if (transport === 'udp') {
    udp = dgram.createSocket('udp4');
    udp.on('message', (msg) => { if (msg.length >= 12) settle(msg.readUInt16BE(0), answered(msg)); });
    udp.on('error', () => {});
    await new Promise((resolve) => udp.bind({ port: 0, address: from }, resolve));
  }
  const started = performance.now();
  const tickMs = 10;
  // Each tick sends what the schedule owes by now, so a late tick catches up instead of lowering the rate.
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - started;
      const due = Math.min(Math.floor((Math.min(elapsed, durationMs) * qps) / 1000), Math.floor((durationMs * qps) / 1000));
      while (sent < due) {
        const id = nextId++ & 0xffff;
        const bytes = query(id, names[sent % names.length]);
        pending.set(id, performance.now());
        sent++;
        (transport === 'udp' ? sendUdp : sendTcp)(id, bytes);
      }
      // Anything older than the timeout is lost.
      const now = performance.now();
      for (const [id, at] of pending) if (now - at > timeoutMs) pending.delete(id);
      if (elapsed >= durationMs && (pending.size === 0 || elapsed >= durationMs + timeoutMs)) {
        clearInterval(timer);
        resolve();
      }
    }, tickMs);
  });
  if (udp) udp.close();
  for (let i = 0; i < 100 && open > 0; i++) await new Promise((r) => setTimeout(r, 10));
  latencies.sort((a, b) => a - b);
  const pick = (q) => (latencies.length === 0 ? NaN : latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)]);
  parentPort.postMessage({ sent, answered: latencies.length, ratio: sent === 0 ? 0 : latencies.length / sent, p50Ms: pick(0.5), p99Ms: pick(0.99) });
}
main().catch((err) => { throw err; });
`;

/** Runs the agent for `durationMs` (plus at most `timeoutMs` for the last replies) and returns its figures. */
export function measureAgent(load: AgentLoad): Promise<AgentFigures> {
  const worker = new Worker(AGENT_WORKER, {
    eval: true,
    workerData: { ...load, timeoutMs: load.timeoutMs ?? 1000, target: { ...load.target }, names: [...load.names] },
  });
  return new Promise((resolve, reject) => {
    worker.once('message', (figures: AgentFigures) => {
      resolve(figures);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`agent worker exited with ${code} before reporting`)));
  });
}

export interface DnsperfRun {
  /** "Queries sent" from dnsperf's statistics. */
  readonly sent: number;
  readonly output: string;
}

/**
 * `dnsperf -s <host> -p <port> -a <from> -l <seconds> -Q <qps>` with a
 * data file of `names` (type A). Two threads, a short timeout and room for
 * 4000 outstanding queries keep the flood at its rate when nothing is
 * answered (dnsperf waits for answers otherwise, and one thread tops out
 * near 10k queries/s of unanswered queries). Killed if it outlives its time.
 */
export function dnsperf(opts: { target: Target; from: string; qps: number; seconds: number; names: readonly string[]; dataFile: string }): Promise<DnsperfRun> {
  writeFileSync(opts.dataFile, opts.names.map((n) => `${n} A\n`).join(''));
  const args = [
    '-s', opts.target.host, '-p', String(opts.target.port), '-a', opts.from, '-d', opts.dataFile,
    '-l', String(opts.seconds), '-Q', String(opts.qps), '-T', '2', '-c', '2', '-q', '4000', '-t', '0.05', '-O', 'suppress=timeout',
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('dnsperf', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => void (output += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => void (output += c));
    const killer = setTimeout(() => child.kill('SIGKILL'), (opts.seconds + 3) * 1000);
    child.once('error', (err) => {
      clearTimeout(killer);
      reject(err);
    });
    child.once('exit', () => {
      clearTimeout(killer);
      const sent = Number(/Queries sent:\s+(\d+)/.exec(output)?.[1] ?? NaN);
      resolve({ sent, output });
    });
  });
}

export interface SlotHolders {
  /** Connections the server accepted and kept open for at least a moment. */
  readonly opened: () => number;
  /** Stops: no new connections, every open one destroyed. */
  stop(): Promise<void>;
}

/**
 * `perSource` connections from each of `sources`, each reopened (after
 * `reconnectMs`) whenever the server closes it, for as long as it runs.
 * `mode: 'query'` sends one small query at once and then one every
 * `everyMs`; `mode: 'drip'` sends one byte of a frame every `everyMs` and
 * never finishes it. Bounded: at most sources × perSource sockets at a time.
 */
export function holdTcpSlots(opts: {
  target: Target;
  sources: readonly string[];
  perSource: number;
  mode: 'query' | 'drip';
  everyMs: number;
  reconnectMs?: number;
}): SlotHolders {
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  let opened = 0;
  const frame = framedQuery('held.example.org');
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const open = (from: string): void => {
    if (stopped) return;
    const socket = net.connect({ host: opts.target.host, port: opts.target.port, localAddress: from });
    sockets.add(socket);
    let sentBytes = 0;
    let ticker: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      opened++;
      const tick = (): void => {
        if (socket.destroyed) return;
        if (opts.mode === 'query') socket.write(frame);
        // Every byte but the last: the frame never completes.
        else if (sentBytes < frame.length - 1) socket.write(frame.subarray(sentBytes, sentBytes + 1));
        sentBytes++;
      };
      tick();
      ticker = setInterval(tick, opts.everyMs);
    });
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(ticker);
      sockets.delete(socket);
      if (!stopped) later(opts.reconnectMs ?? 100, () => open(from));
    });
  };
  for (const from of opts.sources) for (let i = 0; i < opts.perSource; i++) open(from);
  return {
    opened: () => opened,
    async stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sockets) s.destroy();
      for (let i = 0; i < 200 && sockets.size > 0; i++) await delay(10);
    },
  };
}

function framedQuery(name: string): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')]));
  const header = Buffer.alloc(12);
  header.writeUInt16BE(0x4242, 0);
  header.writeUInt16BE(0x0100, 2);
  header.writeUInt16BE(1, 4);
  const message = Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(message.length);
  return Buffer.concat([length, message]);
}

/** The probe's side, as plain JavaScript for its worker thread: queries at a fixed rate, the arrival time of every reply. */
const ARRIVAL_WORKER = String.raw`
const { workerData, parentPort } = require('node:worker_threads');
const dgram = require('node:dgram');
const { target, qps, names, maxMs } = workerData;

${QUERY_JS}
// Epoch milliseconds, to the microsecond: comparable with the test thread's clock (performance.now() is not, across threads).
const now = () => performance.timeOrigin + performance.now();
const arrivals = [];
let sent = 0;
const udp = dgram.createSocket('udp4');
udp.on('message', () => arrivals.push(now()));
udp.on('error', () => {});
udp.bind(0, '127.0.0.1', () => {
  const started = now();
  let stopping = false;
  const finish = () => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    // Replies still on their way.
    setTimeout(() => { udp.close(); parentPort.postMessage({ sent, arrivals }); }, 300);
  };
  const timer = setInterval(() => {
    const elapsed = now() - started;
    if (elapsed > maxMs) return finish();
    while (sent < (elapsed * qps) / 1000) udp.send(query(sent & 0xffff, names[sent++ % names.length]), target.port, target.host);
  }, 1);
  parentPort.on('message', finish);
});
`;

export interface ArrivalProbe {
  /** Stops sending; resolves with every reply's arrival time (epoch ms, `performance.timeOrigin + performance.now()`). */
  stop(): Promise<{ readonly sent: number; readonly arrivals: readonly number[] }>;
}

/**
 * UDP queries from 127.0.0.1 at `qps` (names in turn, type A) until stop()
 * or `maxMs`, in a worker thread so that nothing this thread does delays
 * them or their timestamps. For the longest silence of a server: see longestGap.
 */
export function startArrivalProbe(opts: { target: Target; qps: number; names: readonly string[]; maxMs: number }): ArrivalProbe {
  const worker = new Worker(ARRIVAL_WORKER, { eval: true, workerData: { ...opts, target: { ...opts.target }, names: [...opts.names] } });
  const result = new Promise<{ sent: number; arrivals: number[] }>((resolve, reject) => {
    worker.once('message', (r: { sent: number; arrivals: number[] }) => {
      resolve(r);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`probe worker exited with ${code} before reporting`)));
  });
  return {
    stop() {
      worker.postMessage('stop');
      return result;
    },
  };
}

/** The longest interval between consecutive arrivals that overlaps [from, to] (epoch ms), and where it began. */
export function longestGap(arrivals: readonly number[], from: number, to: number): { readonly ms: number; readonly at: number } {
  let best = { ms: 0, at: from };
  for (let k = 1; k < arrivals.length; k++) {
    const a = arrivals[k - 1]!;
    const b = arrivals[k]!;
    if (b < from) continue;
    if (a > to) break;
    if (b - a > best.ms) best = { ms: b - a, at: a };
  }
  return best;
}
