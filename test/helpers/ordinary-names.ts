/**
 * The committed ordinary-name corpus (test/fixtures/ordinary-names/*.txt, one
 * name a line) and its workload sessions (sessions/*.txt, `<seconds> <name>`
 * a line), read as bench/tunneling-corpus.js reads them: `#` starts a
 * comment, a name listed in two files counts once (the first, by file name).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('../fixtures/ordinary-names/', import.meta.url));

export interface OrdinaryName {
  readonly name: string;
  /** The file it comes from, without .txt: cdn, object-storage, … */
  readonly category: string;
}

export interface SessionQuery {
  /** Milliseconds from the session's start. */
  readonly ms: number;
  readonly name: string;
}

export interface Session {
  readonly file: string;
  readonly queries: readonly SessionQuery[];
}

const linesOf = (path: string): string[] =>
  readFileSync(path, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
const txtFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();

export function ordinaryNames(): OrdinaryName[] {
  const seen = new Set<string>();
  const out: OrdinaryName[] = [];
  for (const file of txtFiles(DIR)) {
    for (const name of linesOf(DIR + file)) {
      if (seen.has(name)) continue;
      seen.add(name);
      out.push({ name, category: file.slice(0, -'.txt'.length) });
    }
  }
  return out;
}

export function sessions(): Session[] {
  const dir = `${DIR}sessions/`;
  return txtFiles(dir).map((file) => ({
    file,
    queries: linesOf(dir + file).map((line) => {
      const [seconds, name] = line.split(/\s+/);
      return { ms: Math.round(Number(seconds) * 1000), name: name! };
    }),
  }));
}
