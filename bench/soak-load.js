// The soak's clients (bench/soak.js): real sockets on loopback, each load bounded in rate, in
// concurrency and by stop(). They count what they sent and how it was answered; the soak turns
// the counts into answers and errors per interval.
//
//   UdpMix     the bulk: hits, misses and blocks at a fixed rate over a pool of UDP sockets,
//              each retired after a few hundred queries and replaced by one on the next
//              source address (many sockets, many agents of an {ip} client entry)
//   TcpChurn   TCP connections opened, used for a few queries and closed: politely, reset after
//              or before the answers, with half a frame, or left idle for the server to close
//   Holds      fresh unlisted names of a holding role (some asked A and AAAA at once, joining one
//              hold), and retries of approved ones, which a grant must answer
//   GrantUser  names opened by approved commands, and names of revoked ones
//   query()    one question from one fresh socket, for the soak's checks (reloads)
//
// An answer's rcode is checked against what the name must get (NOERROR 0, NXDOMAIN 3); SERVFAIL
// (2) is counted apart (an upstream failure, rate-judged), anything else as `wrong`.
import dgram from 'node:dgram';
import net from 'node:net';
import { encodeQuery } from './harness.js';

export const NOERROR = 0;
export const SERVFAIL = 2;
export const NXDOMAIN = 3;
const AAAA = 28;

const rcodeOf = (msg) => msg[3] & 0x0f;
const idOf = (msg) => msg.readUInt16BE(0);

/** { kind → { sent, ok, servfail, wrong, timeout } } */
function kindCounter() {
  const kinds = {};
  return {
    kinds,
    of(kind) { return (kinds[kind] ??= { sent: 0, ok: 0, servfail: 0, wrong: 0, timeout: 0 }); },
    answered(kind, rcode, expect) {
      const k = this.of(kind);
      if (rcode === expect) k.ok++;
      else if (rcode === SERVFAIL) k.servfail++;
      else k.wrong++;
    },
  };
}

/** Sums of a kindCounter: answered (ok + servfail + wrong), timeouts, errors (servfail + timeouts), wrong. */
export function totals(kinds) {
  const t = { sent: 0, answered: 0, timeouts: 0, servfail: 0, wrong: 0 };
  for (const k of Object.values(kinds)) {
    t.sent += k.sent; t.answered += k.ok + k.servfail + k.wrong; t.timeouts += k.timeout; t.servfail += k.servfail; t.wrong += k.wrong;
  }
  return t;
}

function bindSocket(address) {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, address, () => { s.removeListener('error', reject); s.on('error', () => {}); resolve(s); });
  });
}

/**
 * The bulk UDP load: `qps` queries a second, each from `pick(n)` ({ kind, name, expect }), over
 * `sockets` sockets at once; a socket that has sent `perSocket` queries takes no more, is closed
 * once its answers are in (or timed out), and a new one is bound on the next of `sources`.
 */
export class UdpMix {
  constructor({ port, qps, sources, pick, sockets = 32, perSocket = 400, timeoutMs = 2000 }) {
    Object.assign(this, { port, qps, sources, pick, socketCount: sockets, perSocket, timeoutMs });
    this.counts = kindCounter();
    this.socketsOpened = 0;
    this.active = [];        // { socket, id, sent, pending: Map(id → [at, kind, expect]) }
    this.retiring = new Set();
    this.nextSource = 0;
    this.sent = 0;
    this.opening = 0;
    this.stopped = false;
  }

  async start() {
    await Promise.all(Array.from({ length: this.socketCount }, () => this.#open()));
    this.t0 = performance.now();
    this.timer = setInterval(() => this.#tick(), 10);
    this.sweeper = setInterval(() => this.#sweep(), 100);
  }

  async #open() {
    this.opening++;
    try {
      const socket = await bindSocket(this.sources[this.nextSource++ % this.sources.length]);
      const s = { socket, id: 0, sent: 0, pending: new Map() };
      socket.on('message', (msg) => this.#answer(s, msg));
      this.socketsOpened++;
      if (this.stopped) socket.close(); else this.active.push(s);
    } finally {
      this.opening--;
    }
  }

  #answer(s, msg) {
    if (msg.length < 12) return;
    const q = s.pending.get(idOf(msg));
    if (!q) return;
    s.pending.delete(idOf(msg));
    this.counts.answered(q[1], rcodeOf(msg), q[2]);
    if (this.retiring.has(s) && s.pending.size === 0) this.#close(s);
  }

  #tick() {
    if (this.stopped) return;
    const due = Math.floor(((performance.now() - this.t0) / 1000) * this.qps) - this.sent;
    // After a stall (a loaded machine), catch up at most a tenth of a second's worth per tick.
    const n = Math.min(due, Math.ceil(this.qps / 10));
    for (let i = 0; i < n && this.active.length > 0; i++) {
      const s = this.active[this.sent % this.active.length];
      const q = this.pick(this.sent);
      const id = s.id++ & 0xffff;
      s.pending.set(id, [performance.now(), q.kind, q.expect]);
      this.counts.of(q.kind).sent++;
      s.socket.send(encodeQuery(id, q.name), this.port, '127.0.0.1');
      this.sent++;
      if (++s.sent >= this.perSocket) {
        this.active.splice(this.active.indexOf(s), 1);
        this.retiring.add(s);
        void this.#open();
      }
    }
  }

  #sweep() {
    const now = performance.now();
    for (const s of [...this.active, ...this.retiring]) {
      for (const [id, [at, kind]] of s.pending) {
        if (now - at < this.timeoutMs) break;   // insertion order is send order
        s.pending.delete(id);
        this.counts.of(kind).timeout++;
      }
      if (this.retiring.has(s) && s.pending.size === 0) this.#close(s);
    }
  }

  #close(s) {
    this.retiring.delete(s);
    s.socket.close();
  }

