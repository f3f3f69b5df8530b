/**
 * The shape of src/ that the README promises, checked on every run so it stays
 * true: imports between folders point one way (no two folders import each
 * other, directly or round a longer loop), and the stage contract in
 * pipeline/ sits at the bottom, importing no stage.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');
const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]/g;

/** The folder of a file under src/ ("decide"); a file at the top (server.ts, errors.ts) stands for itself. */
function folderOf(file: string): string {
  const parts = relative(SRC, file.replace(/\.js$/, '.ts')).split('/');
  return parts.length > 1 ? parts[0]! : parts[0]!;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}

/** folder → folders it imports from, with one importing file per edge for the failure message. */
function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sourceFiles(SRC)) {
    const from = folderOf(file);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const to = folderOf(resolve(dirname(file), spec!));
      if (to === from) continue;
      if (!graph.has(from)) graph.set(from, new Map());
      graph.get(from)!.set(to, relative(SRC, file));
    }
  }
  return graph;
}

/** Every strongly connected group of more than one folder (Tarjan): each is an import cycle. */
function cycles(graph: Map<string, Map<string, string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1) out.push(group.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('src/ import graph', () => {
  const graph = folderGraph();

  it('has no cycle between folders', () => {
    const found = cycles(graph).map((group) => group.map((f) => {
      const edges = [...(graph.get(f) ?? [])].filter(([to]) => group.includes(to));
      return edges.map(([to, file]) => `${f} → ${to} (${file})`).join(', ');
    }).join('; '));
    expect(found).toEqual([]);
  });

  it('keeps the contract at the bottom: pipeline/ imports only wire/ and config/', () => {
    for (const to of graph.get('pipeline')?.keys() ?? []) expect(['wire', 'config']).toContain(to);
  });

  it('keeps the query path free of the process model: only cli/ imports workers/', () => {
    const importers = [...graph].filter(([, to]) => to.has('workers')).map(([from]) => from);
    expect(importers).toEqual(['cli']);
  });

  it('finds the imports it checks (the walk is not blind)', () => {
    expect(graph.get('chain.ts')?.has('decide')).toBe(true);
    expect(graph.get('decide')?.has('pipeline')).toBe(true);
  });

  it('sees a cycle when there is one', () => {
    const looped = new Map([['a', new Map([['b', 'a/x.ts']])], ['b', new Map([['c', 'b/y.ts']])], ['c', new Map([['a', 'c/z.ts']])]]);
    expect(cycles(looped)).toEqual([['a', 'b', 'c']]);
  });
});

describe('the top level of the repository', () => {
  it('holds what the README promises and nothing else', () => {
    const allowed = new Set([
      'package.json', 'package-lock.json', 'tsconfig.json', 'src', 'config', 'deploy', 'test', 'README.md', 'Dockerfile',
      'docs', 'examples', 'bench', '.ci', '.dockerignore', '.gitignore', '.git', 'node_modules', 'dist',
    ]);
    const root = resolve(SRC, '..');
    const stray = readdirSync(root).filter((name) => !allowed.has(name));
    expect(stray).toEqual([]);
  });
});
