import { bigIntToIp, ipToBigInt } from '../config/address.js';
import type { ConfigIssue } from '../config/errors.js';
import type { ConfigLocations } from '../config/locate.js';
import type { Cidr, Config } from '../config/types.js';
import { compileRoles } from '../decide/role.js';
import { ClientTable } from '../identify/clients.js';

/** A range as a number and a prefix length, so it can be halved. */
interface Block {
  readonly value: bigint;
  readonly prefix: number;
  readonly family: 4 | 6;
}

/**
 * Client entries, and single `match` ranges, that can never match: every
 * address in them is claimed first by earlier entries (first match wins).
 * Who claims an address is asked of identify's own ClientTable, so this
 * cannot disagree with serving; range arithmetic only picks which addresses
 * to ask about. An entry that earlier ones cover only in part is the usual
 * "specific host before its subnet" layout and is left alone.
 */
export function shadowedClients(config: Config, where: ConfigLocations): ConfigIssue[] {
  // Entries renamed to their index: names need not be unique, and an {ip} name would change per address.
  const table = new ClientTable(config.clients.map((rule, i) => ({ ...rule, name: String(i) })), compileRoles(config.roles), config.mode);
  const ownerOf = (block: Block): number => Number(table.lookup(bigIntToIp(block.value, block.family))?.name ?? -1);
  const issues: ConfigIssue[] = [];

  config.clients.forEach((client, i) => {
    const earlier = config.clients.slice(0, i).flatMap((c) => c.match.map(toBlock));
    const owners = client.match.map((cidr) => earlierOwners(toBlock(cidr), earlier, i, ownerOf));
    const dead = owners.flatMap((o, j) => (o === null ? [] : [j]));
    const describe = (o: ReadonlySet<number>): string =>
      [...o].sort((a, b) => a - b).map((k) => `clients[${k}] "${config.clients[k]!.name}" (line ${where.position(['clients', k]).line})`).join(', ');

    if (dead.length === client.match.length && dead.length > 0) {
      const all = new Set(owners.flatMap((o) => [...(o ?? [])]));
      issues.push(where.issue(['clients', i],
        `clients[${i}] "${client.name}" never matches: every address in it is claimed first by ${describe(all)}`));
      return;
    }
    for (const j of dead) {
      issues.push(where.issue(['clients', i, 'match', j],
        `clients[${i}].match[${j}] ${client.match[j]!.text} never matches: every address in it is claimed first by ${describe(owners[j]!)}`));
    }
  });
  return issues;
}

/**
 * The earlier entries that claim the whole of `block`, or null when some part
 * of it reaches entry `self` (or nobody). Inside a block that no earlier
 * range starts strictly within, every address has the same owner, so one
 * lookup answers for it; otherwise the block is halved.
 */
function earlierOwners(block: Block, earlier: readonly Block[], self: number, ownerOf: (b: Block) => number): Set<number> | null {
  const inside = earlier.filter((e) => e.family === block.family && e.prefix > block.prefix && contains(block, e));
  if (inside.length === 0) {
    const owner = ownerOf(block);
    return owner >= 0 && owner < self ? new Set([owner]) : null;
  }
  const owners = new Set<number>();
  for (const half of halves(block)) {
    const found = earlierOwners(half, inside, self, ownerOf);
    if (found === null) return null;
    for (const o of found) owners.add(o);
  }
  return owners;
}

function toBlock(cidr: Cidr): Block {
  return { value: ipToBigInt(cidr.network, cidr.family), prefix: cidr.prefix, family: cidr.family };
}

const bits = (b: Block): number => (b.family === 4 ? 32 : 128);

function contains(outer: Block, inner: Block): boolean {
  const shift = BigInt(bits(outer) - outer.prefix);
  return inner.prefix >= outer.prefix && inner.value >> shift === outer.value >> shift;
}

function halves(b: Block): [Block, Block] {
  const prefix = b.prefix + 1;
  return [{ ...b, prefix }, { ...b, prefix, value: b.value | (1n << BigInt(bits(b) - prefix)) }];
}
