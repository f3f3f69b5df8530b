/**
 * git and the GitHub CLI. git contacts a remote only in the subcommands that
 * take a repository argument, and only that argument is one: in
 * `git push origin release.app:main` the refspec is not a host, and in
 * `git commit -m "see https://…"` the message is text. A remote named by its
 * alias (`origin`) lives in .git/config: unknown here.
 */
import { parseArgs, valuesOf, type FlagSpec } from './args.js';
import { scpHost, urlOrBareHost } from './targets.js';
import type { Extractor, ExtractorTable } from './sink.js';

interface RemoteArg {
  readonly spec: FlagSpec;
  /** Index of the repository among the subcommand's operands. */
  readonly at: number;
}

const FETCH_LONG = ['depth', 'deepen', 'shallow-since', 'shallow-exclude', 'upload-pack', 'jobs', 'negotiation-tip',
  'refmap', 'filter', 'server-option', 'recurse-submodules-default', 'submodule-prefix'];

const GIT_REMOTE_ARG: Readonly<Record<string, RemoteArg>> = {
  clone: {
    spec: { short: 'bojcu', long: ['branch', 'origin', 'upload-pack', 'config', 'jobs', 'depth', 'reference',
      'reference-if-able', 'separate-git-dir', 'template', 'shallow-since', 'shallow-exclude', 'filter',
      'server-option', 'bundle-uri', 'revision'] },
    at: 0,
  },
  fetch: { spec: { short: 'jo', long: FETCH_LONG }, at: 0 },
  pull: { spec: { short: 'sXjo', long: [...FETCH_LONG, 'strategy', 'strategy-option', 'cleanup'] }, at: 0 },
  push: { spec: { short: 'o', long: ['repo', 'receive-pack', 'exec', 'push-option'] }, at: 0 },
  'ls-remote': { spec: { short: 'o', long: ['upload-pack', 'server-option', 'sort'] }, at: 0 },
};

const git: Extractor = (args, sink) => {
  const global = parseArgs(args, {
    short: 'Cc',
    long: ['git-dir', 'work-tree', 'namespace', 'exec-path', 'config-env', 'super-prefix', 'list-cmds'],
    stopAtOperand: true,
  });
  const [sub, ...rest] = global.operands;
  if (sub === undefined) return;
  // Where git connects besides the remote: a proxy given with -c, and jump
  // hosts in the ssh command it runs.
  for (const setting of valuesOf(global, 'c')) {
    const proxy = /^https?\.proxy=(.*)$/i.exec(setting);
    if (proxy !== null) sink.hosts(urlOrBareHost(proxy[1] as string));
  }
  const sshCommand = sink.env.get('GIT_SSH_COMMAND');
  if (sshCommand !== undefined) sink.script(sshCommand);

  const remoteArg = GIT_REMOTE_ARG[sub];
  if (remoteArg !== undefined && Object.hasOwn(GIT_REMOTE_ARG, sub)) {
    const repo = parseArgs(rest, remoteArg.spec).operands[remoteArg.at];
    if (repo !== undefined) sink.hosts(scpHost(repo));
    return;
  }
  if (sub === 'remote') {
    // git remote add [-t b] [-m m] <name> <url>; git remote set-url [--push] <name> <url>
    const [action, name, url] = parseArgs(rest, { short: 'tm' }).operands;
    if ((action === 'add' || action === 'set-url') && name !== undefined && url !== undefined) sink.hosts(scpHost(url));
    return;
  }
  if (sub === 'submodule') {
    // git submodule add [-b branch] [--name n] [--reference r] [--depth d] <repository> [<path>]
    const [action, repo] = parseArgs(rest, { short: 'b', long: ['name', 'reference', 'depth', 'branch'] }).operands;
    if (action === 'add' && repo !== undefined) sink.hosts(scpHost(repo));
    return;
  }
  if (sub === 'archive') {
    const p = parseArgs(rest, { short: 'o', long: ['remote', 'exec', 'format', 'prefix', 'output'] });
    for (const repo of valuesOf(p, 'remote')) sink.hosts(scpHost(repo));
  }
};

/** Subcommands of gh that work offline. */
const GH_OFFLINE = new Set(['help', 'completion', 'config', 'alias', 'version', 'extension', 'ext']);

/**
 * gh talks to the GitHub API, or to the GH_HOST server (GitHub Enterprise)
 * when that is set; `--hostname` does the same for `gh auth` and `gh api`.
 */
const gh: Extractor = (args, sink) => {
  const p = parseArgs(args, { short: 'RHX', long: ['repo', 'hostname', 'method', 'header', 'jq', 'template', 'field', 'raw-field', 'input'] });
  const [sub] = p.operands;
  if (sub === undefined || GH_OFFLINE.has(sub) || args.includes('--version') || args.includes('--help')) return;
  const envHost = sink.env.get('GH_HOST');
  const hosts = [...valuesOf(p, 'hostname'), ...(envHost !== undefined ? [envHost] : [])];
  if (hosts.length > 0) sink.hosts(hosts);
  else sink.preset('github');
};

export const VCS_TOOLS: ExtractorTable = { git, gh };
