import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { IntentdnsError } from '../../errors.js';

/**
 * The console's script and style sheet: hand-written files in ui/ beside this
 * module, served as they are (no bundler). `npm run build` copies the folder
 * into dist/ next to the compiled module, so the same relative path finds it
 * from src/ (tests) and from dist/.
 */
const UI_DIR = fileURLToPath(new URL('./ui/', import.meta.url));

export interface ConsoleAssets {
  readonly script: string;
  readonly style: string;
}

/** ui/ is missing or unreadable: dist/ was built by tsc alone, without `npm run build`'s copy. */
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
