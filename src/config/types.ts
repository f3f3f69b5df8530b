/**
 * The validated, normalised configuration: what every other folder reads.
 * A Config is an immutable snapshot; reload builds a new one and swaps it whole.
 * Durations are milliseconds (…Ms) or seconds (…S) as the field names say.
 */

export type Mode = 'enforce' | 'audit';
export type SinkholeResponse = 'nxdomain' | 'nodata' | 'refused' | 'null-ip';
export type UnlistedAction = 'forward' | 'sinkhole' | 'hold';
export type QueryLogging = 'all' | 'blocked' | 'none';
/** Which upstream is asked first: config order (v1), or the best recent latency. */
export type UpstreamStrategy = 'ordered' | 'fastest';

/**
 * A host:port the proxy binds or talks to. `text` is for logs and metric labels:
 * how the config wrote it, or formatHostPort's spelling for an address made
 * here (a resolv.conf nameserver, a listener bound to port 0).
 */
export interface HostPort {
  readonly host: string;        // an IP literal, without brackets
  readonly port: number;
  readonly family: 4 | 6;
  readonly text: string;        // "127.0.0.1:5353", "[::1]:5353"
}

export interface Cidr {
  readonly network: string;     // the address part, e.g. "10.20.1.0"
  readonly prefix: number;
  readonly family: 4 | 6;
  readonly text: string;        // "10.20.1.0/24"
}

/**
 * One name rule. `exact` matches the name itself; `subtree` ("*.example.org")
 * matches any name strictly below `name`, at any depth, never `name` itself.
 * `source` is the text that put the rule there, for the decision log:
 * "*.github.com", or "@npm:registry.npmjs.org" when it came from a preset.
 */
export interface NamePattern {
  readonly kind: 'exact' | 'subtree';
  readonly name: string;        // lower-case, no trailing dot, no "*." prefix
  readonly source: string;
}

export interface ClientRule {
  readonly name: string;        // may contain "{ip}", expanded with the source address
  readonly match: readonly Cidr[];
  readonly role: string;        // always names a role in `roles`
  /** `clients[].mode`: overrides the role's and the global mode for this entry's agents; null when not set. */
  readonly mode: Mode | null;
}

export interface RoleConfig {
  readonly name: string;
  readonly allow: readonly NamePattern[];
  readonly deny: readonly NamePattern[];
  /** Numeric query types the role may ask for; null when the role sets no `qtypes` (any type). */
  readonly qtypes: readonly number[] | null;
  readonly privateOk: readonly NamePattern[];
  readonly unlisted: UnlistedAction;
  /** `tunneling`: null when the role has no such section (the signals are off and cost nothing). */
  readonly tunneling: TunnelingConfig | null;
  /** `roles.<name>.mode`: overrides the global mode for the role's agents (a client's own wins); null when not set. */
  readonly mode: Mode | null;
}

/**
 * `roles.<name>.tunneling`: the signals of a DNS tunnel or a slow leak (decide/tunneling.ts).
 * sinkhole: a name that trips is sinkholed, reason `tunneling`; log: decided as usual,
 * the decision log line gets `tunneling`.
 */
export interface TunnelingConfig {
  readonly action: 'sinkhole' | 'log';
  /** Longest label below the registrable domain, in characters. */
  readonly maxLabelLength: number;
  /** Longest whole name, in characters, without the trailing dot. */
  readonly maxNameLength: number;
  /** Shannon entropy in bits per character, for labels below the registrable domain of 16 characters or more. */
  readonly maxLabelEntropy: number;
  /** Distinct names under one registrable domain, per agent, per 10 minutes. */
  readonly maxNamesPerDomain: number;
  /** Sum over distinct names, of the characters below the registrable domain, per agent and registrable domain, per hour. */
  readonly maxBytesPerDomain: number;
}

