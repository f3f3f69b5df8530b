import type { RoleConfig } from '../config/types.js';
import type { ListsMatch, RolePolicy } from '../pipeline/types.js';
import { TimeSlices } from '../slices.js';
import { Memo } from './memo.js';
import { NameSet } from './names.js';

/** Names whose ListsMatch a role remembers per memo generation (memo.ts): at most twice that. */
const LISTS_MEMO_GENERATION = 8192;

const NO_MATCH: ListsMatch = Object.freeze({ deny: undefined, allow: undefined });

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
  readonly tunneling: RoleConfig['tunneling'];
  readonly mode: RoleConfig['mode'];
  /** Null when the role names no qtypes: every type may be asked. */
  readonly #qtypes: ReadonlySet<number> | null;
  /**
   * Both lists' answer per name, so a query asked again costs one lookup for both instead of
   * one per list (a lookup is a hash of the name, plus a slice and a hash per label on a miss).
   */
  readonly #lists = new Memo<ListsMatch>(LISTS_MEMO_GENERATION);

  constructor(config: RoleConfig, sets: RoleSets = compileSets(config)) {
    this.name = config.name;
    this.allow = sets.allow;
    this.deny = sets.deny;
    this.privateOk = sets.privateOk;
    this.unlisted = config.unlisted;
    this.tunneling = config.tunneling;
    this.mode = config.mode;
    this.#qtypes = config.qtypes ? new Set(config.qtypes) : null;
  }

  allowsType(qtype: number): boolean {
    return this.#qtypes === null || this.#qtypes.has(qtype);
  }

  lists(name: string): ListsMatch {
    let match = this.#lists.get(name);
    if (match === undefined) {
      const deny = this.deny.lookup(name);
      // With a deny rule the allow list is not read (deny wins); "none" is one shared object.
      const allow = deny === undefined ? this.allow.lookup(name) : undefined;
      match = deny === undefined && allow === undefined ? NO_MATCH : { deny, allow };
      this.#lists.set(name, match);
    }
    return match;
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
