/**
 * The contract between the command walker (command-names.ts) and the per-tool
 * extractors: an extractor gets one command's arguments and reports what that
 * tool would contact. It never validates names itself — every candidate goes
 * through the same host-name check in the walker.
 */

export type PresetName = 'npm' | 'pypi' | 'crates' | 'go' | 'rubygems' | 'debian' | 'docker' | 'github';

export interface Sink {
  /** Raw host candidates read from host positions. */
  hosts(candidates: readonly string[]): void;
  /**
   * Hosts of the URLs in these words. A word with whitespace in it is text
   * (a message, SQL, a JSON body), not an address, and is skipped.
   */
  urls(words: readonly string[]): void;
  /** The names of a package-manager preset. */
  preset(name: PresetName): void;
  /** Another command given as argv (`sudo CMD…`, `xargs CMD…`, `docker run IMG CMD…`). */
  command(argv: readonly string[]): void;
  /** A shell script given as one string (`bash -c`, `watch`, ssh `ProxyCommand`). */
  script(text: string): void;
  /** `NAME=value` prefixes in effect for this command (`GOPROXY=direct go get …`). */
  readonly env: ReadonlyMap<string, string>;
}

/** Reads one command. `args` excludes the program name. */
export type Extractor = (args: readonly string[], sink: Sink) => void;

/** Extractors by program name, as each tool module exports them. */
export type ExtractorTable = Readonly<Record<string, Extractor>>;

/** For tools whose arguments are patterns or text, never destinations (echo, grep, sed). */
export const readsNothing: Extractor = () => {};
