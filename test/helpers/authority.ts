import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { HostPort } from '../../src/config/types.js';

/**
 * A small real DNS server for tests: UDP and TCP on one loopback port, a zone
 * given as data, CNAME chains followed within the zone the way a server that
 * holds both names answers, NXDOMAIN / NODATA with an SOA in the authority
 * section, and switches to misbehave (drop, SERVFAIL, REFUSED, truncation,
 * spoofed ids, malformed answers, delays).
 *
 *   const dns = await startAuthority({ zone: { 'example.org': [{ type: 'A', data: '93.184.216.34', ttl: 300 }] } });
 *   const upstreams = new Upstreams({ servers: [dns.hostPort], … });
 *   …
 *   await dns.stop();
 *
 * dns-packet is fine here: we control both ends, and nothing in src/ uses it.
 */

export interface ZoneRecord {
  /** 'A', 'AAAA', 'CNAME', 'TXT', 'MX', … as dns-packet names them. */
  readonly type: string;
  /** As dns-packet encodes it: an address or name string, a TXT string, an MX object, … */
  readonly data: unknown;
  /** Default: `defaultTtl` of the authority (300). */
  readonly ttl?: number;
  /**
   * Default 'answer': sent for queries of its type. 'authority' and 'additional' records of a
   * name go with every answer for that name, whatever the type asked: glue, or what a hostile
   * upstream slips in beside an innocent answer.
   */
  readonly section?: 'answer' | 'authority' | 'additional';
}

/** Owner name (any case, trailing dot optional) → its records. */
export type Zone = Readonly<Record<string, readonly ZoneRecord[]>>;

export type AuthorityMode =
  | 'normal'
  | 'drop'          // log the query, never answer (UDP and TCP)
  | 'servfail'
  | 'refused'
  | 'truncate-udp'  // TC with no records over UDP; the full answer over TCP
  | 'wrong-id'      // first an answer with another id (and a spoofed address), then the real one
  | 'malformed'     // id and question right, but the header counts a record that is not there
  | 'delay';        // answer normally after `delayMs`

export interface Behaviour {
  readonly mode: AuthorityMode;
  readonly delayMs?: number;
  /** TCP: write each answer in three pieces (length prefix, half, rest) a few ms apart. */
  readonly tcpSplit?: boolean;
  /** TCP only, overriding `mode`: never answer, or close the connection once the query is read. */
  readonly tcp?: 'drop' | 'close';
  /** A hostile upstream: every answer (UDP and TCP) is passed through this before it is sent. */
  readonly rewrite?: (answer: Buffer, transport: 'udp' | 'tcp') => Buffer;
  /** Answer without an OPT record even when the query had one, as a server without EDNS does (RFC 6891 §7). */
  readonly omitOpt?: boolean;
}

export interface AuthorityOptions {
  /** '127.0.0.1' (default) or '::1'. Loopback only. */
  readonly host?: string;
  /** Default 0: a free port. */
  readonly port?: number;
  readonly zone?: Zone;
  /** Owner of the SOA in negative answers. Default 'example.org'. */
  readonly origin?: string;
  /** TTL of that SOA record and its minimum field (RFC 2308: the negative TTL is the lower one). */
  readonly soa?: { readonly ttl?: number; readonly minimum?: number };
  readonly defaultTtl?: number;
}

export interface LoggedQuery {
  readonly name: string;
  readonly type: string;
  readonly transport: 'udp' | 'tcp';
  readonly id: number;
  readonly dnssecOk: boolean;
  readonly checkingDisabled: boolean;
  /** The source port the query came from. */
  readonly port: number;
}

export interface Authority {
  readonly address: string;
  readonly port: number;
  /** Ready to hand to `Upstreams`: { host, port, family, text }. */
  readonly hostPort: HostPort;
  /** Every query received, in order (cleared with `queries.length = 0`). */
  readonly queries: LoggedQuery[];
  /** Called for every query received, before any answer is sent (e.g. to race a forged answer against it). */
  onQuery: ((query: LoggedQuery) => void) | null;
  /** TCP connections currently open on the server side. */
  readonly openConnections: number;
  readonly running: boolean;
  setZone(zone: Zone): void;
  behave(behaviour: Behaviour): void;
  /** Binds again, on the same port, after `stop()`. */
  start(): Promise<void>;
  /** Closes both sockets, every TCP connection and pending delayed answer. */
  stop(): Promise<void>;
}

