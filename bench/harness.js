// What bench/run.js (npm run bench) and bench/soak.js (npm run soak) share: child processes
// stopped by their PID, free loopback ports, waiting for a DNS server to answer, a Knot
// authority on loopback serving zones given as data, and /proc readings of a process.
//
// Every process started with start() is remembered until it exits, so stopAll() can stop
// exactly those (SIGTERM, SIGKILL after 3 s), also on failure and on SIGINT.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const children = new Set();

/** The path of BIN on PATH (or the sbin directories), or null. */
export function which(bin) {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    const p = path.join(d, bin);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return null;
}

/**
 * Starts CMD ARGS; stdin ignored, stdout to `opts.stdout` (a file descriptor, 'pipe', or ignored),
 * stderr kept (its first 20,000 characters). The returned proc has `exit` (a promise of
 * { code, signal }), `exited`, `pid`, `child` and `stderr`.
 */
export function start(name, cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', opts.stdout ?? 'ignore', 'pipe'], cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env });
  let stderr = '';
  child.stderr.on('data', (d) => { if (stderr.length < 20_000) stderr += d; });
  const proc = { name, child, pid: child.pid, get stderr() { return stderr; }, exited: false };
  proc.exit = new Promise((resolve) => child.once('exit', (code, signal) => { proc.exited = true; children.delete(proc); resolve({ code, signal }); }));
  child.once('error', (err) => { stderr += String(err); });
  children.add(proc);
  return proc;
}

/** SIGTERM to this process's PID, SIGKILL after 3 s; resolves once it has exited. */
export async function stop(proc) {
  if (!proc || proc.exited) return;
  try { process.kill(proc.pid, 'SIGTERM'); } catch { /* gone */ }
  const t = setTimeout(() => { try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ } }, 3000);
  await proc.exit;
  clearTimeout(t);
}

/** Stops every process start() started that is still running. */
export async function stopAll() {
  await Promise.all([...children].map(stop));
}

/** [cmd, args] run under `taskset -c CORE` when there is a pinning plan. */
export const pinned = (pin, core, cmd, args) => (pin ? ['taskset', ['-c', core, cmd, ...args]] : [cmd, args]);

/** A port free for both UDP and TCP on 127.0.0.1 (bound and let go: taken by the caller next). */
export async function freePort() {
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = dgram.createSocket('udp4');
    const port = await new Promise((resolve) => udp.bind(0, '127.0.0.1', () => resolve(udp.address().port)));
    const ok = await new Promise((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    udp.close();
    if (ok) return port;
  }
  throw new Error('no free port on 127.0.0.1');
}

/** A query for NAME (type A, class IN, RD set) with message id ID; `type` 28 asks AAAA. */
export function encodeQuery(id, name, type = 1) {
  return Buffer.concat([
    Buffer.from([id >> 8, id & 255, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]),
    ...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
    Buffer.from([0, type >> 8, type & 255, 0, 1]),
  ]);
}

/** Asks NAME A at 127.0.0.1:PORT until an answer comes (100 ms apart, `ms` at most). */
export async function waitForDns(port, name, proc, ms = 15_000) {
  const q = encodeQuery(0x1234, name);
  const socket = dgram.createSocket('udp4');
  try {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (proc?.exited) throw new Error(`${proc.name} exited: ${proc.stderr.trim().slice(-2000)}`);
      const got = await new Promise((resolve) => {
        const t = setTimeout(() => { socket.removeAllListeners('message'); resolve(false); }, 100);
        socket.once('message', () => { clearTimeout(t); resolve(true); });
        socket.send(q, port, '127.0.0.1');
      });
      if (got) return;
    }
    throw new Error(`${proc?.name ?? 'server'} did not answer on 127.0.0.1:${port} within ${ms} ms: ${proc?.stderr.trim().slice(-2000) ?? ''}`);
  } finally {
    socket.close();
  }
}

/**
 * knotd on a free port of 127.0.0.1 (1 UDP, 1 TCP worker) serving `zones`
 * ([{ domain, records: zone file lines }]), its files under DIR/knot; resolves once `probe`
 * (a name it serves) is answered. Started through start(), so stopAll() stops it.
 */
export async function startKnot(dir, tools, pin, zones, probe) {
  const port = await freePort();
  const kdir = path.join(dir, 'knot');
  fs.mkdirSync(path.join(kdir, 'db'), { recursive: true });
  for (const z of zones) fs.writeFileSync(path.join(kdir, `${z.domain}.zone`), z.records.join('\n') + '\n');
  fs.writeFileSync(path.join(kdir, 'knot.conf'), `server:
    rundir: "${kdir}"
    listen: 127.0.0.1@${port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: warning
database:
    storage: "${kdir}/db"
control:
    listen: "${kdir}/knot.sock"
template:
  - id: default
    storage: "${kdir}"
    zonefile-sync: -1
    journal-content: none
zone:
${zones.map((z) => `  - domain: ${z.domain}\n    file: "${kdir}/${z.domain}.zone"\n`).join('')}`);
  const [cmd, args] = pinned(pin, pin?.load, tools.knotd, ['-c', path.join(kdir, 'knot.conf')]);
  const proc = start('knotd', cmd, args);
  await waitForDns(port, probe, proc);
  return { port, proc };
}

/** utime + stime of PID in clock ticks (fields 14 and 15 of /proc/PID/stat), all threads. */
export function procCpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** A `kB` field of /proc/PID/status (VmRSS, VmHWM, …) in MiB, or NaN. */
export function procStatusMiB(pid, field) {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+) kB`));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

export const procPeakRssMiB = (pid) => procStatusMiB(pid, 'VmHWM');

/** Open file descriptors of PID (entries of /proc/PID/fd), or NaN. */
export function procFds(pid) {
  try { return fs.readdirSync(`/proc/${pid}/fd`).length; } catch { return NaN; }
}
