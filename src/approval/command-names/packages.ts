/**
 * Package managers: a subcommand that fetches packages opens its preset (the
 * operator's reviewed list of registry names). Subcommands that only run
 * project scripts or work on local state (`npm run test`, `pip list`,
 * `cargo fmt`) open nothing: the reviewer approved running code, not a fetch.
 *
 * An index given on the command line (`--registry`, `--index-url`) is where
 * packages come from instead, so its host replaces the preset; extra indexes
 * and git/URL requirements add their hosts next to it.
 */
import { has, parseArgs, valuesOf, type FlagSpec, type ParsedArgs } from './args.js';
import type { Extractor, ExtractorTable, PresetName, Sink } from './sink.js';

// ---- npm, yarn, pnpm, bun --------------------------------------------------

interface JsManager {
  readonly spec: FlagSpec;
  /** Subcommands that fetch from the registry. */
  readonly network: ReadonlySet<string>;
  /** `yarn` alone means `yarn install`. */
  readonly bareInstalls: boolean;
}

const NPM_NETWORK = [
  'install', 'i', 'in', 'ins', 'inst', 'insta', 'instal', 'isnt', 'isnta', 'isntal', 'isntall', 'add',
  'ci', 'clean-install', 'ic', 'install-clean', 'isntall-clean', 'install-test', 'it', 'install-ci-test', 'cit',
  'update', 'up', 'upgrade', 'udpate', 'dedupe', 'ddp', 'outdated', 'view', 'v', 'info', 'show',
  'search', 's', 'se', 'find', 'publish', 'unpublish', 'deprecate', 'dist-tag', 'dist-tags', 'owner', 'author',
  'access', 'audit', 'login', 'adduser', 'add-user', 'logout', 'whoami', 'ping', 'doctor', 'exec', 'x',
  'create', 'pack', 'star', 'unstar', 'stars', 'token', 'profile', 'team', 'org', 'hook',
];

const JS_LONG_VALUES = [
  'prefix', 'registry', 'workspace', 'cache', 'userconfig', 'globalconfig', 'loglevel', 'tag', 'omit',
  'include', 'install-strategy', 'before', 'filter', 'dir', 'cwd', 'otp', 'access', 'reporter',
];

function jsManager(m: JsManager): Extractor {
  return (args, sink) => {
    const p = parseArgs(args, m.spec);
    const [sub, ...rest] = p.operands;
    if (sub === 'workspace' && rest.length > 0) {
      // `yarn workspace <name> add x`: the rest is a command of the same tool.
      jsManager(m)(args.slice(args.indexOf(sub) + 2), sink);
      return;
    }
    if (sub === 'init' || sub === 'create') {
      // `npm init` alone writes package.json; `npm init vite` runs create-vite.
      if (rest.length > 0) sink.preset('npm');
      return;
    }
    if (sub === undefined ? !m.bareInstalls : !m.network.has(sub)) return;
    sink.urls(rest);                                   // git+https://…, tarball URLs
    if (has(p, 'offline')) return;
    registryOr(sink, [...valuesOf(p, 'registry'), ...envValues(sink, 'npm_config_registry', 'NPM_CONFIG_REGISTRY')], 'npm');
    // Scoped registries (`--@corp:registry=https://npm.corp.internal/`) add to the preset.
    sink.urls(p.values.filter(([name]) => name.endsWith(':registry')).map(([, v]) => v));
  };
}

const npm = jsManager({ spec: { short: 'wC', long: JS_LONG_VALUES }, network: new Set(NPM_NETWORK), bareInstalls: false });
const yarn = jsManager({
  spec: { short: 'C', long: JS_LONG_VALUES },
  network: new Set(['install', 'add', 'upgrade', 'up', 'upgrade-interactive', 'dlx', 'info', 'npm', 'outdated',
    'audit', 'global', 'dedupe', 'publish', 'login', 'why']),
  bareInstalls: true,
});
const pnpm = jsManager({
  spec: { short: 'CFw', long: JS_LONG_VALUES },
  network: new Set(['install', 'i', 'add', 'update', 'up', 'upgrade', 'dlx', 'fetch', 'outdated', 'audit',
    'publish', 'info', 'view', 'install-test', 'it', 'dedupe', 'import']),
  bareInstalls: true,
});
const bun = jsManager({
  spec: { long: JS_LONG_VALUES },
  network: new Set(['install', 'i', 'add', 'a', 'update', 'outdated', 'x', 'publish', 'info', 'audit']),
  bareInstalls: false,
});

