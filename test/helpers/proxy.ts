/**
 * The whole proxy on loopback, for end-to-end tests: test authorities as
 * upstreams, a config read from YAML text by the real loader, a Server on
 * port-0 listeners, every log line collected, and a small DNS client.
 *
 *   const proxy = await startProxy({
 *     zone: { 'api.github.com': [{ type: 'A', data: '140.82.112.6' }] },
 *     yaml: `
 *       version: 1
 *       upstreams: { servers: UPSTREAMS, timeout: 300ms }
 *       clients: [{ name: agent, match: ["127.0.0.1/32"], role: coding }]
 *       roles: { coding: { allow: ["*.github.com"] } }`,
 *   });
 *   const { packet, ede, log } = await proxy.query('api.github.com', 'A', { edns: true });
 *   …
 *   await proxy.close();
 *
 * In the YAML, the word UPSTREAMS becomes the flow list of the authorities'
 * addresses ("[127.0.0.1:40001, …]"), so the loader validates them like any
 * others; a text without an `upstreams:` key gets `upstreams: { servers: UPSTREAMS }`.
 * `listen` is replaced after loading: the loader rightly refuses port 0, and
 * tests need free ports.
 */
import type dnsPacket from 'dns-packet';
import type { Config, HostPort } from '../../src/config/types.js';
import { parseConfig } from '../../src/config/load.js';
import { Server, type ServerOptions } from '../../src/server.js';
import { createLogger } from '../../src/telemetry/log.js';
import { startAuthority, type Authority, type AuthorityOptions, type Zone } from './authority.js';
import { tcpExchange, udpExchange, type Target } from './client.js';
import { decodePacket, edeOf, queryBytes, type DecodedPacket, type QueryOptions } from './packets.js';
import { waitFor } from './wait-for.js';

export type LogLine = Record<string, unknown>;
export type LoopbackHost = '127.0.0.1' | '::1';

export interface ProxyOptions {
  /** The config, as a user writes it (indentation common to all lines is removed). See UPSTREAMS above. */
  readonly yaml: string;
  /** Zone of every authority (unless its own options give one). */
  readonly zone?: Zone;
  /** How many test authorities to start, in upstream order, or the options of each. Default 1. */
  readonly authorities?: number | readonly AuthorityOptions[];
  /** Loopback addresses to serve on, each with a port of its own. Default ['127.0.0.1']. */
  readonly listen?: readonly LoopbackHost[];
  /** Serve the HTTP API (/metrics, /readyz, /v1) on 127.0.0.1, port 0: see `server.httpAddress()`. Default false. */
  readonly http?: boolean;
  /** What only tests set on the Server, e.g. the nft command (run inside a test's network namespace). */
  readonly server?: ServerOptions;
}

export interface ClientOptions {
  /** Default 'udp'. */
  readonly transport?: 'udp' | 'tcp';
  /** true: an OPT record (1232 bytes, DO clear); an object for details; absent: no EDNS, as glibc sends. */
  readonly edns?: QueryOptions['edns'];
  /** Source address to bind, e.g. '127.0.0.2' to be a client the config does not know. */
  readonly from?: string;
  /** Which listener to ask: 4 → 127.0.0.1, 6 → [::1]. Default: the first one. */
  readonly family?: 4 | 6;
  readonly id?: number;
  /** Header flag word; default RD. */
  readonly flags?: number;
  /** How long to wait for the reply. Default 2000 ms. */
  readonly timeoutMs?: number;
}

export interface DnsReply {
  readonly bytes: Buffer;
  readonly packet: DecodedPacket;
  /** The Extended DNS Error in the reply, if any. */
  readonly ede: { infoCode: number; text: string } | undefined;
  /**
   * The decision log line of this query (first new `msg: "query"` line with its
   * name and type). The proxy logs before it replies, so it is there by now;
   * undefined means nothing was logged. With several queries for one name in
   * flight at once it may be another one's line.
   */
  readonly log: LogLine | undefined;
}

export interface Proxy {
  readonly server: Server;
  /** The config the server runs (after the listen override). */
  readonly config: Config;
  readonly authorities: readonly Authority[];
  /** The first authority. */
  readonly authority: Authority;
  /** Every log line, parsed, in order. */
  readonly lines: readonly LogLine[];
  /** The decision lines (`msg: "query"`). */
  decisions(): LogLine[];
  /** Waits for a log line that `match` accepts (e.g. a warning), and returns it. */
  waitForLine(match: (line: LogLine) => boolean, what?: string, timeoutMs?: number): Promise<LogLine>;
  /** The bound listener of that family (default the first). */
  target(family?: 4 | 6): Target;
  /** A query for `name` built by packets.ts; throws when no reply comes in time. */
  query(name: string, type?: QueryOptions['type'], opts?: ClientOptions): Promise<DnsReply>;
  /** Raw bytes to the proxy (no framing needed for TCP); the reply, or null when none came in time. */
  send(bytes: Buffer, opts?: Omit<ClientOptions, 'edns' | 'id' | 'flags'>): Promise<Buffer | null>;
  /** Swaps in a new config read from YAML, as a SIGHUP reload does. */
  reload(yaml: string): Promise<Config>;
  /** Stops the server and every authority. */
  close(): Promise<void>;
}

