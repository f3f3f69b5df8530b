import type { ConfigIssue } from '../config/errors.js';
import type { ConfigLocations, ConfigPath } from '../config/locate.js';
import type { Config, NamePattern, RoleConfig } from '../config/types.js';
import { NameSet } from '../decide/names.js';
import { Role } from '../decide/role.js';

/**
 * The name that stands for every name a pattern covers, when asked of the
 * serving matcher (NameSet): an exact rule's own name; for "*.example.org",
 * "*.example.org" itself, which no exact rule can equal ("*" is not a label
 * a rule may have), so only a subtree rule at or above example.org matches
 * it, and such a rule covers all of "*.example.org".
 */
function representative(p: NamePattern): string {
  return p.kind === 'exact' ? p.name : `*.${p.name}`;
}

/** The rule of `set` that covers every name `p` covers, or undefined. */
function covering(set: NameSet, p: NamePattern): string | undefined {
  return set.match(representative(p));
}

/**
 * Allow rules a deny rule of the same role takes back whole: the same name
 * in both lists, an exact allow under a deny subtree, a subtree allow under
 * a deny subtree. Deny wins, so the allow rule never applies. A deny rule
 * that carves a part out of a wider allow ("*.github.com" allowed,
 * gist.github.com denied) is what deny is for, and is left alone.
 */
export function deniedAllowRules(config: Config, where: ConfigLocations): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const role of config.roles.values()) {
    const deny = new Role(role).deny;
    for (const allowed of role.allow) {
      const denied = covering(deny, allowed);
      if (denied === undefined) continue;
      const denyAt = where.patternPath(['roles', role.name, 'deny'], denied);
      issues.push(where.issue(where.patternPath(['roles', role.name, 'allow'], allowed.source),
        `roles.${role.name}: "${allowed.source}" is allowed and denied: deny rule "${denied}" (line ${where.position(denyAt).line}) covers it, and deny wins`));
    }
  }
  return issues;
}

/**
 * private_ok entries that can never apply: they exempt answers from the
 * rebinding check, and an answer exists only for a forwarded name. When the
 * role forwards only what its allow list names (unlisted is not forward, and
 * there is no approval section, so no grant or approved hold), an entry that
 * shares no name with any allow rule is dead.
 */
export function unreachablePrivateOk(config: Config, where: ConfigLocations): ConfigIssue[] {
  if (config.approval !== null) return [];
  const issues: ConfigIssue[] = [];
  for (const role of config.roles.values()) {
    if (role.unlisted === 'forward') continue;
    const allow = new Role(role).allow;
    for (const entry of role.privateOk) {
      if (sharesAName(entry, allow, role)) continue;
      const at: ConfigPath = where.patternPath(['roles', role.name, 'private_ok'], entry.source);
      issues.push(where.issue(at,
        `roles.${role.name}.private_ok: "${entry.source}" never applies: no allow rule of the role covers a name in it, and without approval or unlisted: forward nothing else is forwarded`));
    }
  }
  return issues;
}

/**
 * Two patterns share a name exactly when one covers the other (a subtree
 * and a name, or two subtrees, either nest or are apart), so both directions
 * are asked of NameSets.
 */
function sharesAName(entry: NamePattern, allow: NameSet, role: RoleConfig): boolean {
  if (covering(allow, entry) !== undefined) return true;
  const only = new NameSet([entry]);
  return role.allow.some((a) => covering(only, a) !== undefined);
}
