import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where `nft` would be run from on this PATH, or null: `check` warns when it is missing. */
export function findOnPath(binary: string, path: string | undefined): string | null {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}
