/**
 * Network namespaces for the firewall and stub-resolver tests: each test file
 * makes its own (`intentdns-test-<random>`) and removes it in afterAll/finally,
 * so nft runs against a ruleset nobody else uses and the host's own stays untouched.
 *
 *   const ns = await createNamespace();     // null (and a reason) where ip netns or nft is unavailable
 *   await ns.nft('list table inet intentdns');
 *   ...
 *   await ns.remove();
 *
 * An agent host, reachable from the root namespace (where intentdns can listen
 * on `ns.link.host`), with its own resolv.conf:
 *
 *   const ns = await createNamespace({ link: true, resolvConf: (link) => `nameserver ${link.host}\n` });
 *   ns.link;   // { host: '10.124.7.1', inside: '10.124.7.2', inside6: 'fd00:124:7::2', hostIf: 'idns…' }
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Namespace {
  readonly name: string;
  /** The veth pair to the root namespace (createNamespace's `link`), or null. */
  readonly link: Link | null;
  /** The nft command the writer runs inside the namespace. */
  readonly nftCommand: readonly string[];
  /** Runs a command inside the namespace; its stdout. */
  exec(args: readonly string[]): Promise<string>;
  /** `nft <script>` inside the namespace (words split on spaces); its stdout. */
  nft(command: string): Promise<string>;
  /** `nft -j list set inet <table> <set>`: each element's address and timeout/expires in seconds. */
  elements(table: string, set: string): Promise<Map<string, { timeout: number; expires: number }>>;
  remove(): Promise<void>;
}

/**
 * Why namespace tests cannot run here, or null when they can (root, ip netns, and nft unless
 * `nft: false`: the stub-resolver test needs none). In CI (CI=true, where .ci/run installs
 * nftables and iproute2 as root) a missing piece is a failure, never a skip: the namespace tests
 * must not pass there by not running.
 */
export async function namespaceUnavailable(opts: { nft?: boolean } = {}): Promise<string | null> {
  const why = await probeNamespaces(opts.nft ?? true);
  if (why !== null && process.env.CI === 'true') throw new Error(`namespace tests cannot run in CI: ${why}`);
  return why;
}

async function probeNamespaces(nft: boolean): Promise<string | null> {
  if (nft) {
    try {
      await run('nft', ['--version']);
    } catch {
      return 'nft is not on PATH (install nftables)';
    }
  }
  try {
    await run('ip', ['netns', 'list']);
  } catch {
    return 'ip netns is unavailable (install iproute2)';
  }
  const probe = await createNamespace().catch((err: unknown) => String(err));
  if (typeof probe === 'string') return `cannot create a network namespace (needs root / CAP_SYS_ADMIN): ${probe}`;
  try {
    if (nft) await probe.nft('list tables');
  } catch (err) {
    return `nft cannot run in a network namespace: ${String(err)}`;
  } finally {
    await probe.remove();
  }
  return null;
}

/** A veth pair between the root namespace and a namespace, on a /24 of 10.124.0.0/16 no root address uses. */
export interface Link {
  /** The root namespace's end: where a server the namespace should reach listens. */
  readonly host: string;
  /** The namespace's end, its source address; the namespace's default route points at `host`. */
  readonly inside: string;
  /** An IPv6 address (ULA, no DAD) on the namespace's end too, so the host counts as dual-stack for AI_ADDRCONFIG. */
  readonly inside6: string;
  /** The root namespace's interface name. */
  readonly hostIf: string;
}

export interface NamespaceOptions {
  /** Connect the namespace to the root namespace with a veth pair (see Link). */
  readonly link?: boolean;
  /**
   * Written to /etc/netns/<name>/resolv.conf, which `ip netns exec` bind-mounts over
   * /etc/resolv.conf for every command it runs; remove() deletes /etc/netns/<name>/.
   */
  readonly resolvConf?: (link: Link | null) => string;
}

