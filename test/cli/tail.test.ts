/**
 * `intentdns tail` as a real process against a real `intentdns serve`
 * process (both `node dist/main.js`), queries sent over UDP on loopback:
 * what it prints, its filters, its --json, and how it fails.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthority, type Authority } from '../helpers/authority.js';
import { udpExchange } from '../helpers/client.js';
import { queryBytes } from '../helpers/packets.js';
import { reapOnExit } from '../helpers/reap.js';
import { MAIN, freePorts, spawnServe, type ServeProcess } from '../helpers/serve-process.js';
import { waitFor } from '../helpers/wait-for.js';

const TOKEN = 'tail-test-token-0123456789';

let dir: string;
let config: string;
let authority: Authority;
let serve: ServeProcess;
let dnsPort: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'intentdns-tail-'));
  writeFileSync(join(dir, 'admin-token'), `${TOKEN}\n`);
  authority = await startAuthority({ zone: { 'github.com': [{ type: 'A', data: '140.82.121.3' }], 'api.github.com': [{ type: 'A', data: '140.82.121.6' }] } });
  const started = await spawnServe((p) => {
    config = join(dir, 'intentdns.yaml');
    writeFileSync(config, [
      'version: 1',
      `listen: { dns: ["127.0.0.1:${p.dns}"], http: "127.0.0.1:${p.http}" }`,
      `upstreams: { servers: ["${authority.hostPort.text}"] }`,
      'log: { queries: none }',
      'admin: { token_file: admin-token }',
      'clients: [{ name: ci-1, match: ["127.0.0.1/32"], role: coding }]',
      'roles: { coding: { allow: ["*.github.com", github.com], deny: [gist.github.com] } }',
    ].join('\n'));
    return config;
  });
  serve = started.proc;
  dnsPort = started.ports.dns;
}, 120_000);

afterAll(async () => {
  await serve?.kill();
  await authority?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Tail {
  readonly out: string[];
  stderr(): string;
  readonly exited: Promise<number | null>;
  closeStdout(): void;
  kill(): Promise<void>;
}

function runTail(args: readonly string[], env: NodeJS.ProcessEnv = {}): Tail {
  const child = reapOnExit(spawn(process.execPath, [MAIN, 'tail', ...args], { stdio: 'pipe', env: { PATH: process.env.PATH, ...env } }));
  const out: string[] = [];
  let pending = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (pending + chunk).split('\n');
    pending = parts.pop() ?? '';
    out.push(...parts);
  });
  child.stdout.on('error', () => {});
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => void (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    out, stderr: () => stderr, exited,
    closeStdout: () => child.stdout.destroy(),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

const ask = async (name: string): Promise<void> => {
  const reply = await udpExchange({ host: '127.0.0.1', port: dnsPort }, queryBytes({ name }), { timeoutMs: 2000 });
  expect(reply).not.toBeNull();
};

/** Sends `name` until the tail prints a line with it (the tail connects after it starts). */
async function untilPrinted(tail: Tail, name: string): Promise<string> {
  return waitFor(async () => {
    await ask(name);
    return tail.out.find((l) => l.includes(name));
  }, { what: `tail printing ${name}\n${tail.stderr()}`, timeoutMs: 8000, intervalMs: 200 });
}

describe('intentdns tail', () => {
  it('prints one readable line per decision (time, agent, role, name, type, action, reason, rule), no colour off a terminal', async () => {
    const tail = runTail(['--config', config]);
    try {
      const line = await untilPrinted(tail, 'gist.github.com');
      expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ci-1 coding gist\.github\.com A sinkhole denylist rule=gist\.github\.com$/);
      await ask('api.github.com');
      await waitFor(() => tail.out.some((l) => / ci-1 coding api\.github\.com A forward allowlist rule=\*\.github\.com$/.test(l)), { what: 'forward line' });
      expect(tail.out.join('\n')).not.toContain('\x1b[');
    } finally {
      await tail.kill();
    }
  }, 20_000);

  it('--json prints the decision log lines as they are, and the filters reach the proxy', async () => {
    const tail = runTail(['--config', config, '--json', '--action', 'sinkhole']);
    try {
      const line = await untilPrinted(tail, 'gist.github.com');
      expect(JSON.parse(line)).toMatchObject({ msg: 'query', agent: 'ci-1', qname: 'gist.github.com', action: 'sinkhole', reason: 'denylist', blocked: true });
      await ask('github.com');
      await ask('gist.github.com');
      await waitFor(() => tail.out.filter((l) => l.includes('gist.github.com')).length >= 2, { what: 'second sinkhole line' });
      // Forwarded queries were filtered out by the proxy.
      expect(tail.out.filter((l) => l !== '').map((l) => (JSON.parse(l) as { action: string }).action)).toEqual(tail.out.filter((l) => l !== '').map(() => 'sinkhole'));
    } finally {
      await tail.kill();
    }
  }, 20_000);

  it('takes --url and INTENTDNS_ADMIN_TOKEN instead of the config', async () => {
    const port = /http: "127\.0\.0\.1:(\d+)"/.exec(await import('node:fs').then((fs) => fs.readFileSync(config, 'utf8')))![1]!;
    const tail = runTail(['--url', `http://127.0.0.1:${port}`, '--agent', 'ci-1'], { INTENTDNS_ADMIN_TOKEN: TOKEN });
    try {
      expect(await untilPrinted(tail, 'api.github.com')).toContain(' ci-1 coding api.github.com A forward allowlist');
    } finally {
      await tail.kill();
    }
  }, 20_000);

  it('exits 1 with a clear message when the token is refused', async () => {
    const tail = runTail(['--config', config], { INTENTDNS_ADMIN_TOKEN: 'wrong-token' });
    expect(await tail.exited).toBe(1);
    expect(tail.stderr()).toMatch(/^intentdns tail: http:\/\/127\.0\.0\.1:\d+ refused the admin token \(401\): check INTENTDNS_ADMIN_TOKEN/);
    expect(tail.out.filter((l) => l !== '')).toEqual([]);
  }, 20_000);

  it('exits 1 with a clear message when nothing listens at the URL', async () => {
    const { http } = await freePorts();
    const tail = runTail(['--url', `http://127.0.0.1:${http}`], { INTENTDNS_ADMIN_TOKEN: TOKEN });
    expect(await tail.exited).toBe(1);
    expect(tail.stderr()).toContain(`intentdns tail: connection refused by 127.0.0.1:${http}`);
  }, 20_000);

  it('exits 2 for an action no decision has, before connecting', async () => {
    const tail = runTail(['--config', config, '--action', 'blocked']);
    expect(await tail.exited).toBe(2);
    expect(tail.stderr()).toContain('unknown action "blocked"; one of forward, sinkhole, hold, refuse, drop');
  }, 20_000);

  it('ends quietly (exit 0, nothing on stderr) when its reader goes away, as under `| head`', async () => {
    const tail = runTail(['--config', config]);
    await untilPrinted(tail, 'github.com');
    tail.closeStdout();
    // The next lines hit the closed pipe.
    for (let i = 0; i < 5 && (await Promise.race([tail.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 100))])) === false; i++) await ask('github.com');
    expect(await tail.exited).toBe(0);
    expect(tail.stderr()).toBe('');
  }, 20_000);
});
