import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { errnoCode } from '../errors.js';
import { ConfigError, inFileOrder } from './errors.js';
import { Reader, type Section } from './reader.js';
import { ANSWERS_KEYS, CACHE_KEYS, SINKHOLE_KEYS, readAnswers, readCache, readSinkhole } from './sections/answers.js';
import { readApproval } from './sections/approval.js';
import { readClients } from './sections/clients.js';
import { readFirewall } from './sections/firewall.js';
import { LIMITS_KEYS, readLimits } from './sections/limits.js';
import { LISTEN_KEYS, readListen } from './sections/listen.js';
import { MODES } from './sections/mode.js';
import { ADMIN_KEYS, LOG_KEYS, METRICS_KEYS, readAdmin, readLog, readMetrics } from './sections/operations.js';
import { readRoles } from './sections/roles.js';
import { UPSTREAMS_KEYS, readUpstreams } from './sections/upstreams.js';
import type { Config } from './types.js';

export { ConfigError, type ConfigIssue } from './errors.js';

export interface LoadOptions {
  /** Reads the config file and resolv.conf; injectable for tests. */
  readonly readFile?: (path: string) => string;
  /** Where `upstreams.servers: [system]` finds its nameservers. Default /etc/resolv.conf. */
  readonly resolvConf?: string;
}

const TOP_KEYS = [
  'version', 'mode', 'listen', 'upstreams', 'cache', 'answers', 'sinkhole',
  'clients', 'roles', 'approval', 'admin', 'log', 'metrics', 'limits', 'firewall',
] as const;

const readText = (path: string): string => readFileSync(path, 'utf8');

/**
 * Reads and validates a config file.
 * @throws ConfigError listing every problem found, each with file, line and column.
 */
export function loadConfig(file: string, opts: LoadOptions = {}): Config {
  return parseConfig(readConfigText(file, opts), file, opts);
}

/**
 * The text of a config file, for a caller that needs it beside the Config
 * (check locates its lints in the same bytes it validated).
 * @throws ConfigError when the file cannot be read.
 */
export function readConfigText(file: string, opts: LoadOptions = {}): string {
  try {
    return (opts.readFile ?? readText)(file);
  } catch (e) {
    const why = errnoCode(e) ?? String(e);
    throw new ConfigError([{ file, line: 0, col: 0, message: `cannot read config file: ${why}` }], { cause: e });
  }
}

/**
 * Validates config text. `file` names it in issues (as given, so `check`
 * prints the path the user typed) and anchors relative token_file paths.
 * @throws ConfigError listing every problem found.
 */
export function parseConfig(text: string, file: string, opts: LoadOptions = {}): Config {
  const { reader, root } = Reader.parse(text, file);
  if (reader.issues.length > 0) throw new ConfigError(reader.issues);

  const absFile = resolve(file);
  const resolvePath = (p: string): string => resolve(dirname(absFile), p);
  const top = reader.section(root, '', TOP_KEYS);
  const section = (key: string, keys: readonly string[]): Section => top.child(key, keys);

  readVersion(top);
  const listen = readListen(section('listen', LISTEN_KEYS));
  const roles = readRoles(top);
  const config: Config = {
    file: absFile,
    version: 1,
    mode: top.oneOf('mode', MODES, 'enforce'),
    listen,
    upstreams: readUpstreams(section('upstreams', UPSTREAMS_KEYS), {
      resolvConf: opts.resolvConf ?? '/etc/resolv.conf',
      readFile: opts.readFile ?? readText,
      listen: listen.dns,
    }),
    cache: readCache(section('cache', CACHE_KEYS)),
    answers: readAnswers(section('answers', ANSWERS_KEYS)),
    sinkhole: readSinkhole(section('sinkhole', SINKHOLE_KEYS)),
    clients: readClients(top, roles),
    roles,
    approval: readApproval(top, resolvePath),
    admin: readAdmin(section('admin', ADMIN_KEYS), resolvePath),
    log: readLog(section('log', LOG_KEYS)),
    metrics: readMetrics(section('metrics', METRICS_KEYS)),
    limits: readLimits(section('limits', LIMITS_KEYS)),
    firewall: readFirewall(top),
  };
  if (reader.issues.length > 0) throw new ConfigError(inFileOrder(reader.issues, file));
  return config;
}

/** A required `version: 1`, so a future format change can be told apart instead of misread. */
function readVersion(top: Section): void {
  const node = top.require('version');
  if (node !== undefined && node.toJSON() !== 1) {
    top.reader.report(node, `version: unsupported version ${JSON.stringify(node.toJSON())} (this intentdns reads version 1)`);
  }
}
