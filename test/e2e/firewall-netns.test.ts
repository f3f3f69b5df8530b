/**
 * Firewall sync, end to end across network namespaces this file creates and
 * always removes: an agent namespace (10.123.1.2) and a server namespace
 * (10.123.2.2 and .3), routed through a router namespace that runs
 * deploy/nftables/agent-egress.nft (its role ranges pointed at the agent). The
 * proxy runs here on loopback and writes the router's sets (its nft runs in
 * the router namespace); the test's DNS queries come from 127.0.0.1, which the
 * config names as that agent. Traffic to 10.123.x.y flows only inside the
 * namespaces.
 *
 * Timeline checked: before resolving, no TCP connection to the server; a
 * denied name pointing at it opens nothing; after resolving an allowed name,
 * the connection opens; a raw IP next to it stays closed; after the answer's
 * TTL + grace, closed again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { namespaceUnavailable } from '../helpers/netns.js';
import { startProxy, type Proxy } from '../helpers/proxy.js';

const run = promisify(execFile);
const RULESET = fileURLToPath(new URL('../../deploy/nftables/agent-egress.nft', import.meta.url));
const unavailable = await namespaceUnavailable();
if (unavailable) console.warn(`SKIPPED firewall namespace e2e test: ${unavailable}`);

const suffix = Math.random().toString(16).slice(2, 8);
const NS = { agent: `intentdns-test-a-${suffix}`, router: `intentdns-test-r-${suffix}`, server: `intentdns-test-s-${suffix}` };
const SERVER = '10.123.2.2';
const RAW = '10.123.2.3';
const PORT = 8080;

const ip = (...args: string[]) => run('ip', args);
const inNs = (ns: string, ...args: string[]) => run('ip', ['netns', 'exec', ns, ...args]);

/** One TCP connect from the agent namespace: "open", or why not ("timeout" for a drop). */
async function connectFromAgent(address: string): Promise<string> {
  const script = `const s=require('net').connect({host:'${address}',port:${PORT}});` +
    `const t=setTimeout(()=>{console.log('timeout');process.exit(0)},700);` +
    `s.on('connect',()=>{console.log('open');process.exit(0)});s.on('error',(e)=>{console.log(e.code);process.exit(0)});`;
  const { stdout } = await inNs(NS.agent, process.execPath, '-e', script);
  return stdout.trim();
}

