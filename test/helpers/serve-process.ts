/**
 * `intentdns serve` as a real process (`node dist/main.js serve`), for the
 * tests that need signals and a process that must end by itself.
 *
 *   const ports = await freePorts();
 *   const file = writeFileSync(...)   // a config using ports.dns and ports.http
 *   const proc = await spawnServe(file);
 *   await proc.waitForLine((l) => l.msg === 'intentdns listening');
 *   proc.signal('SIGTERM');
 *   expect(await proc.exited).toEqual({ code: 0, signal: null });
 *
 * dist/ is rebuilt first when any file under src/ is newer than dist/main.js
 * (one build at a time across test workers); `npm test` builds it anyway.
 * The config loader refuses port 0, so freePorts() finds free ones by binding
 * port 0 and letting go; spawnServe is retried with new ports when another
 * process took one in between.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { delay, waitFor } from './wait-for.js';
import { reapOnExit } from './reap.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const MAIN = join(ROOT, 'dist', 'main.js');
const LOCK = join(tmpdir(), `intentdns-build-${Buffer.from(ROOT).toString('hex').slice(-24)}.lock`);

export type LogLine = Record<string, unknown>;

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ServeProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** stdout, one parsed NDJSON line each (anything else is kept as { raw }). */
  readonly lines: readonly LogLine[];
  readonly stderr: () => string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<Exit>;
  waitForLine(match: (line: LogLine) => boolean, what?: string, timeoutMs?: number): Promise<LogLine>;
  signal(signal: NodeJS.Signals): void;
  /** SIGKILL if still running (test cleanup). */
  kill(): Promise<void>;
}

/** Builds dist/ when it is missing or older than src/. */
export async function ensureBuilt(): Promise<string> {
  for (let round = 0; ; round++) {
    if (!stale()) return MAIN;
    try {
      mkdirSync(LOCK);
    } catch {
      // Another worker is building; a lock left by a killed run is taken over after two minutes.
      if (Date.now() - (mtimeOf(LOCK) ?? 0) > 120_000) rmSync(LOCK, { recursive: true, force: true });
      else await delay(200);
      if (round > 1000) throw new Error('timed out waiting for another test worker to build dist/');
      continue;
    }
    try {
      const r = await run('npm', ['run', 'build'], 110_000);
      if (r.code !== 0) throw new Error(`npm run build failed (${r.code}):\n${r.out}`);
    } finally {
      rmSync(LOCK, { recursive: true, force: true });
    }
  }
}

function stale(): boolean {
  const built = mtimeOf(MAIN);
  return built === null || newest(join(ROOT, 'src')) > built;
}

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : (mtimeOf(path) ?? 0));
  }
  return latest;
}

function mtimeOf(path: string): number | null {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
}

function run(file: string, args: readonly string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, out: stdout + stderr });
    });
  });
}

export interface Ports {
  /** Free for both UDP and TCP on 127.0.0.1. */
  readonly dns: number;
  /** Free for TCP on 127.0.0.1. */
  readonly http: number;
}

/** Two ports that were free a moment ago (see spawnServe for the race). */
export async function freePorts(): Promise<Ports> {
  const dns = await freePort(true);
  let http = await freePort(false);
  while (http === dns) http = await freePort(false);
  return { dns, http };
}

async function freePort(udpToo: boolean): Promise<number> {
  for (;;) {
    const tcp = createServer();
    await new Promise<void>((resolve, reject) => tcp.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
    const { port } = tcp.address() as { port: number };
    let free = true;
    if (udpToo) {
      const udp = createSocket('udp4');
      free = await new Promise<boolean>((resolve) => {
        udp.once('error', () => resolve(false));
        udp.bind(port, '127.0.0.1', () => resolve(true));
      });
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    }
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    if (free) return port;
  }
}

/**
 * Spawns `node dist/main.js serve --config FILE` and waits for its
 * `intentdns listening` line. `writeConfig` gets free ports and returns the
 * config path; it is called again with new ports when the process could not
 * bind (another test took a port between freePorts() and the bind).
 */
export async function spawnServe(writeConfig: (ports: Ports) => string, timeoutMs = 10_000): Promise<{ proc: ServeProcess; ports: Ports }> {
  const main = await ensureBuilt();
  for (let attempt = 1; ; attempt++) {
    const ports = await freePorts();
    const file = writeConfig(ports);
    const proc = start(main, ['serve', '--config', file]);
    const started = await Promise.race([
      proc.waitForLine((l) => l.msg === 'intentdns listening', 'intentdns listening', timeoutMs).then(() => true),
      proc.exited.then(() => false),
    ]);
    if (started) return { proc, ports };
    const why = proc.stderr();
    if (attempt < 3 && /cannot listen on/.test(why)) continue;
    throw new Error(`intentdns serve did not start:\n${why}\n${proc.lines.map((l) => JSON.stringify(l)).join('\n')}`);
  }
}

/** Spawns `intentdns serve --config FILE` and returns at once: for a start that is meant to fail. */
export async function spawnServeOnce(file: string): Promise<ServeProcess> {
  return start(await ensureBuilt(), ['serve', '--config', file]);
}

function start(main: string, args: readonly string[]): ServeProcess {
  const child = reapOnExit(spawn(process.execPath, [main, ...args], { cwd: ROOT, stdio: 'pipe' }));
  const lines: LogLine[] = [];
  let stderr = '';
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const part of parts) {
      if (part.trim() === '') continue;
      try {
        lines.push(JSON.parse(part) as LogLine);
      } catch {
        lines.push({ raw: part });
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => void (stderr += chunk));
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    waitForLine: (match, what = 'log line', timeoutMs = 5000) => waitFor(() => lines.find(match), { what, timeoutMs, intervalMs: 10 }),
    signal: (signal) => void child.kill(signal),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