/** Runs a package, fetching it when missing: always the npm registry. */
const npmRunner: Extractor = (args, sink) => {
  sink.urls(args);
  sink.preset('npm');
};

// ---- Python ----------------------------------------------------------------

const PIP_SPEC: FlagSpec = {
  short: 'rcetCifdw',
  long: ['requirement', 'constraint', 'editable', 'target', 'platform', 'python-version', 'implementation', 'abi',
    'root', 'prefix', 'src', 'upgrade-strategy', 'config-settings', 'global-option', 'no-binary', 'only-binary',
    'index-url', 'extra-index-url', 'find-links', 'progress-bar', 'report', 'dest', 'root-user-action',
    'keyring-provider', 'wheel-dir', 'proxy', 'cert', 'client-cert', 'cache-dir', 'log', 'retries', 'timeout',
    'exists-action', 'trusted-host', 'python', 'hash'],
};

/** `pip …`, also reached through `python -m pip` and `uv pip`. */
export const pip: Extractor = (args, sink) => {
  const p = parseArgs(args, PIP_SPEC);
  const [sub, ...rest] = p.operands;
  if (sub === undefined || !['install', 'download', 'wheel', 'index', 'search'].includes(sub)) return;
  pythonIndexes(sink, p, rest, 'PIP');
};

/**
 * The indexes a pip-like install reads: `-i/--index-url` (or the env var)
 * replaces PyPI, `--extra-index-url` and `-f/--find-links` add to it,
 * `--no-index`/`--offline` leave only the find-links.
 */
function pythonIndexes(sink: Sink, p: ParsedArgs, operands: readonly string[], envPrefix: 'PIP' | 'UV'): void {
  sink.urls(operands);
  sink.urls(valuesOf(p, 'e', 'editable', 'with', 'from'));
  sink.urls(valuesOf(p, 'extra-index-url', 'index', 'f', 'find-links', 'proxy'));
  sink.urls(envValues(sink, `${envPrefix}_EXTRA_INDEX_URL`, `${envPrefix}_FIND_LINKS`, `${envPrefix}_INDEX`));
  const offlineEnv = envValues(sink, `${envPrefix}_NO_INDEX`, `${envPrefix}_OFFLINE`);
  if (has(p, 'no-index', 'offline') || offlineEnv.some((v) => /^(?:1|true|yes|on)$/i.test(v))) return;
  const indexes = [
    ...valuesOf(p, 'i', 'index-url', 'default-index'),
    ...envValues(sink, `${envPrefix}_INDEX_URL`, `${envPrefix}_DEFAULT_INDEX`),
  ];
  registryOr(sink, indexes, 'pypi');
}

const UV_SPEC: FlagSpec = {
  short: 'picfrCPoew',
  long: ['directory', 'project', 'python', 'with', 'with-requirements', 'with-editable', 'extra', 'group',
    'only-group', 'no-group', 'package', 'env-file', 'index', 'default-index', 'index-url', 'extra-index-url',
    'find-links', 'requirement', 'constraint', 'constraints', 'override', 'cache-dir', 'config-file', 'color',
    'upgrade-package', 'reinstall-package', 'refresh-package', 'index-strategy', 'keyring-provider', 'resolution',
    'prerelease', 'exclude-newer', 'link-mode', 'config-setting', 'python-platform', 'python-version',
    'output-file', 'target', 'prefix', 'from', 'editable', 'script', 'allow-insecure-host'],
  stopAtOperand: true,
};

/** Subcommands of uv that resolve or install from an index. */
const UV_NETWORK = new Set(['add', 'remove', 'sync', 'lock', 'build', 'publish']);

const uv: Extractor = (args, sink) => {
  const global = parseArgs(args, UV_SPEC);
  const [sub, ...afterSub] = global.operands;
  if (sub === 'pip') {
    // `uv pip install …` reads pip's arguments, with uv's env vars.
    const p = parseArgs(afterSub, { ...PIP_SPEC, long: [...(PIP_SPEC.long ?? []), ...(UV_SPEC.long ?? [])] });
    const [pipSub, ...rest] = p.operands;
    if (pipSub !== undefined && ['install', 'sync', 'compile', 'download'].includes(pipSub)) pythonIndexes(sink, p, rest, 'UV');
    return;
  }
  if (sub === 'tool') {
    const [toolSub, ...rest] = afterSub;
    if (toolSub === 'run') uvx(rest, sink);
    else if (toolSub === 'install' || toolSub === 'upgrade') {
      const p = parseArgs(rest, UV_SPEC);
      pythonIndexes(sink, p, p.operands, 'UV');
    }
    return;
  }
  if (sub === 'run') {
    // uv run syncs the project environment first (it may install), then runs a command.
    const p = parseArgs(afterSub, UV_SPEC);
    pythonIndexes(sink, p, [], 'UV');
    sink.command(p.operands);
    return;
  }
  if (sub !== undefined && UV_NETWORK.has(sub)) {
    const p = parseArgs(afterSub, { ...UV_SPEC, stopAtOperand: false });
    pythonIndexes(sink, p, p.operands, 'UV');
  }
};