describe.skipIf(unavailable !== null)('agent → router (agent-egress.nft) → server, sets written by intentdns', () => {
  let server: ChildProcess | null = null;
  let proxy: Proxy | null = null;
  let dir = '';
  const timeline: string[] = [];

  beforeAll(async () => {
    for (const ns of Object.values(NS)) await ip('netns', 'add', ns);
    // agent0 (agent) ⇄ agents0 (router), serv0 (router) ⇄ eth0 (server)
    await ip('link', 'add', 'fwa0', 'netns', NS.agent, 'type', 'veth', 'peer', 'name', 'agents0', 'netns', NS.router);
    await ip('link', 'add', 'fws0', 'netns', NS.router, 'type', 'veth', 'peer', 'name', 'fwsrv', 'netns', NS.server);
    await inNs(NS.agent, 'ip', 'addr', 'add', '10.123.1.2/24', 'dev', 'fwa0');
    await inNs(NS.agent, 'ip', 'link', 'set', 'fwa0', 'up');
    await inNs(NS.agent, 'ip', 'route', 'add', 'default', 'via', '10.123.1.1');
    await inNs(NS.router, 'ip', 'addr', 'add', '10.123.1.1/24', 'dev', 'agents0');
    await inNs(NS.router, 'ip', 'addr', 'add', '10.123.2.1/24', 'dev', 'fws0');
    await inNs(NS.router, 'ip', 'link', 'set', 'agents0', 'up');
    await inNs(NS.router, 'ip', 'link', 'set', 'fws0', 'up');
    await inNs(NS.router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
    await inNs(NS.server, 'ip', 'addr', 'add', `${SERVER}/24`, 'dev', 'fwsrv');
    await inNs(NS.server, 'ip', 'addr', 'add', `${RAW}/24`, 'dev', 'fwsrv');
    await inNs(NS.server, 'ip', 'link', 'set', 'fwsrv', 'up');
    await inNs(NS.server, 'ip', 'route', 'add', 'default', 'via', '10.123.2.1');
    // The shipped ruleset, its coding role pointed at the agent's range.
    dir = mkdtempSync(join(tmpdir(), 'intentdns-fw-'));
    const ruleset = readFileSync(RULESET, 'utf8').replace(/^define CODING_AGENTS4 = .*$/m, 'define CODING_AGENTS4 = { 10.123.1.0/24 }');
    writeFileSync(join(dir, 'egress.nft'), ruleset);
    await inNs(NS.router, 'nft', '-f', join(dir, 'egress.nft'));
    server = spawn('ip', ['netns', 'exec', NS.server, process.execPath, '-e',
      `require('net').createServer((s)=>{s.on('error',()=>{});s.end('hi')}).listen(${PORT},'0.0.0.0',()=>console.log('listening'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      server!.stdout!.once('data', () => resolve());
      server!.once('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
    proxy = await startProxy({
      zone: {
        'app.allowed.test': [{ type: 'A', data: SERVER, ttl: 2 }],
        'app.denied.test': [{ type: 'A', data: SERVER, ttl: 300 }],
      },
      yaml: `
        version: 1
        answers: { block_private: false }
        clients: [{ name: agent-1, match: ["127.0.0.1/32"], role: coding }]
        roles: { coding: { allow: ["*.allowed.test"], deny: ["*.denied.test"], unlisted: sinkhole } }
        firewall: { table: intentdns, grace: 0s, wait: 2s, on_error: closed }`,
      server: { nftCommand: ['ip', 'netns', 'exec', NS.router, 'nft'] },
    });
  }, 30_000);

  afterAll(async () => {
    await proxy?.close();
    if (server?.pid !== undefined && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    for (const ns of Object.values(NS)) await ip('netns', 'del', ns).catch(() => {});
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (timeline.length > 0) console.log(`firewall e2e timeline:\n  ${timeline.join('\n  ')}`);
  });

  const step = async (what: string, address: string): Promise<string> => {
    const result = await connectFromAgent(address);
    timeline.push(`${new Date().toISOString()} ${what}: connect ${address}:${PORT} → ${result}`);
    return result;
  };

  it('opens exactly what the agent resolved through policy, for as long as the answer lives', async () => {
    expect(await step('before any answer', SERVER)).toBe('timeout');

    const denied = await proxy!.query('app.denied.test', 'A');
    expect(denied.log).toMatchObject({ action: 'sinkhole', reason: 'denylist' });
    expect(await step('after a denied name pointing at it', SERVER)).toBe('timeout');

    const allowed = await proxy!.query('app.allowed.test', 'A');
    expect(allowed.log).toMatchObject({ action: 'forward', reason: 'allowlist' });
    timeline.push(`set after resolving:\n${(await inNs(NS.router, 'nft', 'list', 'set', 'inet', 'intentdns', 'coding_v4')).stdout}`);
    expect(await step('after resolving app.allowed.test', SERVER)).toBe('open');
    expect(await step('raw IP next to it', RAW)).toBe('timeout');

    // TTL 2 s + grace 0: gone once that has passed.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await step('after TTL + grace', SERVER)).toBe('timeout');
    // The server is still up: resolving again opens it again.
    await proxy!.query('app.allowed.test', 'A');
    expect(await step('after resolving again', SERVER)).toBe('open');

    const counters = (await inNs(NS.router, 'nft', 'list', 'chain', 'inet', 'intentdns', 'agent_egress')).stdout;
    const dropped = /counter packets (\d+) bytes \d+ drop comment "egress not resolved through intentdns"/.exec(counters);
    expect(Number(dropped?.[1])).toBeGreaterThan(0);
    timeline.push(`table after the run:\n${(await inNs(NS.router, 'nft', 'list', 'set', 'inet', 'intentdns', 'coding_v4')).stdout}`);
  }, 30_000);
});