export interface ApprovalConfig {
  readonly url: string;         // base URL, no trailing slash
  readonly tokenFile: string | null;
  readonly grantTtlMs: number;
  /** The longest grant a hold decision's ttl_seconds may ask for. */
  readonly maxGrantTtlMs: number;
  readonly holdTimeoutMs: number;
  readonly onHoldTimeout: 'sinkhole' | 'servfail';
  readonly onLinkDown: 'sinkhole' | 'forward';
  readonly maxPendingHolds: number;
  /**
   * Pending holds one agent may have, and one client entry (every agent an
   * `{ip}` template produces, together). Default a tenth of maxPendingHolds, at least 1.
   */
  readonly maxPendingHoldsPerAgent: number;
  readonly internalSuffixes: readonly string[];
}

/** `limits`: per-client fairness. Defaults are what v1 already enforced (rate limits for known clients off). */
export interface LimitsConfig {
  /** Queries per second per source address of a known client; 0: not limited. */
  readonly clientQps: number;
  /** Bucket size, already resolved (client_burst 0 means 2 × client_qps). */
  readonly clientBurst: number;
  readonly overLimit: 'drop' | 'refuse';
  /** TCP connections from known clients, in all; strangers have their own budget below. */
  readonly tcpConnections: number;
  readonly tcpConnectionsPerClient: number;
  readonly tcpIdleTimeoutMs: number;
  /** Queries handled at once per source address, over UDP and TCP together. */
  readonly inFlightPerClient: number;
  /** Queries per second per source address that matches no client (burst 2×); beyond it they are dropped. */
  readonly unknownQps: number;
  /** TCP connections from sources that match no client, in all and per source; each is closed after one answer. */
  readonly unknownTcpConnections: number;
  readonly unknownTcpConnectionsPerSource: number;
}

/** `firewall`: nftables sets filled from allowed answers (src/firewall/). */
export interface FirewallConfig {
  readonly backend: 'nftables';
  /** `table inet <table>`, created at start if missing. */
  readonly table: string;
  /** One pair of sets per role, or per agent. */
  readonly scope: 'role' | 'agent';
  /** Added to the TTL handed out, for an element's timeout. */
  readonly graceMs: number;
  /** Longest an answer waits for its addresses to reach the set. */
  readonly waitMs: number;
  /** closed: SERVFAIL (reason firewall_error) when the set could not be updated in time; open: answer anyway. */
  readonly onError: 'closed' | 'open';
}

export interface Config {
  /** Absolute path of the file this snapshot was read from. */
  readonly file: string;
  readonly version: 1;
  readonly mode: Mode;
  readonly listen: {
    readonly dns: readonly HostPort[];
    readonly http: HostPort | null;
    /** DNS worker processes (`auto` already resolved to the core count); 1 runs everything in one process. */
    readonly workers: number;
  };
  readonly upstreams: {
    readonly servers: readonly HostPort[];   // "system" already expanded from /etc/resolv.conf
    readonly timeoutMs: number;
    readonly strategy: UpstreamStrategy;
  };
  readonly cache: {
    readonly maxEntries: number;
    /** Bound on what the cached answers hold, in bytes (`cache.max_bytes`). */
    readonly maxBytes: number;
  };
  readonly answers: { readonly maxTtlS: number; readonly blockPrivate: boolean };
  readonly sinkhole: {
    readonly response: SinkholeResponse;
    readonly ttlS: number;
    /** Appended to every block's EDE text ("ask at https://approvals.example/"); "" for none. */
    readonly hint: string;
  };
  readonly clients: readonly ClientRule[];
  readonly roles: ReadonlyMap<string, RoleConfig>;
  readonly approval: ApprovalConfig | null;
  readonly admin: { readonly tokenFile: string | null };
  readonly log: { readonly level: string; readonly queries: QueryLogging };
  readonly metrics: { readonly perAgent: boolean };
  readonly limits: LimitsConfig;
  /** null: no firewall sync (v1). */
  readonly firewall: FirewallConfig | null;
}