  /** Stops sending, waits for what is in flight (at most the timeout), closes every socket. */
  async stop() {
    this.stopped = true;
    clearInterval(this.timer);
    const deadline = performance.now() + this.timeoutMs + 200;
    while ([...this.active, ...this.retiring].some((s) => s.pending.size > 0) && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    clearInterval(this.sweeper);
    this.#sweep();
    while (this.opening > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    for (const s of [...this.active, ...this.retiring]) { try { s.socket.close(); } catch { /* closed */ } }
    this.active = [];
    this.retiring.clear();
  }
}

/** TCP framing: the 2-byte length, then the message. */
const frame = (msg) => Buffer.concat([Buffer.from([msg.length >> 8, msg.length & 255]), msg]);

/**
 * TCP churn: every 1000/`perSecond` ms a connection (at most `maxOpen` at once) from the next of
 * `sources`, in one of these modes by turn (of every 10: 6 polite, 1 each of the others):
 *   polite        1–4 queries pipelined, every answer read, then end()
 *   reset-after   the same, then a reset (RST) instead of end()
 *   reset-before  the queries sent, then a reset before any answer
 *   partial       a length prefix and half a message, then destroy()
 *   idle          one query answered, then left open until the server closes it (limits.tcp_idle_timeout)
 */
export class TcpChurn {
  static MODES = ['polite', 'polite', 'reset-after', 'polite', 'reset-before', 'polite', 'partial', 'polite', 'idle', 'polite'];

  constructor({ port, sources, pick, perSecond = 4, maxOpen = 8, timeoutMs = 3000, idleMaxMs = 15_000 }) {
    Object.assign(this, { port, sources, pick, perSecond, maxOpen, timeoutMs, idleMaxMs });
    this.counts = kindCounter();
    this.connections = 0;
    this.modes = {};
    this.open = new Set();
    this.errors = 0;          // a socket error on a connection we did not reset ourselves
    this.idleClosedByServer = 0;
    this.idleNotClosed = 0;
    this.n = 0;
    this.q = 0;
    this.stopped = false;
  }

  start() {
    this.timer = setInterval(() => { if (!this.stopped && this.open.size < this.maxOpen) this.#connect(); }, 1000 / this.perSecond);
  }

  #connect() {
    const k = this.n++;
    const mode = TcpChurn.MODES[k % TcpChurn.MODES.length];
    this.modes[mode] = (this.modes[mode] ?? 0) + 1;
    this.connections++;
    const sock = net.connect({ port: this.port, host: '127.0.0.1', localAddress: this.sources[k % this.sources.length] });
    const conn = { sock, mode, pending: new Map(), done: false, timer: null };
    this.open.add(conn);
    let buf = Buffer.alloc(0);
    const finish = () => {
      if (conn.done) return;
      conn.done = true;
      clearTimeout(conn.timer);
      // What was asked and not answered when a polite connection ends is a timeout.
      if (mode !== 'reset-before' && mode !== 'partial') for (const [, kind] of conn.pending.values()) this.counts.of(kind).timeout++;
      conn.pending.clear();
      this.open.delete(conn);
    };
    sock.on('error', () => { if (!conn.reset) this.errors++; });
    sock.on('close', () => {
      if (mode === 'idle' && !conn.reset && !conn.ended) this.idleClosedByServer++;
      finish();
    });
    sock.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        const q = conn.pending.get(idOf(msg));
        if (!q) continue;
        conn.pending.delete(idOf(msg));
        this.counts.answered(q[0], rcodeOf(msg), q[1]);
      }
      if (conn.pending.size === 0 && !conn.done) {
        if (mode === 'polite') { conn.ended = true; sock.end(); }
        else if (mode === 'reset-after') { conn.reset = true; sock.resetAndDestroy(); }
        else if (mode === 'idle') {
          clearTimeout(conn.timer);
          conn.timer = setTimeout(() => { this.idleNotClosed++; conn.ended = true; sock.destroy(); finish(); }, this.idleMaxMs);
        }
      }
    });
    sock.once('connect', () => {
      if (this.stopped) { conn.ended = true; sock.destroy(); return; }
      if (mode === 'partial') {
        const msg = encodeQuery(1, this.pick(this.q++).name);
        sock.write(Buffer.concat([Buffer.from([msg.length >> 8, msg.length & 255]), msg.subarray(0, msg.length >> 1)]));
        setTimeout(() => { conn.ended = true; sock.destroy(); }, 50);
        return;
      }
      const count = mode === 'idle' ? 1 : 1 + (k % 4);
      const out = [];
      for (let i = 0; i < count; i++) {
        const q = this.pick(this.q++);
        const id = (k * 4 + i) & 0xffff;
        if (mode !== 'reset-before') { conn.pending.set(id, [q.kind, q.expect]); this.counts.of(q.kind).sent++; }
        out.push(frame(encodeQuery(id, q.name)));
      }
      sock.write(Buffer.concat(out));
      if (mode === 'reset-before') { conn.reset = true; sock.resetAndDestroy(); return; }
      conn.timer = setTimeout(() => { conn.ended = true; sock.destroy(); finish(); }, this.timeoutMs);
    });
  }