export async function startProxy(opts: ProxyOptions): Promise<Proxy> {
  const count = typeof opts.authorities === 'number' ? opts.authorities : (opts.authorities?.length ?? 1);
  const authorities: Authority[] = [];
  let server: Server | undefined;
  try {
    for (let i = 0; i < count; i++) {
      const own = typeof opts.authorities === 'object' ? opts.authorities[i] : undefined;
      authorities.push(await startAuthority({ ...(opts.zone && { zone: opts.zone }), ...own }));
    }
    const lines: LogLine[] = [];
    const hosts = opts.listen ?? ['127.0.0.1'];
    const load = (yaml: string): Config => configFrom(yaml, authorities, hosts, opts.http);
    const config = load(opts.yaml);
    // A plain destination: pino calls write() once per line, synchronously.
    const log = createLogger(config.log.level, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
    server = new Server(config, log, opts.server);
    await server.listen();
    return new RunningProxy(server, authorities, lines, load);
  } catch (err) {
    await server?.close();
    await Promise.all(authorities.map((a) => a.stop()));
    throw err;
  }
}

function configFrom(yaml: string, authorities: readonly Authority[], hosts: readonly LoopbackHost[], http = false): Config {
  let text = dedent(yaml);
  if (!/^upstreams:/m.test(text)) text += '\nupstreams: { servers: UPSTREAMS }\n';
  text = text.replaceAll('UPSTREAMS', `[${authorities.map((a) => `"${a.hostPort.text}"`).join(', ')}]`);
  const parsed = parseConfig(text, 'e2e-config.yaml');
  const dns: HostPort[] = hosts.map((host) => ({ host, port: 0, family: host === '::1' ? 6 : 4, text: host === '::1' ? '[::1]:0' : `${host}:0` }));
  const httpAddress: HostPort | null = http ? { host: '127.0.0.1', port: 0, family: 4, text: '127.0.0.1:0' } : null;
  return { ...parsed, listen: { dns, http: httpAddress, workers: 1 } };
}

class RunningProxy implements Proxy {
  #config: Config;

  constructor(
    readonly server: Server,
    readonly authorities: readonly Authority[],
    readonly lines: LogLine[],
    private readonly load: (yaml: string) => Config,
  ) {
    this.#config = server.config;
  }

  get config(): Config {
    return this.#config;
  }

  get authority(): Authority {
    return this.authorities[0]!;
  }

  decisions(): LogLine[] {
    return this.lines.filter((l) => l.msg === 'query');
  }

  waitForLine(match: (line: LogLine) => boolean, what = 'log line', timeoutMs = 2000): Promise<LogLine> {
    return waitFor(() => this.lines.find(match), { what, timeoutMs });
  }

  target(family?: 4 | 6): Target {
    const all = this.server.addresses();
    const bound = family === undefined ? all[0] : all.find((a) => a.family === family);
    if (!bound) throw new Error(`the proxy has no IPv${family ?? ''} listener`);
    return { host: bound.host, port: bound.port };
  }

  async query(name: string, type: QueryOptions['type'] = 'A', opts: ClientOptions = {}): Promise<DnsReply> {
    const message = queryBytes({
      name, type,
      ...(opts.edns !== undefined && { edns: opts.edns }),
      ...(opts.id !== undefined && { id: opts.id }),
      ...(opts.flags !== undefined && { flags: opts.flags }),
    });
    const seen = this.lines.length;
    const bytes = await this.send(message, opts);
    if (!bytes) throw new Error(`no reply to ${name} ${String(type)} over ${opts.transport ?? 'udp'} within ${opts.timeoutMs ?? 2000} ms`);
    const packet = decodePacket(bytes);
    const qname = name.toLowerCase().replace(/\.$/, '');
    const qtype = typeof type === 'number' ? undefined : type;
    const log = this.lines.slice(seen).find((l) => l.msg === 'query' && l.qname === qname && (qtype === undefined || l.qtype === qtype));
    return { bytes, packet, ede: edeOf(packet), log };
  }

  send(bytes: Buffer, opts: Omit<ClientOptions, 'edns' | 'id' | 'flags'> = {}): Promise<Buffer | null> {
    const target = this.target(opts.family);
    const send = { ...(opts.from !== undefined && { from: opts.from }), ...(opts.timeoutMs !== undefined && { timeoutMs: opts.timeoutMs }) };
    return opts.transport === 'tcp' ? tcpExchange(target, bytes, send) : udpExchange(target, bytes, send);
  }

  async reload(yaml: string): Promise<Config> {
    const config = this.load(yaml);
    await this.server.reload(config);
    this.#config = config;
    return config;
  }

  async close(): Promise<void> {
    await this.server.close();
    await Promise.all(this.authorities.map((a) => a.stop()));
  }
}

/** A resource record as tests compare it (dns-packet's Answer union hides ttl and data behind OPT). */
export interface Rr {
  readonly name: string;
  readonly type: string;
  readonly ttl: number;
  readonly data: unknown;
}

export function records(section: readonly dnsPacket.Answer[]): Rr[] {
  return section.map((a) => {
    const r = a as unknown as { name: string; type: string; ttl?: number; data?: unknown };
    return { name: r.name, type: r.type, ttl: r.ttl ?? 0, data: r.data };
  });
}

/** The A and AAAA addresses of the answer section, in order. */
export function addresses(p: DecodedPacket): string[] {
  return records(p.answers).filter((r) => r.type === 'A' || r.type === 'AAAA').map((r) => String(r.data));
}

/** waitFor for an async probe (one that sends a query): resolves with its first truthy value. */
export async function poll<T>(
  probe: () => Promise<T | undefined | null | false>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const { timeoutMs = 2000, intervalMs = 20, what = 'condition' } = opts;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Removes the indentation common to every non-blank line, so YAML can sit indented in a template literal. */
export function dedent(text: string): string {
  const lines = text.replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)![0].length));
  return lines.map((l) => l.slice(Number.isFinite(indent) ? indent : 0)).join('\n');
}
