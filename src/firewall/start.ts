import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { FirewallStartError, NftError } from './errors.js';
import { setPair } from './names.js';
import type { NftReader } from './nft.js';
import type { SetElement, SetWriter } from './writer.js';

/** The sets made at start: for scope role, both sets of every role; for scope agent, none (each on its agent's first answer). */
export function startSets(config: Config): string[] {
  if (config.firewall?.scope !== 'role') return [];
  return [...config.roles.keys()].flatMap((role) => {
    const pair = setPair(role);
    return [pair.v4, pair.v6];
  });
}

/**
 * Creates `table inet <table>` and the start sets if missing; existing
 * elements stay. When that fails, on_error closed stops the start with a
 * message that names the missing piece; on_error open logs it and goes on
 * (every answer will then count as a firewall error and be answered).
 * @throws FirewallStartError
 */
export async function startFirewall(config: Config, writer: SetWriter, log: Logger, read?: NftReader): Promise<void> {
  const fw = config.firewall;
  if (!fw) return;
  const sets = startSets(config);
  try {
    await writer.createTable(sets);
    log.info({ table: `inet ${fw.table}`, sets }, 'firewall table ready');
  } catch (err) {
    return startFailed(fw, err, log);
  }
  if (!read) return;
  // What an earlier run wrote, so that it is never shortened; not being able to read it costs only that.
  try {
    const existing = parseElements(await read(['-j', 'list', 'table', 'inet', fw.table]), fw.table, Date.now());
    writer.seed(existing);
    log.debug({ elements: existing.length }, 'firewall: existing set elements remembered');
  } catch (err) {
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'firewall: could not read the existing set elements; their timeouts may be shortened once');
  }
}

/** on_error closed: the start stops here; open: logged, and serving goes on. @throws FirewallStartError */
function startFailed(fw: NonNullable<Config['firewall']>, err: unknown, log: Logger): void {
  {
    const message = `firewall: cannot create table inet ${fw.table}: ${missingPiece(err)}`;
    if (fw.onError === 'closed') {
      throw new FirewallStartError(`${message} (set firewall.on_error: open to serve without it)`, { cause: err });
    }
    log.error({ err: err instanceof Error ? err.message : String(err), table: fw.table }, `${message}; serving anyway (on_error: open)`);
  }
}

/** The elements with a timeout in `nft -j list table` output, each with its expiry (epoch ms). */
export function parseElements(json: string, table: string, now: number): SetElement[] {
  const doc = JSON.parse(json) as { nftables?: Array<{ set?: { table?: string; name?: string; type?: string; elem?: unknown[] } }> };
  const out: SetElement[] = [];
  for (const item of doc.nftables ?? []) {
    const set = item.set;
    if (!set || set.table !== table || !set.name || !Array.isArray(set.elem)) continue;
    const family = set.type === 'ipv6_addr' ? 6 : 4;
    for (const e of set.elem) {
      const elem = (e as { elem?: { val?: unknown; expires?: unknown } }).elem;
      if (typeof elem?.val !== 'string' || typeof elem.expires !== 'number') continue;
      out.push({ set: set.name, family, address: elem.val, expiresAt: now + elem.expires * 1000 });
    }
  }
  return out;
}

function missingPiece(err: unknown): string {
  if (!(err instanceof NftError)) return String(err);
  switch (err.failure) {
    case 'nft_missing': return `the nft binary is missing (${err.message})`;
    case 'permission': return `CAP_NET_ADMIN is missing (${err.message})`;
    case 'nft_timeout': return `nft did not answer (${err.message})`;
    case 'nft_failed': return err.message;
  }
}

/**
 * liveCounts as metric series, bounded by the config: one per set of a
 * configured role (scope role) or of a client entry naming one agent (scope
 * agent); the sets of `{ip}` template agents, and of anything a reload
 * dropped, are summed under "other".
 */
export function elementSeries(config: Config, counts: ReadonlyMap<string, number>): Record<string, number> {
  const fw = config.firewall;
  if (!fw) return {};
  const names = fw.scope === 'role' ? [...config.roles.keys()] : config.clients.map((c) => c.name).filter((n) => !n.includes('{ip}'));
  const known = new Set(names.flatMap((n) => [setPair(n).v4, setPair(n).v6]));
  const out: Record<string, number> = {};
  for (const set of known) out[set] = 0;
  for (const [set, count] of counts) {
    const label = known.has(set) ? set : 'other';
    out[label] = (out[label] ?? 0) + count;
  }
  return out;
}
