import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { IntentdnsError } from '../../errors.js';

/**
 * The console's script and style sheet: hand-written files in ui/ at the top
 * of the package (no build step), found relative to this module the way
 * config/presets are, so from src/ (tests) and from dist/ alike.
 */
const UI_DIR = fileURLToPath(new URL('../../../ui/', import.meta.url));

export interface ConsoleAssets {
  readonly script: string;
  readonly style: string;
}

/** ui/ is missing or unreadable: the package was installed without it (the Dockerfile copies it). */
export class ConsoleAssetsError extends IntentdnsError {
  static readonly CODE = 'IDNS_ERR_CONSOLE_ASSETS';

  constructor(file: string, cause: unknown) {
    super(ConsoleAssetsError.CODE, `cannot read the console's ${file} in ${UI_DIR}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Read once when the HTTP listener starts; they are a few kilobytes. */
export function readConsoleAssets(): ConsoleAssets {
  const read = (file: string): string => {
    try {
      return readFileSync(`${UI_DIR}${file}`, 'utf8');
    } catch (err) {
      throw new ConsoleAssetsError(file, err);
    }
  };
  return { script: read('console.js'), style: read('console.css') };
}
