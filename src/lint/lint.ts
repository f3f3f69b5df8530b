import { inFileOrder, type ConfigIssue } from '../config/errors.js';
import type { ConfigLocations } from '../config/locate.js';
import type { Config } from '../config/types.js';
import { shadowedClients } from './clients.js';
import { holdWithoutApproval, longHoldTimeout } from './holds.js';
import { deniedAllowRules, unreachablePrivateOk } from './lists.js';
import { unusedRoles } from './roles.js';

/** A check of a valid config for something that is allowed but almost certainly not meant. */
export type Lint = (config: Config, where: ConfigLocations) => ConfigIssue[];

export const LINTS: readonly Lint[] = [
  shadowedClients, deniedAllowRules, unreachablePrivateOk, longHoldTimeout, holdWithoutApproval, unusedRoles,
];

/** Every lint's warnings, in file order, each placed like a load error (FILE:LINE:COL). */
export function lintConfig(config: Config, where: ConfigLocations): ConfigIssue[] {
  return inFileOrder(LINTS.flatMap((lint) => lint(config, where)), where.file);
}