/** `uvx tool …` = `uv tool run`: fetches the tool; what the tool contacts is unknown. */
const uvx: Extractor = (args, sink) => {
  const p = parseArgs(args, UV_SPEC);
  pythonIndexes(sink, p, p.operands.slice(0, 1), 'UV');
};

const poetry: Extractor = (args, sink) => {
  const p = parseArgs(args, {
    short: 'CPEGr',
    long: ['directory', 'project', 'with', 'without', 'only', 'extras', 'group', 'source', 'repository', 'username', 'password'],
  });
  const [sub, next] = p.operands;
  if (sub === 'run') {
    sink.command(p.operands.slice(1));
    return;
  }
  const network = ['install', 'add', 'update', 'lock', 'publish', 'search', 'sync'];
  if (sub !== undefined && (network.includes(sub) || (sub === 'self' && next !== undefined && network.includes(next)))) {
    sink.urls(p.operands.slice(1));
    sink.preset('pypi');
  }
};

const pipx: Extractor = (args, sink) => {
  const p = parseArgs(args, { long: ['python', 'pip-args', 'index-url', 'spec', 'suffix'], stopAtOperand: false });
  const [sub, ...rest] = p.operands;
  if (sub === undefined || !['install', 'inject', 'upgrade', 'upgrade-all', 'reinstall', 'reinstall-all', 'run'].includes(sub)) return;
  sink.urls([...rest, ...valuesOf(p, 'spec')]);
  registryOr(sink, valuesOf(p, 'index-url'), 'pypi');
};

const pipenv: Extractor = (args, sink) => {
  const p = parseArgs(args, { long: ['python', 'pypi-mirror', 'extra-pip-args', 'categories'] });
  const [sub] = p.operands;
  if (sub === 'run') {
    sink.command(p.operands.slice(1));
    return;
  }
  if (sub !== undefined && ['install', 'sync', 'update', 'lock', 'upgrade'].includes(sub)) {
    sink.urls(p.operands.slice(1));
    registryOr(sink, valuesOf(p, 'pypi-mirror'), 'pypi');
  }
};

// ---- Rust, Go, Ruby, Debian -------------------------------------------------

/**
 * Every cargo command that builds or resolves fetches missing crates first
 * (cargo test included); --offline/--frozen or CARGO_NET_OFFLINE forbid it.
 */
const CARGO_NETWORK = new Set(['build', 'b', 'check', 'c', 'run', 'r', 'test', 't', 'bench', 'fetch', 'install',
  'add', 'update', 'generate-lockfile', 'publish', 'search', 'doc', 'd', 'clippy', 'fix', 'tree', 'vendor',
  'package', 'login', 'owner', 'yank', 'info', 'metadata']);

const cargo: Extractor = (args, sink) => {
  const global = parseArgs(args.filter((a) => !a.startsWith('+')), {   // +nightly selects a toolchain
    short: 'CZ',
    long: ['color', 'config', 'manifest-path'],
    stopAtOperand: true,
  });
  const [sub, ...rest] = global.operands;
  if (sub === undefined || !CARGO_NETWORK.has(sub)) return;
  sink.urls(rest);                                     // --git https://…, --index https://…
  const offline = args.some((a) => a === '--offline' || a === '--frozen')
    || sink.env.get('CARGO_NET_OFFLINE') === 'true';
  if (!offline) sink.preset('crates');
};

/**
 * The go command fetches modules through GOPROXY (the go preset), not from the
 * module's own host: `go get github.com/x/y` contacts proxy.golang.org. Only
 * when GOPROXY=direct, or the module matches GOPRIVATE/GONOPROXY, does it go
 * to the module path's host. GOPROXY=off or -mod=vendor forbid fetching.
 */
const GO_NETWORK = new Set(['get', 'install', 'build', 'run', 'test', 'vet', 'list']);
const GO_MOD_NETWORK = new Set(['download', 'tidy', 'vendor', 'graph', 'why']);