const MAX_CHAIN = 8;
const SPOOFED_ADDRESS = '192.0.2.66';

export async function startAuthority(opts: AuthorityOptions = {}): Promise<Authority> {
  const server = new AuthorityServer(opts);
  await server.start();
  return server;
}

class AuthorityServer implements Authority {
  readonly address: string;
  readonly queries: LoggedQuery[] = [];
  onQuery: ((query: LoggedQuery) => void) | null = null;
  #port: number;
  #zone = new Map<string, readonly ZoneRecord[]>();
  #behaviour: Behaviour = { mode: 'normal' };
  readonly #origin: string;
  readonly #soaTtl: number;
  readonly #soaMinimum: number;
  readonly #defaultTtl: number;
  #udp: dgram.Socket | null = null;
  #tcp: net.Server | null = null;
  readonly #connections = new Set<net.Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(opts: AuthorityOptions) {
    this.address = opts.host ?? '127.0.0.1';
    if (this.address !== '127.0.0.1' && this.address !== '::1') throw new Error('the test authority binds loopback only');
    this.#port = opts.port ?? 0;
    this.#origin = normalise(opts.origin ?? 'example.org');
    this.#soaTtl = opts.soa?.ttl ?? 3600;
    this.#soaMinimum = opts.soa?.minimum ?? 60;
    this.#defaultTtl = opts.defaultTtl ?? 300;
    this.setZone(opts.zone ?? {});
  }

  get port(): number {
    return this.#port;
  }

  get hostPort(): HostPort {
    const family = this.address.includes(':') ? 6 : 4;
    return { host: this.address, port: this.#port, family, text: family === 6 ? `[${this.address}]:${this.#port}` : `${this.address}:${this.#port}` };
  }

  get openConnections(): number {
    return this.#connections.size;
  }

  get running(): boolean {
    return this.#udp !== null;
  }

  setZone(zone: Zone): void {
    this.#zone = new Map(Object.entries(zone).map(([name, records]) => [normalise(name), records]));
  }

  behave(behaviour: Behaviour): void {
    this.#behaviour = behaviour;
  }

  async start(): Promise<void> {
    if (this.#udp) return;
    // With port 0 the UDP port is free but its TCP twin may not be: try a few.
    for (let tries = 0; ; tries++) {
      const udp = await this.#bindUdp(this.#port);
      const port = udp.address().port;
      try {
        this.#tcp = await this.#listenTcp(port);
      } catch (err) {
        await new Promise<void>((resolve) => udp.close(() => resolve()));
        if (this.#port === 0 && tries < 10) continue;
        throw err;
      }
      this.#udp = udp;
      this.#port = port;
      return;
    }
  }

  async stop(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    const udp = this.#udp;
    const tcp = this.#tcp;
    this.#udp = null;
    this.#tcp = null;
    const closing: Promise<void>[] = [];
    if (udp) closing.push(new Promise((resolve) => udp.close(() => resolve())));
    for (const conn of this.#connections) {
      closing.push(new Promise((resolve) => conn.once('close', () => resolve())));
      conn.destroy();
    }
    if (tcp) closing.push(new Promise((resolve) => tcp.close(() => resolve())));
    await Promise.all(closing);
  }

  #bindUdp(port: number): Promise<dgram.Socket> {
    return new Promise((resolve, reject) => {
      const udp = dgram.createSocket(this.address.includes(':') ? 'udp6' : 'udp4');
      udp.once('error', reject);
      udp.bind(port, this.address, () => {
        udp.off('error', reject);
        udp.on('error', () => { /* a test authority ignores socket errors */ });
        udp.on('message', (msg, rinfo) => this.#onUdp(udp, msg, rinfo));
        resolve(udp);
      });
    });
  }

  #listenTcp(port: number): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      const tcp = net.createServer((conn) => this.#onTcpConnection(conn));
      tcp.once('error', reject);
      tcp.listen({ port, host: this.address, exclusive: true }, () => {
        tcp.off('error', reject);
        resolve(tcp);
      });
    });
  }

  #onUdp(udp: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const query = this.#parse(msg, 'udp', rinfo.port);
    if (!query) return;
    const send = (buf: Buffer): void => {
      if (this.#udp === udp) udp.send(buf, rinfo.port, rinfo.address);
    };
    this.#respond(query, 'udp', (bufs) => bufs.forEach(send));
  }

  #onTcpConnection(conn: net.Socket): void {
    this.#connections.add(conn);
    conn.setNoDelay(true);
    conn.on('close', () => this.#connections.delete(conn));
    conn.on('error', () => { /* peer went away */ });
    let buffered = Buffer.alloc(0);
    conn.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const end = 2 + buffered.readUInt16BE(0);
        if (buffered.length < end) return;
        const msg = buffered.subarray(2, end);
        buffered = buffered.subarray(end);
        const query = this.#parse(msg, 'tcp', conn.remotePort ?? 0);
        if (!query || this.#behaviour.tcp === 'drop') continue;
        if (this.#behaviour.tcp === 'close') {
          conn.destroy();
          return;
        }
        this.#respond(query, 'tcp', (bufs) => this.#writeFrames(conn, bufs));
      }
    });
  }

  #writeFrames(conn: net.Socket, bufs: readonly Buffer[]): void {
    for (const buf of bufs) {
      const frame = Buffer.allocUnsafe(2 + buf.length);
      frame.writeUInt16BE(buf.length, 0);
      buf.copy(frame, 2);
      if (!this.#behaviour.tcpSplit) {
        if (!conn.destroyed) conn.write(frame);
        continue;
      }
      const half = 2 + Math.floor(buf.length / 2);
      const pieces = [frame.subarray(0, 2), frame.subarray(2, half), frame.subarray(half)];
      pieces.forEach((piece, i) => this.#later(i * 5, () => { if (!conn.destroyed) conn.write(piece); }));
    }
  }

  #later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  #parse(msg: Buffer, transport: 'udp' | 'tcp', port: number): dnsPacket.DecodedPacket | null {
    let packet: dnsPacket.DecodedPacket;
    try {
      packet = dnsPacket.decode(msg);
    } catch {
      return null;
    }
    const question = packet.questions?.[0];
    if (packet.type !== 'query' || !question) return null;
    const opt = optOf(packet);
    const logged: LoggedQuery = {
      name: normalise(question.name),
      type: question.type,
      transport,
      id: packet.id ?? 0,
      dnssecOk: opt?.flag_do ?? false,
      checkingDisabled: packet.flag_cd,
      port,
    };
    this.queries.push(logged);
    this.onQuery?.(logged);
    return packet;
  }

  #respond(query: dnsPacket.DecodedPacket, transport: 'udp' | 'tcp', send: (bufs: readonly Buffer[]) => void): void {
    const { mode, delayMs = 0 } = this.#behaviour;
    if (mode === 'drop') return;
    if (mode === 'delay') {
      this.#later(delayMs, () => send([this.#answer(query, transport, 'normal')]));
      return;
    }
    if (mode === 'wrong-id') {
      const spoof = this.#answer(query, transport, 'normal', SPOOFED_ADDRESS);
      spoof.writeUInt16BE((spoof.readUInt16BE(0) + 1) & 0xffff, 0);
      send([spoof, this.#answer(query, transport, 'normal')]);
      return;
    }
    const answer = this.#answer(query, transport, mode);
    send([this.#behaviour.rewrite ? this.#behaviour.rewrite(answer, transport) : answer]);
  }

  /** Builds the reply. `spoofAddress` replaces every A record's data (for the wrong-id packet). */
  #answer(query: dnsPacket.DecodedPacket, transport: 'udp' | 'tcp', mode: AuthorityMode, spoofAddress?: string): Buffer {
    const question = query.questions![0]!;
    const opt = optOf(query);
    const flagsIn = (query.flags ?? 0) & (dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED);
    const base: dnsPacket.Packet = {
      type: 'response',
      id: query.id ?? 0,
      questions: [question],
      additionals: opt && !this.#behaviour.omitOpt
        ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: opt.flag_do ? dnsPacket.DNSSEC_OK : 0, flag_do: opt.flag_do, options: [] }]
        : [],
    };
    const flags = dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE | flagsIn;
    if (mode === 'servfail') return dnsPacket.encode({ ...base, flags: flags | 2 });
    if (mode === 'refused') return dnsPacket.encode({ ...base, flags: flags | 5 });
    if (mode === 'malformed') {
      const buf = dnsPacket.encode({ ...base, additionals: [], flags });
      buf.writeUInt16BE(1, 6);   // one answer record that is not there
      return buf;
    }
    const truncated = dnsPacket.encode({ ...base, flags: flags | dnsPacket.TRUNCATED_RESPONSE });
    if (mode === 'truncate-udp' && transport === 'udp') return truncated;

    const { rcode, answers, authorities, additionals } = this.#lookup(normalise(question.name), question.type, spoofAddress);
    // Extra records go before the OPT: a resolver drops whatever follows it.
    const full = dnsPacket.encode({ ...base, flags: flags | rcode, answers, authorities, additionals: [...additionals, ...(base.additionals ?? [])] });
    if (transport === 'udp') {
      const limit = Math.max(512, opt?.udpPayloadSize ?? 512);
      if (full.length > limit) return truncated;
    }
    return full;
  }

  #lookup(qname: string, qtype: string, spoofAddress?: string): { rcode: number; answers: dnsPacket.Answer[]; authorities: dnsPacket.Answer[]; additionals: dnsPacket.Answer[] } {
    const answers: dnsPacket.Answer[] = [];
    const extra = { authorities: [] as dnsPacket.Answer[], additionals: [] as dnsPacket.Answer[] };
    let name = qname;
    for (let hop = 0; hop < MAX_CHAIN; hop++) {
      const all = this.#zone.get(name);
      if (!all) return { rcode: 3, answers, authorities: [...extra.authorities, this.#soa()], additionals: extra.additionals };   // NXDOMAIN (RFC 6604: also at the end of a chain)
      for (const r of all) {
        if (r.section === 'authority') extra.authorities.push(this.#record(name, r));
        else if (r.section === 'additional') extra.additionals.push(this.#record(name, r));
      }
      const records = all.filter((r) => (r.section ?? 'answer') === 'answer');
      const matching = records.filter((r) => r.type === qtype || qtype === 'ANY');
      if (matching.length > 0) {
        for (const r of matching) answers.push(this.#record(name, r, spoofAddress));
        return { rcode: 0, answers, ...extra };
      }
      const cname = records.find((r) => r.type === 'CNAME');
      if (!cname) break;
      answers.push(this.#record(name, cname));
      name = normalise(String(cname.data));
      if (!this.#zone.has(name) && !inZone(name, this.#origin)) return { rcode: 0, answers, ...extra };   // out of our zone: the chain so far
    }
    return { rcode: 0, answers, authorities: [...extra.authorities, this.#soa()], additionals: extra.additionals };   // NODATA
  }

  #record(name: string, r: ZoneRecord, spoofAddress?: string): dnsPacket.Answer {
    const data = spoofAddress !== undefined && r.type === 'A' ? spoofAddress : r.data;
    return { name, type: r.type, class: 'IN', ttl: r.ttl ?? this.#defaultTtl, data } as dnsPacket.Answer;
  }

  #soa(): dnsPacket.Answer {
    return {
      name: this.#origin,
      type: 'SOA',
      class: 'IN',
      ttl: this.#soaTtl,
      data: {
        mname: `ns1.${this.#origin}`, rname: `hostmaster.${this.#origin}`,
        serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: this.#soaMinimum,
      },
    };
  }
}

function optOf(packet: dnsPacket.Packet): dnsPacket.OptAnswer | undefined {
  return packet.additionals?.find((a): a is dnsPacket.OptAnswer => a.type === 'OPT');
}

function inZone(name: string, origin: string): boolean {
  return name === origin || name.endsWith(`.${origin}`);
}

function normalise(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** A loopback address:port with nothing listening (bound, then closed): queries to it get ECONNREFUSED. */
export async function closedPort(host = '127.0.0.1'): Promise<HostPort> {
  const udp = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => udp.bind(0, host, () => resolve()));
  const port = udp.address().port;
  await new Promise<void>((resolve) => udp.close(() => resolve()));
  const family = host.includes(':') ? 6 : 4;
  return { host, port, family, text: family === 6 ? `[${host}]:${port}` : `${host}:${port}` };
}
