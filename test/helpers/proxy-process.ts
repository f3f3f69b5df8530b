/**
 * `intentdns serve` in a process of its own, for the fairness tests: the
 * proxy gets its own event loop (as in production), so what a flood costs it
 * is not hidden or inflated by the test's own work. Its stdout goes to a
 * file, not through a pipe the test would have to parse line by line while
 * it measures; the file's size is the log volume the load produced.
 *
 *   const proxy = await startProxyProcess({ yaml: `... listen: { dns: ["127.0.0.1:DNS_PORT"], http: "127.0.0.1:HTTP_PORT" } ...` });
 *   proxy.target          // { host: '127.0.0.1', port }
 *   await proxy.metrics() // the /metrics text
 *   proxy.lines()         // stdout so far, parsed
 *   await proxy.stop();
 *
 * DNS_PORT, HTTP_PORT and UPSTREAMS in the YAML are replaced (UPSTREAMS by a
 * flow list of `upstreams`).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dedent } from './proxy.js';
import { ensureBuilt, freePorts, type LogLine } from './serve-process.js';
import { delay } from './wait-for.js';
import { reapOnExit } from './reap.js';

export interface ProxyProcess {
  readonly target: { readonly host: string; readonly port: number };
  readonly http: string;
  /** A scratch folder removed by stop(), for data files. */
  readonly dir: string;
  /** Bytes the proxy has written to stdout so far. */
  logBytes(): number;
  /** Its stdout so far, one parsed line each; only the lines that contain `containing` when given (cheap on a big log). */
  lines(containing?: string): LogLine[];
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export interface ProxyProcessOptions {
  readonly yaml: string;
  readonly upstreams: readonly string[];
  /** RLIMIT_NOFILE (soft and hard) for the process, set with prlimit(1). Default: inherited. */
  readonly nofile?: number;
}

export async function startProxyProcess(opts: ProxyProcessOptions): Promise<ProxyProcess> {
  const main = await ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'intentdns-fair-'));
  for (let attempt = 1; ; attempt++) {
    const ports = await freePorts();
    const file = join(dir, 'intentdns.yaml');
    const out = join(dir, 'stdout.ndjson');
    writeFileSync(file, dedent(opts.yaml)
      .replaceAll('DNS_PORT', String(ports.dns))
      .replaceAll('HTTP_PORT', String(ports.http))
      .replaceAll('UPSTREAMS', `[${opts.upstreams.map((u) => `"${u}"`).join(', ')}]`));
    const fd = openSync(out, 'w');
    const command = [process.execPath, main, 'serve', '--config', file];
    if (opts.nofile !== undefined) command.unshift('prlimit', `--nofile=${opts.nofile}`);
    const child = reapOnExit(spawn(command[0]!, command.slice(1), { stdio: ['ignore', fd, 'pipe'] }));
    closeSync(fd);
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (c: string) => void (stderr += c));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const read = (): string => {
      try {
        return readFileSync(out, 'utf8');
      } catch {
        return '';
      }
    };
    const lines = (containing = ''): LogLine[] =>
      read().split('\n').filter((l) => l.trim() !== '' && l.includes(containing)).map((l) => JSON.parse(l) as LogLine);
    let up = false;
    for (let i = 0; i < 500 && child.exitCode === null; i++) {
      if (read().includes('"intentdns listening"')) {
        up = true;
        break;
      }
      await delay(20);
    }
    if (!up) {
      child.kill('SIGKILL');
      await exited;
      if (attempt < 3 && /cannot listen on/.test(stderr + read())) continue;
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`intentdns serve did not start:\n${stderr}\n${read()}`);
    }
    const http = `http://127.0.0.1:${ports.http}`;
    return {
      target: { host: '127.0.0.1', port: ports.dns },
      http,
      dir,
      logBytes: () => statSync(out).size,
      lines,
      metrics: async () => (await fetch(`${http}/metrics`)).text(),
      async stop() {
        if (child.exitCode === null) child.kill('SIGKILL');
        await exited;
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}

/** The value of one series in a Prometheus text exposition (0 when absent). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(m[3]);
  }
  return total;
}
