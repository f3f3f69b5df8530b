import { BlockList, isIPv4 } from 'node:net';
import type { Cidr, ClientRule, Mode } from '../config/types.js';
import type { Agent, ModeSource, RolePolicy } from '../pipeline/types.js';
import { canonicalAddress } from './address.js';

const MAX_REMEMBERED = 10_000;
const IP = '{ip}';

interface CompiledRule {
  readonly rule: ClientRule;
  readonly blocks: BlockList;
  readonly role: RolePolicy;
  /** The entry's effective mode and where it came from, resolved here once for every agent it produces. */
  readonly mode: Mode;
  readonly modeFrom: ModeSource;
  /** For a name with `{ip}`: the name with each `{ip}` as a capture group, any case. */
  readonly template: RegExp | null;
}

/** What identify would call an agent that an operator spelled some other way. */
export interface AgentName {
  /** The name exactly as identify gives it. */
  readonly name: string;
  /** The `clients:` entry that produces it, by its name as written. */
  readonly entry: string;
  /** The source address behind the name, for an `{ip}` entry; null for a fixed name. */
  readonly address: string | null;
}

/**
 * Source address → agent. Rules are tried in config order and the first whose
 * CIDRs contain the address wins. Results are remembered per address, so the
 * ordered scan runs once per client, not once per query.
 *
 * It also answers the opposite question for the admin API: which agent (or
 * client entry) an operator means by a name, whatever its spelling.
 */
export class ClientTable {
  readonly #rules: readonly CompiledRule[];
  readonly #seen = new Map<string, Agent | null>();

  /** `mode`: the config's global mode, for entries whose client and role set none. */
  constructor(rules: readonly ClientRule[], roles: ReadonlyMap<string, RolePolicy>, mode: Mode) {
    this.#rules = rules.map((rule) => {
      const blocks = new BlockList();
      for (const cidr of rule.match) blocks.addSubnet(cidr.network, cidr.prefix, family(cidr));
      const role = roles.get(rule.role);
      if (!role) throw new Error(`client ${rule.name} names undefined role ${rule.role}`);   // the loader already rejects this
      return { rule, blocks, role, ...effectiveMode(rule, role, mode), template: templateOf(rule.name) };
    });
  }

  /** The agent for a source address, or null for a stranger. */
  lookup(address: string): Agent | null {
    const known = this.#seen.get(address);
    if (known !== undefined) return known;
    const agent = this.#resolve(address);
    if (this.#seen.size >= MAX_REMEMBERED) this.#seen.clear();
    this.#seen.set(address, agent);
    return agent;
  }

  /**
   * The agent an operator means by `spelled`: names compare without regard to
   * case, and the address inside an `{ip}` name is read as an address
   * ("fd00:20:1::0:7" is "fd00:20:1::7", "::ffff:10.20.1.7" is "10.20.1.7").
   * Null when no entry can produce the name: a fixed name no entry has, or an
   * address that is not one, lies outside the entry's ranges, or is claimed
   * by an earlier entry (first match wins).
   */
  agentNamed(spelled: string): AgentName | null {
    const wanted = spelled.toLowerCase();
    for (const { rule, template } of this.#rules) {
      if (template === null) {
        if (rule.name.toLowerCase() === wanted) return { name: rule.name, entry: rule.name, address: null };
        continue;
      }
      const address = templateAddress(template, spelled);
      if (address === null) continue;
      const agent = this.#resolve(address);
      const name = rule.name.replaceAll(IP, address);
      if (agent !== null && agent.entry === rule.name && agent.name === name) return { name, entry: rule.name, address };
    }
    return null;
  }

  /** The name of the `clients:` entry an operator means (any case), as the config writes it; null when there is none. */
  entryNamed(spelled: string): string | null {
    const wanted = spelled.toLowerCase();
    return this.#rules.find(({ rule }) => rule.name.toLowerCase() === wanted)?.rule.name ?? null;
  }

  /** Whether any entry's ranges share an address with `cidr`, i.e. a quarantine of it can reach an agent. */
  overlaps(cidr: Cidr): boolean {
    const range = new BlockList();
    range.addSubnet(cidr.network, cidr.prefix, family(cidr));
    return this.#rules.some(({ rule, blocks }) => rule.match.some((m) =>
      m.family === cidr.family && (blocks.check(cidr.network, family(cidr)) || range.check(m.network, family(m)))));
  }

  #resolve(raw: string): Agent | null {
    // A dual-stack socket shows IPv4 clients as ::ffff:a.b.c.d; rules are written for a.b.c.d.
    const address = raw.startsWith('::ffff:') && isIPv4(raw.slice(7)) ? raw.slice(7) : raw;
    const kind = isIPv4(address) ? 'ipv4' : 'ipv6';
    for (const { rule, blocks, role, mode, modeFrom } of this.#rules) {
      if (blocks.check(address, kind)) return { name: rule.name.replaceAll(IP, address), entry: rule.name, address, role, mode, modeFrom };
    }
    return null;
  }
}

/** The client's own mode wins over its role's, the role's over the global one (the spec's order). */
export function effectiveMode(rule: ClientRule, role: RolePolicy, global: Mode): { mode: Mode; modeFrom: ModeSource } {
  if (rule.mode !== null) return { mode: rule.mode, modeFrom: 'client' };
  if (role.mode !== null) return { mode: role.mode, modeFrom: 'role' };
  return { mode: global, modeFrom: 'global' };
}

function family(cidr: Cidr): 'ipv4' | 'ipv6' {
  return cidr.family === 4 ? 'ipv4' : 'ipv6';
}

function templateOf(name: string): RegExp | null {
  if (!name.includes(IP)) return null;
  const literal = name.split(IP).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  // An address is hex digits, colons, dots, and a zone after "%"; nothing else can stand for {ip}.
  return new RegExp(`^${literal.join('([0-9a-fA-F:.]+(?:%[^%]+)?)')}$`, 'i');
}

/** The canonical address `spelled` puts where the template has `{ip}` (the same at every place), or null. */
function templateAddress(template: RegExp, spelled: string): string | null {
  const m = template.exec(spelled);
  if (m === null) return null;
  const addresses = new Set(m.slice(1).map((text) => canonicalAddress(text ?? '')));
  const [address] = addresses;
  return addresses.size === 1 && address !== undefined && address !== null ? address : null;
}
