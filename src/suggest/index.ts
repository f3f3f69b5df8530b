/** The only import path for other folders: what both `intentdns suggest` (cli/) and the console (http/) need. */
export { proposeAllowList, SUBTREE_MIN_NAMES, type Proposal } from './allowlist.js';
export { allowItem, allowItemFor, queries, yamlEntry } from './allow-line.js';
export { allowable, UNCOVERED_REASONS } from './reasons.js';
