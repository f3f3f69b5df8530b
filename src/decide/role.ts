import type { RoleConfig } from '../config/types.js';
import type { RolePolicy } from '../pipeline/types.js';
import { TimeSlices } from '../slices.js';
import { NameSet } from './names.js';

/** A role's three lists, compiled. */
interface RoleSets {
  readonly allow: NameSet;
  readonly deny: NameSet;
  readonly privateOk: NameSet;
}

/** A role's lists turned into lookup structures once per config snapshot. */
export class Role implements RolePolicy {
  readonly name: string;
  readonly allow: NameSet;
  readonly deny: NameSet;
  readonly privateOk: NameSet;
  readonly unlisted: RoleConfig['unlisted'];
  /** Null when the role names no qtypes: every type may be asked. */
  readonly #qtypes: ReadonlySet<number> | null;

  constructor(config: RoleConfig, sets: RoleSets = compileSets(config)) {
    this.name = config.name;
    this.allow = sets.allow;
    this.deny = sets.deny;
    this.privateOk = sets.privateOk;
    this.unlisted = config.unlisted;
    this.#qtypes = config.qtypes ? new Set(config.qtypes) : null;
  }

  allowsType(qtype: number): boolean {
    return this.#qtypes === null || this.#qtypes.has(qtype);
  }
}

export function compileRoles(roles: ReadonlyMap<string, RoleConfig>): ReadonlyMap<string, Role> {
  const out = new Map<string, Role>();
  for (const [name, config] of roles) out.set(name, new Role(config));
  return out;
}

/**
 * compileRoles in time slices, for a reload: it runs on the event loop that
 * answers queries, and a million-name list takes seconds to put in its maps.
 * Nothing is visible until the whole map resolves.
 */
export async function compileRolesAsync(
  roles: ReadonlyMap<string, RoleConfig>,
  slices: TimeSlices = new TimeSlices(),
): Promise<ReadonlyMap<string, Role>> {
  const out = new Map<string, Role>();
  for (const [name, config] of roles) {
    const sets: RoleSets = {
      allow: await NameSet.build(config.allow, slices),
      deny: await NameSet.build(config.deny, slices),
      privateOk: await NameSet.build(config.privateOk, slices),
    };
    out.set(name, new Role(config, sets));
  }
  return out;
}

function compileSets(config: RoleConfig): RoleSets {
  return { allow: new NameSet(config.allow), deny: new NameSet(config.deny), privateOk: new NameSet(config.privateOk) };
}
