import { IntentdnsError } from '../errors.js';

/**
 * One problem in a config (or preset) file. `line` and `col` are 1-based and
 * point at the offending key or value; 0 means the file as a whole (it could
 * not be read at all).
 */
export interface ConfigIssue {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

/** Every problem found, not just the first, so one `intentdns check` run fixes them all. */
export class ConfigError extends IntentdnsError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options?: { cause?: unknown }) {
    const first = issues[0];
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    super('IDNS_ERR_CONFIG', `invalid config: ${first ? formatIssue(first) : 'unknown problem'}${more}`, options);
    this.issues = issues;
  }

  /** One `FILE:LINE:COL message` per line, the format editors and CI annotate from. */
  format(): string {
    return this.issues.map(formatIssue).join('\n');
  }
}

export function formatIssue(i: ConfigIssue): string {
  return i.line > 0 ? `${i.file}:${i.line}:${i.col} ${i.message}` : `${i.file}: ${i.message}`;
}

/** In file order, the issues of `mainFile` before those found in other files (presets), each once. */
export function inFileOrder(issues: readonly ConfigIssue[], mainFile: string): ConfigIssue[] {
  const seen = new Set<string>();
  return issues
    .filter((i) => {
      const id = `${i.file}:${i.line}:${i.col}:${i.message}`;
      return !seen.has(id) && seen.add(id);
    })
    .sort((a, b) => Number(a.file !== mainFile) - Number(b.file !== mainFile) || a.line - b.line || a.col - b.col);
}
