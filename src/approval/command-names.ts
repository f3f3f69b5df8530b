/**
 * Which host names does an approved shell command need? When a
 * `command.approved` event carries no `domains`, these names become the grant
 * (spec: approval-link.md, "Names from commands").
 *
 * A false positive opens a name nobody approved; a false negative only breaks
 * the agent until someone approves the name. So a word counts only where the
 * program reads a destination from it — a URL, an scp/ssh target, a `-h`
 * value, an image registry, a curl operand — and never because it merely
 * looks like a domain (`python setup.py install`, `cat README.md`,
 * `echo example.com` give nothing). Package managers open their preset.
 *
 * Layout: shell-words.ts splits the text like a shell; this file walks the
 * commands (assignments, reserved words) and dispatches on the program name to
 * the extractor tables in command-names/ (wrappers such as sudo hand their
 * inner command back here); every candidate then passes host-names.ts.
 *
 * Judgment calls (tests in test/approval/command-names.corpus.ts):
 * - URLs count in any argument of an unknown program, as a whole word or after
 *   `=`/`:`/`,` (`--url=https://…`), but not inside text with blanks (messages,
 *   SQL, JSON bodies), nor for text tools (echo, printf, grep, sed, awk).
 * - A URL in another URL's query (`?next=https://…`) is data, not a destination.
 * - curl/wget header, referer, data, user and file values are never read: a URL
 *   in `-H 'Origin: https://…'` is not requested.
 * - `s3://`, `gs://`, `file://`, `unix://` authorities are buckets or paths, not hosts.
 * - Inline code (`python -c`, `node -e`, `perl -e`, `ruby -e`) is read for URL
 *   literals only; script files are opaque.
 * - The remote command of ssh runs and resolves over there: not read.
 * - `docker run IMAGE CMD…` and `docker exec C CMD…`: CMD is read, since
 *   containers resolve through the host; `docker build`/`compose` name no images.
 * - Package managers: only subcommands that fetch (`npm ci`, `pip install`);
 *   `npm run`/`npm test`/`bundle exec` run project code and open nothing;
 *   cargo build/test/run and go build/test/run do open their preset (they fetch
 *   missing dependencies), unless offline/vendored.
 * - An index on the command line (`--registry`, `--index-url`) replaces the
 *   preset; extra indexes, find-links, proxies and git URLs add their hosts.
 * - `go get github.com/x/y` fetches through GOPROXY: the go preset only, plus
 *   the module's host when GOPROXY=direct or GOPRIVATE/GONOPROXY match.
 * - `npx`/`uvx` always open their registry (they fetch the tool when missing).
 * - Proxies (`-x`, `*_proxy=` variables, `git -c http.proxy`) and ssh jump hosts
 *   (`-J`, ProxyJump, ProxyCommand) are contacted, so they count.
 * - Unparseable text (unterminated quotes or substitutions) gives no names, as
 *   a shell would run none of it; so does a command over 64 KiB.
 */
import { CONTAINER_TOOLS } from './command-names/containers.js';
import { DATABASE_CLIENTS } from './command-names/databases.js';
import { validHostName } from './command-names/host-names.js';
import { INTERPRETERS } from './command-names/interpreters.js';
import { NETWORK_TOOLS } from './command-names/network.js';
import { PACKAGE_MANAGERS } from './command-names/packages.js';
import type { Extractor, PresetName, Sink } from './command-names/sink.js';
import { urlHosts, urlOrBareHost } from './command-names/targets.js';
import { VCS_TOOLS } from './command-names/vcs.js';
import { WRAPPERS } from './command-names/wrappers.js';
import { splitShell } from './shell-words.js';

export type { PresetName } from './command-names/sink.js';

export interface CommandNameOptions {
  /** Private suffixes the operator accepts as hosts (e.g. "corp.internal"), lower-case, no dots at the ends. */
  readonly internalSuffixes: readonly string[];
  /** Names (patterns like "registry.npmjs.org" or "*.example.org") for a package-manager preset; undefined if no such preset. */
  readonly preset: (name: PresetName) => readonly string[] | undefined;
}