const go: Extractor = (args, sink) => {
  const [sub, second] = args;
  const fetches = (sub !== undefined && GO_NETWORK.has(sub))
    || (sub === 'mod' && second !== undefined && GO_MOD_NETWORK.has(second))
    || (sub === 'work' && second === 'sync');
  if (!fetches) return;
  const proxy = sink.env.get('GOPROXY');
  if (proxy === 'off' || /-mod=vendor/.test(sink.env.get('GOFLAGS') ?? '') || args.includes('-mod=vendor')) return;
  sink.preset('go');
  if (sub !== 'get' && sub !== 'install') return;
  const direct = proxy === 'direct';
  const privatePatterns = [sink.env.get('GOPRIVATE'), sink.env.get('GONOPROXY')]
    .filter((v): v is string => v !== undefined)
    .flatMap((v) => v.split(','))
    .filter((v) => v.length > 0);
  for (const arg of args.slice(1)) {
    if (arg.startsWith('-') || arg.startsWith('.') || !arg.includes('/')) continue;
    const path = arg.split('@')[0] as string;
    if (direct || privatePatterns.some((pattern) => goPathMatches(pattern, path))) {
      sink.hosts([path.split('/')[0] as string]);
    }
  }
};

/** Go's GOPRIVATE matching: glob pattern against a leading run of path elements. */
function goPathMatches(pattern: string, path: string): boolean {
  const want = pattern.split('/');
  const got = path.split('/');
  if (got.length < want.length) return false;
  return want.every((element, i) => globElement(element).test(got[i] as string));
}

/** One path element of a Go glob as a RegExp; only `*` and `?` are special here. */
function globElement(element: string): RegExp {
  const source = element.replace(/[^A-Za-z0-9*?]/g, (c) => `\\${c}`).replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${source}$`);
}

const gem: Extractor = (args, sink) => {
  const p = parseArgs(args, {
    short: 'vsinpg',
    long: ['version', 'source', 'install-dir', 'bindir', 'platform', 'file', 'http-proxy', 'key', 'host'],
  });
  const [sub, ...rest] = p.operands;
  if (sub === undefined || !['install', 'i', 'update', 'fetch', 'search', 'outdated', 'push', 'owner', 'yank', 'signin'].includes(sub)) return;
  if (has(p, 'l', 'local')) return;
  sink.urls([...rest, ...valuesOf(p, 'p', 'http-proxy', 'host')]);
  registryOr(sink, valuesOf(p, 's', 'source'), 'rubygems');
};

const bundle: Extractor = (args, sink) => {
  const p = parseArgs(args, { long: ['gemfile', 'path', 'jobs', 'retry', 'without', 'with', 'binstubs', 'source', 'version'], stopAtOperand: true });
  const [sub] = p.operands;
  if (sub === 'exec') {
    sink.command(p.operands.slice(1));
    return;
  }
  if (sub === undefined || ['install', 'update', 'add', 'lock', 'outdated', 'cache', 'package'].includes(sub)) {
    if (args.includes('--local') || args.includes('--prefer-local')) return;
    sink.preset('rubygems');
  }
};

const apt: Extractor = (args, sink) => {
  const p = parseArgs(args, { short: 'octa', long: ['option', 'config-file', 'target-release', 'host-architecture'] });
  const [sub] = p.operands;
  if (sub !== undefined && ['update', 'install', 'upgrade', 'dist-upgrade', 'full-upgrade', 'source', 'download', 'build-dep', 'changelog', 'reinstall'].includes(sub)) {
    sink.preset('debian');
    sink.urls(valuesOf(p, 'o', 'option'));           // -o Acquire::http::Proxy=http://…
  }
};

// ---- shared -----------------------------------------------------------------

/** The registry hosts given, or the preset when none was. */
function registryOr(sink: Sink, registries: readonly string[], preset: PresetName): void {
  if (registries.length > 0) sink.urls(registries);
  else sink.preset(preset);
}

function envValues(sink: Sink, ...names: readonly string[]): string[] {
  return names.map((n) => sink.env.get(n)).filter((v): v is string => v !== undefined && v.length > 0);
}

export const PACKAGE_MANAGERS: ExtractorTable = {
  npm,
  npx: npmRunner,
  pnpx: npmRunner,
  bunx: npmRunner,
  yarn,
  pnpm,
  bun,
  pip,
  pip3: pip,
  uv,
  uvx,
  poetry,
  pipx,
  pipenv,
  cargo,
  go,
  gem,
  bundle,
  bundler: bundle,
  'apt-get': apt,
  apt,
  aptitude: apt,
};
