/**
 * Set names as the spec writes them: `<name>_v4` / `<name>_v6`, where `<name>`
 * is the role (scope role) or the agent (scope agent), lower-cased, with every
 * character outside [a-z0-9_] replaced by `_` so it is a bare nft identifier.
 */
export interface SetPair {
  readonly v4: string;
  readonly v6: string;
}

export function setBaseName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_]/g, '_');
}

export function setPair(name: string): SetPair {
  const base = setBaseName(name);
  return { v4: `${base}_v4`, v6: `${base}_v6` };
}