  async stop() {
    this.stopped = true;
    clearInterval(this.timer);
    const deadline = performance.now() + this.timeoutMs + 200;
    while ([...this.open].some((c) => c.pending.size > 0) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    for (const c of [...this.open]) { c.ended = true; c.sock.destroy(); }
    while (this.open.size > 0 && performance.now() < deadline + 1000) await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * One question (type A unless `type`) from a fresh socket on `source`; resolves with the rcode,
 * or null when nothing came within `timeoutMs`.
 */
export async function query(port, name, { source = '127.0.0.1', type = 1, timeoutMs = 2000 } = {}) {
  const socket = await bindSocket(source);
  const id = Math.floor(Math.random() * 0x10000);
  try {
    return await new Promise((resolve) => {
      const t = setTimeout(() => resolve(null), timeoutMs);
      socket.on('message', (msg) => { if (msg.length >= 12 && idOf(msg) === id) { clearTimeout(t); resolve(rcodeOf(msg)); } });
      socket.send(encodeQuery(id, name, type), port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

/**
 * Holds: `perSecond` fresh names under `suffix` from `source` (the holding agent), every
 * `aaaaEvery`th asked A and AAAA at once (one hold: the AAAA joins it). Every `retryEvery`th tick
 * instead asks again a name first answered `retryAfterMs` to `retryAfterMs` + 20 s ago: one
 * approved then (NOERROR) must be NOERROR now, from the grant the approval made (`lost` counts
 * those that were not).
 */
export class Holds {
  constructor({ port, source, suffix, perSecond = 4, timeoutMs = 5000, aaaaEvery = 4, retryEvery = 5, retryAfterMs = 8000 }) {
    Object.assign(this, { port, source, suffix, perSecond, timeoutMs, aaaaEvery, retryEvery, retryAfterMs });
    this.counts = { sent: 0, noerror: 0, nxdomain: 0, servfail: 0, other: 0, timeout: 0, retries: 0, retryOk: 0, lost: 0 };
    this.decided = [];        // [name, at, rcode] of first answers, at most 200
    this.inFlight = new Set();
    this.n = 0;
    this.stopped = false;
  }

  start() {
    this.timer = setInterval(() => this.#tick(), 1000 / this.perSecond);
  }

  #ask(name, type, then) {
    this.counts.sent++;
    const p = query(this.port, name, { source: this.source, type, timeoutMs: this.timeoutMs }).then((rcode) => {
      if (rcode === null) this.counts.timeout++;
      else if (rcode === NOERROR) this.counts.noerror++;
      else if (rcode === NXDOMAIN) this.counts.nxdomain++;
      else if (rcode === SERVFAIL) this.counts.servfail++;
      else this.counts.other++;
      then?.(rcode);
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  #tick() {
    if (this.stopped) return;
    const k = this.n++;
    const now = Date.now();
    // Well inside the grant an approval made (the soak's service gives 60 s): older ones are forgotten.
    while (this.decided.length > 0 && now - this.decided[0][1] > this.retryAfterMs + 20_000) this.decided.shift();
    const old = this.decided.find(([, at]) => now - at >= this.retryAfterMs);
    if (k % this.retryEvery === this.retryEvery - 1 && old) {
      this.decided.splice(this.decided.indexOf(old), 1);
      const [name, , first] = old;
      this.counts.retries++;
      this.#ask(name, 1, (rcode) => {
        // SERVFAIL is the upstream's (counted with the errors); a sinkhole would be a grant lost.
        if (first !== NOERROR || rcode === null || rcode === SERVFAIL) return;
        if (rcode === NOERROR) this.counts.retryOk++; else this.counts.lost++;
      });
      return;
    }
    const name = `h${k}.${this.suffix}`;
    this.#ask(name, 1, (rcode) => {
      if (rcode === null) return;
      this.decided.push([name, Date.now(), rcode]);
      if (this.decided.length > 200) this.decided.shift();
    });
    if (k % this.aaaaEvery === 0) this.#ask(name, AAAA);
  }

  async stop() {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all([...this.inFlight]);
  }
}

/**
 * Names opened by approved commands: `perSecond` questions from `source` (the granted agent) for
 * names under a live generation (`live()`: names approved and not revoked, expect NOERROR) and,
 * every `revokedEvery`th, under a revoked one (`revoked()`, expect NXDOMAIN).
 */
export class GrantUser {
  constructor({ port, source, live, revoked, perSecond = 5, revokedEvery = 5, timeoutMs = 2000 }) {
    Object.assign(this, { port, source, live, revoked, perSecond, revokedEvery, timeoutMs });
    this.counts = { sent: 0, granted: 0, notGranted: 0, revokedBlocked: 0, revokedAnswered: 0, servfail: 0, timeout: 0, noneLive: 0 };
    this.inFlight = new Set();
    this.n = 0;
    this.stopped = false;
  }

  start() {
    this.timer = setInterval(() => this.#tick(), 1000 / this.perSecond);
  }

  #tick() {
    if (this.stopped) return;
    const k = this.n++;
    const wantRevoked = k % this.revokedEvery === this.revokedEvery - 1;
    const pool = wantRevoked ? this.revoked() : this.live();
    if (pool.length === 0) { if (!wantRevoked) this.counts.noneLive++; return; }
    const name = `n${k}.${pool[k % pool.length]}`;
    this.counts.sent++;
    const p = query(this.port, name, { source: this.source, timeoutMs: this.timeoutMs }).then((rcode) => {
      if (rcode === null) this.counts.timeout++;
      else if (rcode === SERVFAIL) this.counts.servfail++;
      else if (wantRevoked) { if (rcode === NXDOMAIN) this.counts.revokedBlocked++; else this.counts.revokedAnswered++; }
      else if (rcode === NOERROR) this.counts.granted++;
      else this.counts.notGranted++;
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  async stop() {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all([...this.inFlight]);
  }
}

/**
 * Reads a stream slowly: in turns, reads for a while, then pauses it (the pipe fills, then the
 * writer's own buffer, then the writer drops lines), as a stuck log shipper would. Counts lines
 * and bytes read and the "dropping log lines" notices seen; keeps nothing else.
 */
export class SlowReader {
  constructor(stream, { readMs = [2000, 5000], pauseMs = [1500, 6000], longPauseEvery = 5, longPauseMs = 15_000 } = {}) {
    Object.assign(this, { stream, readMs, pauseMs, longPauseEvery, longPauseMs });
    this.lines = 0;
    this.bytes = 0;
    this.pauses = 0;
    this.longPauses = 0;
    this.pausedMs = 0;
    this.stallNotices = 0;
    this.stopped = false;
    stream.on('data', (chunk) => {
      this.bytes += chunk.length;
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) this.lines++;
      if (chunk.includes('log output is not keeping up')) this.stallNotices++;
    });
  }

  start() { this.#read(); }

  #between([a, b]) { return a + Math.random() * (b - a); }

  #read() {
    if (this.stopped) return;
    this.stream.resume();
    this.timer = setTimeout(() => this.#pause(), this.#between(this.readMs));
  }

  #pause() {
    if (this.stopped) return;
    this.pauses++;
    const long = this.pauses % this.longPauseEvery === 0;
    if (long) this.longPauses++;
    const ms = long ? this.longPauseMs : this.#between(this.pauseMs);
    this.pausedMs += ms;
    this.stream.pause();
    this.timer = setTimeout(() => this.#read(), ms);
  }

  /** Reads on at full speed from now on (so the writer can drain and exit). */
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.stream.resume();
  }
}
