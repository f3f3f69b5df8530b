/**
 * Network namespaces for the firewall tests: each test file makes its own
 * (`intentdns-test-<random>`) and removes it in afterAll/finally, so nft runs
 * against a ruleset nobody else uses and the host's own stays untouched.
 *
 *   const ns = await createNamespace();     // null (and a reason) where ip netns or nft is unavailable
 *   await ns.nft('list table inet intentdns');
 *   ...
 *   await ns.remove();
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Namespace {
  readonly name: string;
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
 * Why namespace tests cannot run here, or null when they can (root, ip netns, nft). In CI
 * (CI=true, where .ci/run installs nftables and iproute2 as root) a missing piece is a failure,
 * never a skip: the firewall tests must not pass there by not running.
 */
export async function namespaceUnavailable(): Promise<string | null> {
  const why = await probeNamespaces();
  if (why !== null && process.env.CI === 'true') throw new Error(`namespace tests cannot run in CI: ${why}`);
  return why;
}

async function probeNamespaces(): Promise<string | null> {
  try {
    await run('nft', ['--version']);
  } catch {
    return 'nft is not on PATH (install nftables)';
  }
  try {
    await run('ip', ['netns', 'list']);
  } catch {
    return 'ip netns is unavailable (install iproute2)';
  }
  const probe = await createNamespace().catch((err: unknown) => String(err));
  if (typeof probe === 'string') return `cannot create a network namespace (needs root / CAP_SYS_ADMIN): ${probe}`;
  try {
    await probe.nft('list tables');
  } catch (err) {
    return `nft cannot run in a network namespace: ${String(err)}`;
  } finally {
    await probe.remove();
  }
  return null;
}

export async function createNamespace(): Promise<Namespace> {
  const name = `intentdns-test-${randomBytes(4).toString('hex')}`;
  await run('ip', ['netns', 'add', name]);
  const exec = async (args: readonly string[]): Promise<string> => (await run('ip', ['netns', 'exec', name, ...args])).stdout;
  return {
    name,
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
    async remove() {
      await run('ip', ['netns', 'del', name]).catch(() => {});
    },
  };
}

interface NftJson {
  readonly nftables: ReadonlyArray<{ readonly set?: { readonly elem?: ReadonlyArray<string | { readonly elem: { val: string; timeout?: number; expires?: number } }> } }>;
}
