import { isMap, isScalar, isSeq, type Node } from 'yaml';
import type { ConfigIssue } from './errors.js';
import { parsePattern, patternText } from './pattern.js';
import { Reader, stringOf } from './reader.js';

/** Keys and list indexes from the top of the file down: ['roles', 'coding', 'allow', 2]. */
export type ConfigPath = ReadonlyArray<string | number>;

/**
 * Where the parts of a config file that loaded sit, so that messages about a
 * valid Config (check's lints: lint/) point at a line and column the way
 * load's errors do. A Config holds values only; this reads the same text again.
 */
export class ConfigLocations {
  private constructor(
    private readonly reader: Reader,
    private readonly root: Node | undefined,
  ) {}

  static parse(text: string, file: string): ConfigLocations {
    const { reader, root } = Reader.parse(text, file);
    return new ConfigLocations(reader, root);
  }

  get file(): string {
    return this.reader.file;
  }

  /**
   * An issue at the value under `path` (its key with `{ key: true }`: a role's
   * name). A part of the path that is not in the file (a default) falls back to
   * the nearest part that is, so an issue always has a place.
   */
  issue(path: ConfigPath, message: string, opts: { key?: boolean } = {}): ConfigIssue {
    return { file: this.file, ...this.position(path, opts), message };
  }

  /** The line and column of the value under `path` (or of its key), as issue() places it. */
  position(path: ConfigPath, opts: { key?: boolean } = {}): { line: number; col: number } {
    const { value, key } = this.walk(path);
    const node = opts.key ? (key ?? value) : value;
    return this.reader.positionAt(node?.range?.[0] ?? 0);
  }

  /**
   * The place of the list item under `path` (a role's allow, deny or
   * private_ok) that put the rule with this `source` there (NamePattern.source:
   * "*.github.com", or "@npm:registry.npmjs.org" for a preset's rule, which
   * is placed at its "@npm" item). The first such item: the loader drops the
   * duplicates after it.
   */
  patternPath(path: ConfigPath, source: string): ConfigPath {
    const preset = source.startsWith('@') ? source.slice(0, source.indexOf(':')) : undefined;
    const items = this.items(path);
    const index = items.findIndex((text) => {
      if (text === undefined) return false;
      if (preset !== undefined) return text === preset;
      const p = parsePattern(text);
      return p.ok && patternText(p.value) === source;
    });
    return index < 0 ? path : [...path, index];
  }

  /** The string items of the list under `path` (undefined for an item that is not a string). */
  private items(path: ConfigPath): Array<string | undefined> {
    const { value } = this.walk(path);
    return isSeq(value) ? value.items.map((item) => stringOf(this.reader.deref(item))) : [];
  }

  private walk(path: ConfigPath): { value: Node | undefined; key: Node | undefined } {
    let value = this.root;
    let key: Node | undefined;
    for (const part of path) {
      const next = this.step(value, part);
      if (next === undefined) return { value, key: undefined };
      ({ value, key } = next);
    }
    return { value, key };
  }

  private step(node: Node | undefined, part: string | number): { value: Node | undefined; key: Node | undefined } | undefined {
    if (typeof part === 'number') {
      const item = isSeq(node) ? this.reader.deref(node.items[part]) : undefined;
      return item === undefined ? undefined : { value: item, key: undefined };
    }
    if (!isMap(node)) return undefined;
    for (const pair of node.items) {
      const key = this.reader.deref(pair.key);
      if (isScalar(key) && String(key.value) === part) {
        // `key:` with no value: point at the key.
        return { value: this.reader.deref(pair.value) ?? key, key };
      }
    }
    return undefined;
  }
}
