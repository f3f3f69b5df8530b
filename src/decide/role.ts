import type { RoleConfig } from '../config/types.js';
import type { RolePolicy } from '../pipeline/types.js';
import { NameSet } from './names.js';

/** A role's lists turned into lookup structures once per config snapshot. */
export class Role implements RolePolicy {
  readonly name: string;
  readonly allow: NameSet;
  readonly deny: NameSet;
  readonly privateOk: NameSet;
  readonly unlisted: RoleConfig['unlisted'];
  /** Null when the role names no qtypes: every type may be asked. */
  readonly #qtypes: ReadonlySet<number> | null;

  constructor(config: RoleConfig) {
    this.name = config.name;
    this.allow = new NameSet(config.allow);
    this.deny = new NameSet(config.deny);
    this.privateOk = new NameSet(config.privateOk);
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
