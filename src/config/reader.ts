import { isAlias, isMap, isNode, isScalar, isSeq, parseDocument, LineCounter, Scalar, type Document, type Node } from 'yaml';
import type { ConfigIssue } from './errors.js';

/** The result of a pure value parser: a value, or a message for the user. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const fail = (error: string): Parsed<never> => ({ ok: false, error });

/**
 * Walks one parsed YAML file and collects issues with their line and column.
 * Readers never throw on bad input: they report and return a default, so one
 * pass finds every problem.
 */
export class Reader {
  readonly issues: ConfigIssue[] = [];

  private constructor(
    readonly file: string,
    private readonly lines: LineCounter,
    private readonly doc: Document,
  ) {}

  /**
   * Parses `text`. YAML syntax errors (duplicate keys included) are recorded
   * and `root` is undefined: a schema walk over a broken tree only adds noise.
   */
  static parse(text: string, file: string): { reader: Reader; root: Node | undefined } {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    const reader = new Reader(file, lines, doc);
    for (const e of [...doc.errors, ...doc.warnings]) {
      reader.reportAt(e.pos[0], e.code === 'DUPLICATE_KEY' ? duplicateKeyMessage(text, e.pos[0]) : e.message);
    }
    if (reader.issues.length > 0) return { reader, root: undefined };
    return { reader, root: reader.deref(doc.contents) };
  }

  reportAt(offset: number, message: string): void {
    this.issues.push({ file: this.file, ...this.positionAt(offset), message });
  }

  /** The 1-based line and column of an offset into the text, as issues carry them. */
  positionAt(offset: number): { line: number; col: number } {
    const { line, col } = this.lines.linePos(offset);
    return { line, col };
  }

  /** A node without a position (an absent document) reports at the start of the file. */
  report(at: Node | undefined, message: string): void {
    this.reportAt(at?.range?.[0] ?? 0, message);
  }

  /** Anchors and aliases are legal YAML, so sections may share lists through them. */
  deref(node: unknown): Node | undefined {
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
      if (target === undefined) this.report(node, `unknown anchor "*${node.source}"`);
      return target;
    }
    return isNode(node) ? node : undefined;
  }

  /** A map whose keys are fixed; anything else is reported as unknown. */
  section(node: Node | undefined, path: string, keys: readonly string[], at?: Node): Section {
    return new Section(this, node, path, keys, at ?? node);
  }

  /** A map whose keys are names the user chose (roles). */
  entries(node: Node | undefined, path: string): Array<{ key: string; keyNode: Node; value: Node | undefined }> {
    if (node === undefined || isNull(node)) return [];
    if (!isMap(node)) {
      this.report(node, `${path}: expected a map`);
      return [];
    }
    const out: Array<{ key: string; keyNode: Node; value: Node | undefined }> = [];
    for (const pair of node.items) {
      const key = this.deref(pair.key);
      if (!isScalar(key) || (typeof key.value !== 'string' && typeof key.value !== 'number')) {
        this.report(key ?? node, `${path}: keys must be plain names`);
        continue;
      }
      const value = this.deref(pair.value);
      if (pair.value !== null && value === undefined) continue; // an unknown anchor, already reported
      out.push({ key: String(key.value), keyNode: key, value });
    }
    return out;
  }

  /** The items of a list (aliases resolved), or undefined after reporting when `node` is not one. */
  list(node: Node | undefined, path: string): Node[] | undefined {
    if (!isSeq(node)) {
      this.report(node, `${path}: expected a list`);
      return undefined;
    }
    return node.items.flatMap((item) => this.deref(item) ?? []);
  }

  /** A string value checked by a pure parser; reports `path: error` at the value. */
  parse<T>(node: Node, path: string, parser: (text: string) => Parsed<T>): T | undefined {
    const text = stringOf(node);
    if (text === undefined) {
      this.report(node, `${path}: expected a string`);
      return undefined;
    }
    const result = parser(text);
    if (!result.ok) {
      this.report(node, `${path}: ${result.error}`);
      return undefined;
    }
    return result.value;
  }
}

/**
 * A map with a fixed set of keys. Getters take the default when the key is
 * absent, and also after reporting a bad value, so checking can go on.
 */
export class Section {
  private readonly values = new Map<string, Node | undefined>();

  constructor(
    readonly reader: Reader,
    node: Node | undefined,
    readonly path: string,
    keys: readonly string[],
    /** Where problems with the section as a whole (a missing key) are reported. */
    readonly at: Node | undefined,
  ) {
    for (const { key, keyNode, value } of reader.entries(node, path || 'the top level')) {
      if (!keys.includes(key)) reader.report(keyNode, `unknown key "${key}"${this.where}`);
      else this.values.set(key, value ?? emptyAt(keyNode));
    }
  }

