import { BlockList, isIPv4 } from 'node:net';
import type { ClientRule } from '../config/types.js';
import type { Agent, RolePolicy } from '../pipeline/types.js';

const MAX_REMEMBERED = 10_000;

/**
 * Source address → agent. Rules are tried in config order and the first whose
 * CIDRs contain the address wins. Results are remembered per address, so the
 * ordered scan runs once per client, not once per query.
 */
export class ClientTable {
  readonly #rules: ReadonlyArray<{ rule: ClientRule; blocks: BlockList; role: RolePolicy }>;
  readonly #seen = new Map<string, Agent | null>();

  constructor(rules: readonly ClientRule[], roles: ReadonlyMap<string, RolePolicy>) {
    this.#rules = rules.map((rule) => {
      const blocks = new BlockList();
      for (const cidr of rule.match) blocks.addSubnet(cidr.network, cidr.prefix, cidr.family === 4 ? 'ipv4' : 'ipv6');
      const role = roles.get(rule.role);
      if (!role) throw new Error(`client ${rule.name} names undefined role ${rule.role}`);   // the loader already rejects this
      return { rule, blocks, role };
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

  #resolve(raw: string): Agent | null {
    // A dual-stack socket shows IPv4 clients as ::ffff:a.b.c.d; rules are written for a.b.c.d.
    const address = raw.startsWith('::ffff:') && isIPv4(raw.slice(7)) ? raw.slice(7) : raw;
    const family = isIPv4(address) ? 'ipv4' : 'ipv6';
    for (const { rule, blocks, role } of this.#rules) {
      if (blocks.check(address, family)) return { name: rule.name.replaceAll('{ip}', address), role };
    }
    return null;
  }
}
