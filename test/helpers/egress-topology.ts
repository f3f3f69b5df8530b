/**
 * The firewall e2e topology, in network namespaces it creates and always
 * removes (remove() in afterAll, and on a failed start): an agent namespace
 * (10.123.1.0/24, one or more agent addresses), a server namespace
 * (10.123.2.0/24, TCP listeners on the given ports of every address), routed
 * through a router namespace that loads deploy/nftables/agent-egress.nft,
 * edited by the caller (role ranges pointed at the agents, DoH addresses).
 * Traffic to 10.123.x.y flows only inside the namespaces; intentdns itself
 * runs on loopback and writes the router's sets through `nftCommand`.
 *
 *   const topo = await startEgressTopology({ agents: ['10.123.1.2'], servers: ['10.123.2.2'], ports: [8080],
 *     ruleset: (text) => text.replace(...) });
 *   await topo.connect('10.123.1.2', '10.123.2.2', 8080);   // 'open', 'timeout' (dropped), or an error code
 *   await topo.remove();
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const RULESET = fileURLToPath(new URL('../../deploy/nftables/agent-egress.nft', import.meta.url));

export interface EgressTopologyOptions {
  /** Agent addresses, in 10.123.1.0/24 (not .1, the router). */
  readonly agents: readonly string[];
  /** Server addresses, in 10.123.2.0/24 (not .1). */
  readonly servers: readonly string[];
  /** TCP ports the server listens on, on every address. */
  readonly ports: readonly number[];
  /** The test's copy of agent-egress.nft, from the shipped text. */
  readonly ruleset: (shipped: string) => string;
}

export interface EgressTopology {
  readonly ns: { readonly agent: string; readonly router: string; readonly server: string };
  /** The nft command of the router namespace, for ServerOptions.nftCommand. */
  readonly nftCommand: readonly string[];
  /** One TCP connect from `from` in the agent namespace: "open", "timeout" for a drop, or the error code. */
  connect(from: string, to: string, port: number): Promise<string>;
  /** `nft <args>` in the router namespace; its stdout. */
  nft(...args: string[]): Promise<string>;
  remove(): Promise<void>;
}

export async function startEgressTopology(opts: EgressTopologyOptions): Promise<EgressTopology> {
  const suffix = Math.random().toString(16).slice(2, 8);
  const ns = { agent: `intentdns-test-a-${suffix}`, router: `intentdns-test-r-${suffix}`, server: `intentdns-test-s-${suffix}` };
  const ip = (...args: string[]) => run('ip', args);
  const inNs = (name: string, ...args: string[]) => run('ip', ['netns', 'exec', name, ...args]);
  let server: ChildProcess | null = null;
  let dir = '';
  const remove = async (): Promise<void> => {
    if (server?.pid !== undefined && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    for (const name of Object.values(ns)) await ip('netns', 'del', name).catch(() => {});
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const name of Object.values(ns)) await ip('netns', 'add', name);
    // fwa0 (agent) ⇄ agents0 (router), fws0 (router) ⇄ fwsrv (server)
    await ip('link', 'add', 'fwa0', 'netns', ns.agent, 'type', 'veth', 'peer', 'name', 'agents0', 'netns', ns.router);
    await ip('link', 'add', 'fws0', 'netns', ns.router, 'type', 'veth', 'peer', 'name', 'fwsrv', 'netns', ns.server);
    for (const a of opts.agents) await inNs(ns.agent, 'ip', 'addr', 'add', `${a}/24`, 'dev', 'fwa0');
    await inNs(ns.agent, 'ip', 'link', 'set', 'fwa0', 'up');
    await inNs(ns.agent, 'ip', 'route', 'add', 'default', 'via', '10.123.1.1');
    await inNs(ns.router, 'ip', 'addr', 'add', '10.123.1.1/24', 'dev', 'agents0');
    await inNs(ns.router, 'ip', 'addr', 'add', '10.123.2.1/24', 'dev', 'fws0');
    await inNs(ns.router, 'ip', 'link', 'set', 'agents0', 'up');
    await inNs(ns.router, 'ip', 'link', 'set', 'fws0', 'up');
    await inNs(ns.router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
    for (const s of opts.servers) await inNs(ns.server, 'ip', 'addr', 'add', `${s}/24`, 'dev', 'fwsrv');
    await inNs(ns.server, 'ip', 'link', 'set', 'fwsrv', 'up');
    await inNs(ns.server, 'ip', 'route', 'add', 'default', 'via', '10.123.2.1');
    dir = mkdtempSync(join(tmpdir(), 'intentdns-fw-'));
    writeFileSync(join(dir, 'egress.nft'), opts.ruleset(readFileSync(RULESET, 'utf8')));
    await inNs(ns.router, 'nft', '-f', join(dir, 'egress.nft'));
    const listen = opts.ports.map((p) => `require('net').createServer((s)=>{s.on('error',()=>{});s.end('hi')}).listen(${p},'0.0.0.0',()=>{if(++n===${opts.ports.length})console.log('listening')});`).join('');
    server = spawn('ip', ['netns', 'exec', ns.server, process.execPath, '-e', `let n=0;${listen}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      server!.stdout!.once('data', () => resolve());
      server!.once('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
  } catch (err) {
    await remove();
    throw err;
  }
  return {
    ns,
    nftCommand: ['ip', 'netns', 'exec', ns.router, 'nft'],
    async connect(from, to, port) {
      const script = `const s=require('net').connect({host:'${to}',port:${port},localAddress:'${from}'});` +
        `const t=setTimeout(()=>{console.log('timeout');process.exit(0)},700);` +
        `s.on('connect',()=>{console.log('open');process.exit(0)});s.on('error',(e)=>{console.log(e.code);process.exit(0)});`;
      const { stdout } = await inNs(ns.agent, process.execPath, '-e', script);
      return stdout.trim();
    },
    nft: async (...args) => (await inNs(ns.router, 'nft', ...args)).stdout,
    remove,
  };
}