  private get where(): string {
    return this.path ? ` in ${this.path}` : '';
  }

  pathOf(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  has(key: string): boolean {
    return this.values.has(key);
  }

  /** The value node; an empty value (`key:`) is a null scalar, see isNull. */
  node(key: string): Node | undefined {
    return this.values.get(key);
  }

  isNull(key: string): boolean {
    const n = this.values.get(key);
    return n !== undefined && isNull(n);
  }

  require(key: string): Node | undefined {
    const n = this.values.get(key);
    if (n === undefined) this.reader.report(this.at, `missing required key "${key}"${this.where}`);
    return n;
  }

  child(key: string, keys: readonly string[]): Section {
    return this.reader.section(this.node(key), this.pathOf(key), keys, this.node(key) ?? this.at);
  }

  list(key: string): Node[] | undefined {
    const n = this.node(key);
    return n === undefined ? undefined : this.reader.list(n, this.pathOf(key));
  }

  parse<T>(key: string, def: T, parser: (text: string) => Parsed<T>): T {
    const n = this.node(key);
    return n === undefined ? def : (this.reader.parse(n, this.pathOf(key), parser) ?? def);
  }

  oneOf<T extends string>(key: string, values: readonly T[], def: T): T {
    return this.parse(key, def, (text) =>
      (values as readonly string[]).includes(text) ? ok(text as T) : fail(`expected one of ${values.join(', ')}, got "${text}"`),
    );
  }

  bool(key: string, def: boolean): boolean {
    const n = this.node(key);
    if (n === undefined) return def;
    if (isScalar(n) && typeof n.value === 'boolean') return n.value;
    this.reader.report(n, `${this.pathOf(key)}: expected true or false`);
    return def;
  }

  positiveInt(key: string, def: number): number {
    const n = this.node(key);
    if (n === undefined) return def;
    if (isScalar(n) && typeof n.value === 'number' && Number.isSafeInteger(n.value) && n.value > 0) return n.value;
    this.reader.report(n, `${this.pathOf(key)}: expected a positive whole number`);
    return def;
  }

  /** A whole number from `min` to `max`, both included. */
  intIn(key: string, def: number, min: number, max: number): number {
    const n = this.node(key);
    if (n === undefined) return def;
    if (isScalar(n) && typeof n.value === 'number' && Number.isSafeInteger(n.value) && n.value >= min && n.value <= max) return n.value;
    this.reader.report(n, `${this.pathOf(key)}: expected a whole number from ${min} to ${max}`);
    return def;
  }

  /** A number above `above` and at most `max` (fractions allowed). */
  numberIn(key: string, def: number, above: number, max: number): number {
    const n = this.node(key);
    if (n === undefined) return def;
    if (isScalar(n) && typeof n.value === 'number' && Number.isFinite(n.value) && n.value > above && n.value <= max) return n.value;
    this.reader.report(n, `${this.pathOf(key)}: expected a number above ${above} and at most ${Number(max.toFixed(2))}`);
    return def;
  }

  /** A whole number, zero allowed (zero turning something off). */
  wholeNumber(key: string, def: number): number {
    const n = this.node(key);
    if (n === undefined) return def;
    if (isScalar(n) && typeof n.value === 'number' && Number.isSafeInteger(n.value) && n.value >= 0) return n.value;
    this.reader.report(n, `${this.pathOf(key)}: expected a whole number, 0 or more`);
    return def;
  }

  /** A file path made absolute by `resolve` (against the config file's folder); null when set to null. */
  filePath(key: string, resolve: (p: string) => string): string | null {
    if (this.isNull(key)) return null;
    return this.parse<string | null>(key, null, (text) => (text.trim() === '' ? fail('expected a file path') : ok(resolve(text))));
  }
}

export function stringOf(node: Node | undefined): string | undefined {
  return isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
}

/** `? key` with no value at all: treated like `key:`, positioned at the key. */
function emptyAt(keyNode: Node): Node {
  const empty = new Scalar(null);
  if (keyNode.range) empty.range = keyNode.range;
  return empty;
}

export function isNull(node: Node): boolean {
  return isScalar(node) && node.value === null;
}

/** yaml says "Map keys must be unique"; naming the key saves a trip to the editor. */
function duplicateKeyMessage(text: string, offset: number): string {
  const key = /^("[^"\n]*"|'[^'\n]*'|[^:#\n]+?)\s*:/.exec(text.slice(offset))?.[1];
  return key ? `duplicate key ${key.startsWith('"') ? key : `"${key.replace(/^'|'$/g, '')}"`}` : 'duplicate key';
}