/** Whether a createNamespace here made /etc/netns itself: then the last remove() takes it away again. */
let madeEtcNetns = false;

export async function createNamespace(opts: NamespaceOptions = {}): Promise<Namespace> {
  const suffix = randomBytes(4).toString('hex');
  const name = `intentdns-test-${suffix}`;
  const etc = join('/etc/netns', name);
  let link: Link | null = null;
  const remove = async (): Promise<void> => {
    // Deleting the namespace destroys its veth end and with it the root one, unless a process still
    // holds the namespace: deleting the root end destroys the pair then.
    await run('ip', ['netns', 'del', name]).catch(() => {});
    if (link) await run('ip', ['link', 'del', link.hostIf]).catch(() => {});
    if (opts.resolvConf) {
      rmSync(etc, { recursive: true, force: true });
      if (madeEtcNetns) {
        try {
          rmdirSync('/etc/netns');
          madeEtcNetns = false;
        } catch {
          // another namespace of this process still has its folder there
        }
      }
    }
  };
  await run('ip', ['netns', 'add', name]);
  const exec = async (args: readonly string[]): Promise<string> => (await run('ip', ['netns', 'exec', name, ...args])).stdout;
  try {
    if (opts.link) link = await addLink(name, `idns${suffix}`);
    if (opts.resolvConf) {
      if (!existsSync('/etc/netns')) madeEtcNetns = true;
      mkdirSync(etc, { recursive: true });
      writeFileSync(join(etc, 'resolv.conf'), opts.resolvConf(link));
    }
  } catch (err) {
    await remove();
    throw err;
  }
  return {
    name,
    link,
    nftCommand: ['ip', 'netns', 'exec', name, 'nft'],
    exec,
    nft: (command) => exec(['nft', ...command.split(' ')]),
    async elements(table, set) {
      const json = JSON.parse(await exec(['nft', '-j', 'list', 'set', 'inet', table, set])) as NftJson;
      const out = new Map<string, { timeout: number; expires: number }>();
      for (const item of json.nftables) {
        for (const e of item.set?.elem ?? []) {
          if (typeof e === 'object' && 'elem' in e) out.set(String(e.elem.val), { timeout: e.elem.timeout ?? 0, expires: e.elem.expires ?? 0 });
        }
      }
      return out;
    },
    remove,
  };
}

async function addLink(ns: string, hostIf: string): Promise<Link> {
  const { stdout } = await run('ip', ['-4', '-o', 'addr', 'show']);
  const used = new Set([...stdout.matchAll(/inet 10\.124\.(\d+)\./g)].map((m) => Number(m[1])));
  const start = randomBytes(1)[0]!;
  let octet = -1;
  for (let i = 0; i < 256 && octet < 0; i++) if (!used.has((start + i) % 256)) octet = (start + i) % 256;
  if (octet < 0) throw new Error('no free /24 left in 10.124.0.0/16');
  const link: Link = { host: `10.124.${octet}.1`, inside: `10.124.${octet}.2`, inside6: `fd00:124:${octet}::2`, hostIf };
  const inNs = (...args: string[]) => run('ip', ['netns', 'exec', ns, 'ip', ...args]);
  await run('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await run('ip', ['addr', 'add', `${link.host}/24`, 'dev', hostIf]);
  await run('ip', ['link', 'set', hostIf, 'up']);
  await inNs('addr', 'add', `${link.inside}/24`, 'dev', 'eth0');
  await inNs('-6', 'addr', 'add', `${link.inside6}/64`, 'dev', 'eth0', 'nodad');
  await inNs('link', 'set', 'eth0', 'up');
  await inNs('link', 'set', 'lo', 'up');
  await inNs('route', 'add', 'default', 'via', link.host);
  return link;
}

interface NftJson {
  readonly nftables: ReadonlyArray<{ readonly set?: { readonly elem?: ReadonlyArray<string | { readonly elem: { val: string; timeout?: number; expires?: number } }> } }>;
}