/** Longer commands are not something a reviewer read; they give no names. */
export const MAX_COMMAND_LENGTH = 64 * 1024;

/** How many commands-within-commands (`bash -c`, `sudo`, `xargs`…) are followed. */
const MAX_DEPTH = 8;

/** Every tool the walker knows; a Map, so a program called `constructor` finds nothing. */
const EXTRACTORS: ReadonlyMap<string, Extractor> = new Map(
  [WRAPPERS, INTERPRETERS, NETWORK_TOOLS, DATABASE_CLIENTS, VCS_TOOLS, CONTAINER_TOOLS, PACKAGE_MANAGERS]
    .flatMap((table) => Object.entries(table)),
);

/** Words that open or close shell syntax before the program name. */
const RESERVED = new Set(['!', '{', '}', 'if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', 'esac', 'function']);

const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)\+?=([\s\S]*)$/;
const PROXY_VARIABLE = /^(?:https?|ftp|all)_proxy$/i;

/**
 * The names `command` needs: unique, lower-case host names and preset entries
 * (which may be `*.x` patterns), sorted. Never throws.
 */
export function namesFromCommand(command: string, opts: CommandNameOptions): string[] {
  if (typeof command !== 'string' || command.length > MAX_COMMAND_LENGTH) return [];
  const walker = new Walker(opts);
  try {
    walker.script(command, new Map(), 0);
  } catch {
    // The text is untrusted and the event must not be lost: a fault in an
    // extractor costs this command its names, nothing more.
    return [];
  }
  return [...walker.names].sort();
}

class Walker {
  readonly names = new Set<string>();

  constructor(private readonly opts: CommandNameOptions) {}

  script(text: string, env: ReadonlyMap<string, string>, depth: number): void {
    if (depth > MAX_DEPTH) return;
    for (const words of splitShell(text) ?? []) this.command(words, env, depth);
  }

  command(words: readonly string[], inherited: ReadonlyMap<string, string>, depth: number): void {
    if (depth > MAX_DEPTH) return;
    const env = new Map(inherited);
    let i = 0;
    for (; i < words.length; i++) {
      const word = words[i] as string;
      const assignment = ASSIGNMENT.exec(word);
      if (assignment !== null) {
        const value = assignment[2] as string;
        const name = assignment[1] as string;
        env.set(name, value);
        // `HTTPS_PROXY=http://proxy.corp.internal:3128 curl …`: the tool connects
        // there; proxy variables may leave out the scheme.
        if (PROXY_VARIABLE.test(name)) this.hosts(urlOrBareHost(value));
        else if (!/\s/.test(value)) this.hosts(urlHosts(value));
        continue;
      }
      if (!RESERVED.has(word)) break;
    }
    const program = words[i];
    if (program === undefined) return;
    const extractor = EXTRACTORS.get(programName(program)) ?? readUrls;
    extractor(words.slice(i + 1), this.sink(env, depth));
  }

  private sink(env: ReadonlyMap<string, string>, depth: number): Sink {
    return {
      env,
      hosts: (candidates) => this.hosts(candidates),
      urls: (words) => {
        for (const word of words) if (!/\s/.test(word)) this.hosts(urlHosts(word));
      },
      preset: (name) => {
        for (const entry of this.opts.preset(name) ?? []) this.names.add(entry);
      },
      command: (argv) => this.command(argv, env, depth + 1),
      script: (text) => this.script(text, env, depth + 1),
    };
  }

  private hosts(candidates: readonly string[]): void {
    for (const candidate of candidates) {
      const name = validHostName(candidate, this.opts.internalSuffixes);
      if (name !== undefined) this.names.add(name);
    }
  }
}

/** Any other program: the hosts of URLs among its arguments, and nothing else. */
const readUrls: Extractor = (args, sink) => sink.urls(args);

/** `/usr/bin/python3.12` → `python`, `pip3.11` → `pip`: the table's key. */
function programName(word: string): string {
  const base = word.slice(word.lastIndexOf('/') + 1);
  const versioned = /^(python|pip|pypy|ruby|perl|php|node)[0-9.]*$/.exec(base);
  return versioned !== null ? (versioned[1] as string) : base;
}
