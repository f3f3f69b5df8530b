import type { ConfigIssue } from '../config/errors.js';
import type { ConfigLocations } from '../config/locate.js';
import type { Config } from '../config/types.js';

/** Roles no client entry names: nothing they say applies to any query. */
export function unusedRoles(config: Config, where: ConfigLocations): ConfigIssue[] {
  const used = new Set(config.clients.map((c) => c.role));
  return [...config.roles.keys()].filter((name) => !used.has(name)).map((name) => where.issue(['roles', name],
    `roles.${name}: no client entry uses this role`, { key: true }));
}
