import { isIP } from 'node:net';
import type { Node } from 'yaml';
import { errnoCode } from '../../errors.js';
import { formatHostPort, parseHostPort } from '../address.js';
import { parsePositiveDuration } from '../duration.js';
import { stringOf, type Section } from '../reader.js';
import type { Config, HostPort, UpstreamStrategy } from '../types.js';
import { sameAddress } from './listen.js';

export const UPSTREAMS_KEYS = ['servers', 'timeout', 'strategy'] as const;

export const UPSTREAM_STRATEGIES: readonly UpstreamStrategy[] = ['ordered', 'fastest'];

export interface UpstreamDeps {
  readonly resolvConf: string;
  readonly readFile: (path: string) => string;
  /** Our own DNS addresses: an upstream among them would forward to ourselves forever. */
  readonly listen: readonly HostPort[];
}

/**
 * `upstreams`: tried in order (`strategy: ordered`, the v1 default) or the
 * fastest first (`strategy: fastest`). "system" (also the default when `servers` is
 * absent, as dnsmasq does) stands for the nameservers of resolv.conf, read at
 * load time so that `check` shows what will be used and a reload picks up changes.
 */
export function readUpstreams(sec: Section, deps: UpstreamDeps): Config['upstreams'] {
  const r = sec.reader;
  const servers: HostPort[] = [];
  const items = sec.has('servers') ? sec.list('servers') : undefined;
  if (items?.length === 0) r.report(sec.node('servers'), 'upstreams.servers: needs at least one server');

  const add = (at: Node | undefined, path: string, found: HostPort[], origin: string): void => {
    for (const hp of found) {
      const loop = deps.listen.find((l) => sameAddress(l, hp));
      if (loop) r.report(at, `${path}: ${hp.text}${origin} is this proxy's own listen.dns address; forwarding there would loop`);
      else servers.push(hp);
    }
  };
  const expandSystem = (at: Node | undefined, path: string): void => {
    const found = systemServers(deps);
    if (typeof found === 'string') r.report(at, `${path}: "system": ${found}`);
    else add(at, path, found, ` (from ${deps.resolvConf})`);
  };

  if (items === undefined) expandSystem(sec.node('servers') ?? sec.at, 'upstreams.servers');
  items?.forEach((item, i) => {
    const path = `upstreams.servers[${i}]`;
    if (stringOf(item) === 'system') return expandSystem(item, path);
    const hp = r.parse(item, path, (t) => parseHostPort(t, 53));
    if (hp) add(item, path, [hp], '');
  });

  return {
    servers,
    timeoutMs: sec.parse('timeout', 1500, parsePositiveDuration),
    strategy: sec.oneOf('strategy', UPSTREAM_STRATEGIES, 'ordered'),
  };
}

/** The usable nameservers of resolv.conf, or why there are none. */
function systemServers(deps: UpstreamDeps): HostPort[] | string {
  let text: string;
  try {
    text = deps.readFile(deps.resolvConf);
  } catch (e) {
    return `cannot read ${deps.resolvConf}: ${errnoCode(e) ?? String(e)}`;
  }
  const { servers, scoped } = parseResolvConf(text);
  if (servers.length > 0) return servers;
  const why = scoped.length > 0 ? ` (zone-scoped addresses are not supported: ${scoped.join(', ')})` : '';
  return `no usable nameserver in ${deps.resolvConf}${why}`;
}

/**
 * The `nameserver` lines, as glibc reads them: comments start with "#" or ";",
 * malformed lines are skipped. Zone-scoped link-local addresses (fe80::1%eth0)
 * are set aside because our HostPort has no zone.
 */
export function parseResolvConf(text: string): { servers: HostPort[]; scoped: string[] } {
  const servers: HostPort[] = [];
  const scoped: string[] = [];
  for (const line of text.split('\n')) {
    const [keyword, addr] = line.trim().split(/\s+/);
    if (keyword !== 'nameserver' || addr === undefined) continue;
    if (addr.includes('%')) {
      scoped.push(addr);
      continue;
    }
    const family = isIP(addr);
    const hp = family === 0 ? undefined : parseHostPort(formatHostPort(addr, 53, family === 6 ? 6 : 4));
    if (hp?.ok) servers.push(hp.value);
  }
  return { servers, scoped };
}
