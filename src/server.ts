import type { Logger } from 'pino';
import { Approvals } from './approval/approvals.js';
import { buildPipeline, type Pipeline } from './chain.js';
import { AnswerCache } from './cache/store.js';
import { readOptionalToken } from './config/token.js';
import { sameAddresses, sameHttp } from './config/sections/listen.js';
import type { Config, HostPort } from './config/types.js';
import { DomainBudgets } from './decide/domain-budgets.js';
import { compileRolesAsync } from './decide/role.js';
import { GrantStore } from './grants/grants.js';
import { HoldRegistry } from './hold/registry.js';
import { IntentdnsError } from './errors.js';
import { SetWriter, closeRevokedGrant, elementSeries, nftReader, nftRunner, startFirewall, type NftReader } from './firewall/index.js';
import { LineSampler, SocketBudget, TokenBuckets, readOpenFileLimit, upstreamSocketBound } from './limit/index.js';
import { DROP_REASONS, listenerLimits, startListeners, type Listeners } from './receive/index.js';
import { DecisionStream, SHED_REASONS, startHttp, type DecisionStreamLimits, type HttpServer } from './http/index.js';
import { TopCounter } from './observe/top.js';
import { Quarantine } from './quarantine/quarantine.js';
import { Metrics } from './telemetry/metrics.js';
import { UpstreamHealth } from './upstream/health.js';
import { UdpPools } from './upstream/udp-pool.js';
import { VERSION } from './version.js';

/** State that outlives a config snapshot: a reload swaps the pipeline, never these. */
interface SharedState {
  readonly cache: AnswerCache;
  readonly grants: GrantStore;
  readonly holds: HoldRegistry;
  /** Agents, client entries and ranges cut off through the admin API or by the approval service; it learns each snapshot's names. */
  readonly quarantine: Quarantine;
  /** Tunneling budgets per agent and registrable domain: a reload keeps what each agent has sent. */
  readonly budgets: DomainBudgets;
  readonly upstreamHealth: UpstreamHealth;
  readonly buckets: TokenBuckets;
  readonly sampler: LineSampler;
  readonly upstreamSockets: SocketBudget;
  readonly upstreamPools: UdpPools;
  /** The nftables writer (firewall:), made once at start: it remembers what it wrote. */
  readonly firewall: SetWriter | null;
  /** GET /v1/decisions: its subscribers stay through reloads and HTTP listener moves. */
  readonly decisions: DecisionStream;
  /** The console's top blocked names and agents over the last hour (GET /v1/top): a reload keeps the counts. */
  readonly top: TopCounter;
}

/** What only tests and embedders set. */
export interface ServerOptions {
  /**
   * The nft command the firewall writer runs (`-f -` is appended); default ["nft"].
   * Tests run it inside a network namespace: ["ip", "netns", "exec", ns, "nft"].
   */
  readonly nftCommand?: readonly string[] | undefined;
  /** The decision stream's bounds (http/decision-stream.ts); tests make them small. */
  readonly decisionStream?: Partial<DecisionStreamLimits> | undefined;
}

/** Rate-limit buckets kept: one per source address, the least recently seen forgotten beyond it. */
const MAX_LIMITED_SOURCES = 100_000;

export class Server {
  readonly metrics: Metrics;
  #pipeline: Pipeline;
  #listeners: Listeners | null = null;
  #http: HttpServer | null = null;
  /** /readyz: true from the moment every listener is bound until shutdown begins. */
  #ready = false;
  #closing: Promise<void> | null = null;
  /** The reload running now (never rejects), so reloads run one at a time and close() can wait for one. */
  #reloading: Promise<void> = Promise.resolve();
  readonly #shared: SharedState;
  readonly #approvals: Approvals;
  readonly #log: Logger;
  /** Reads what the sets already hold at start (null without firewall:). */
  readonly #nftRead: NftReader | null;

  /** @throws TokenFileError when a token file cannot be read. */
  constructor(config: Config, log: Logger, options: ServerOptions = {}) {
    this.#log = log;
    this.#nftRead = config.firewall ? nftReader(options.nftCommand ?? ['nft']) : null;
    this.metrics = new Metrics({ perAgent: config.metrics.perAgent, version: VERSION });
    this.metrics.zeroSeries({ dropReasons: DROP_REASONS, shedReasons: SHED_REASONS });
    this.metrics.knowUpstreams(config.upstreams.servers.map((s) => s.text));
    const grants = new GrantStore();
    const holds = new HoldRegistry({
      grants,
      post: (request, timeoutMs) => this.#approvals.postHold(request, timeoutMs),
      linkUp: () => this.#approvals.linkState === 'up',
      log,
    });
    // Made before the shared state: the approval service's quarantine events change it too.
    const quarantine = new Quarantine();
    this.#approvals = new Approvals({ log, grants, holds, quarantine, onRevoke: (id) => this.#closeGrant(id) });
    this.#approvals.configure(config.approval, readOptionalToken(config.approval?.tokenFile));
    // The fd limit is read once: Node has raised the soft limit to the hard one by now.
    const l = config.limits;
    const bound = upstreamSocketBound(readOpenFileLimit(), l.tcpConnections + l.unknownTcpConnections);
    const fds = { nofile: bound.nofile, from: bound.source, upstream_sockets: bound.upstreamSockets };
    if (bound.tight) {
      log.warn(fds, 'RLIMIT_NOFILE leaves little room for upstream sockets; raise the open-file limit or lower limits.tcp_connections');
    } else {
      log.debug(fds, 'upstream socket bound');
    }
    const upstreamSockets = new SocketBudget(bound.upstreamSockets);
    this.#shared = {
      cache: new AnswerCache({ maxEntries: config.cache.maxEntries, maxBytes: config.cache.maxBytes }), grants, holds,
      quarantine, budgets: new DomainBudgets(), upstreamHealth: new UpstreamHealth(),
      buckets: new TokenBuckets(MAX_LIMITED_SOURCES),
      sampler: new LineSampler(),
      upstreamSockets, upstreamPools: new UdpPools({ budget: upstreamSockets }),
      firewall: config.firewall
        ? new SetWriter({ table: config.firewall.table, run: nftRunner(options.nftCommand ?? ['nft']), onBatch: this.metrics.firewallBatch })
        : null,
      decisions: new DecisionStream(options.decisionStream),
      top: new TopCounter(),
    };
    this.#watchMetrics();
    this.#pipeline = buildPipeline(config, this.#shared, log, this.metrics);
    this.#shared.quarantine.useNames(this.#pipeline.clients);
  }

  /**
   * Binds UDP and TCP on every listen.dns address (all or none) and the HTTP
   * listener, then starts the approval link. Ready once all of that is up.
   */
  async listen(): Promise<void> {
    const config = this.config;
    // Before any answer goes out: with on_error closed, a firewall that cannot be set up stops the start.
    if (this.#shared.firewall) await startFirewall(config, this.#shared.firewall, this.#log, this.#nftRead ?? undefined);
    // The handler reads the current pipeline on every message, so a reload takes effect at once.
    const limits = listenerLimits(config.limits);
    this.#listeners = await startListeners(config.listen.dns, (message, peer) => this.#pipeline.handle(message, peer), {
      log: this.#log, onDrop: this.metrics.dropped, onMalformed: this.metrics.malformed,
      inFlight: limits.inFlight, tcp: limits.tcp,
      // Asked at TCP accept, of the snapshot running then, like the handler.
      isKnown: (address) => this.#pipeline.knows(address),
    });
    if (config.listen.http) {
      try {
        this.#http = await this.#startHttp(config.listen.http, readOptionalToken(config.admin.tokenFile));
      } catch (err) {
        await this.#listeners.close();
        this.#listeners = null;
        throw err;
      }
    }
    this.#approvals.start();
    this.#ready = true;
  }

  #startHttp(address: HostPort, token: string | null): Promise<HttpServer> {
    return startHttp({
      address,
      log: this.#log,
      ready: () => this.#ready,
      adminToken: token,
      registry: this.metrics.registry,
      grants: this.#shared.grants,
      noGrants: this.#approvals.noGrants,
      holds: this.#shared.holds,
      quarantine: this.#shared.quarantine,
      onShed: this.metrics.httpConnectionShed,
      decisions: this.#shared.decisions,
      // A function, not the counter: with workers, the primary hands in the workers' snapshots merged (mergeTop).
      top: () => this.#shared.top.snapshot(),
    });
  }

  /** The approval side (the event link and its glue). */
  get approvals(): Approvals {
    return this.#approvals;
  }

  /** Live grants, from approved commands and decided holds. */
  get grants(): GrantStore {
    return this.#shared.grants;
  }

  /** Pending holds. */
  get holds(): HoldRegistry {
    return this.#shared.holds;
  }

  /** GET /v1/decisions's subscribers. */
  get decisions(): DecisionStream {
    return this.#shared.decisions;
  }

  #closeGrant(id: string): void {
    const writer = this.#shared.firewall;
    const fw = this.config.firewall;
    if (writer && fw) closeRevokedGrant(writer, id, fw.graceMs, this.#log);
  }

  get config(): Config {
    return this.#pipeline.config;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Bound DNS addresses (the real port when the config asked for port 0). */
  addresses(): ReturnType<Listeners['addresses']> {
    return this.#listeners?.addresses() ?? [];
  }

  /** The bound HTTP address, or null when listen.http is off. */
  httpAddress(): ReturnType<HttpServer['address']> | null {
    return this.#http?.address() ?? null;
  }

  /**
   * Swaps in a new, already validated config. Queries in flight finish on the
   * old pipeline; the cache, grants, holds and quarantine carry over. A changed
   * approval URL, token or grant_ttl restarts the event link.
   *
   * All or nothing: whatever can fail comes first (token files, binding a
   * changed listen.http, binding new listen.dns addresses), and a failure
   * undoes what it bound and leaves the running config serving as before.
   * Then the pipeline is swapped in one assignment, and the listeners the new
   * config no longer lists close, giving their queries in flight the grace
   * period. log.level applies at once; cache.max_entries, cache.max_bytes
   * and metrics.per_agent only at the next start (see restartOnlyChanges).
   *
   * The roles' lists are compiled first, in time slices, while the running
   * pipeline goes on answering: a million names take seconds (compileRolesAsync).
   *
   * Reloads run one at a time, in call order.
   * @throws TokenFileError when a token file cannot be read,
   *   ListenError or HttpListenError when a new address cannot be bound,
   *   ServerClosingError once close() has begun. The running config stays.
   */
  reload(config: Config): Promise<void> {
    const run = this.#reloading.then(() => this.#reload(config));
    this.#reloading = run.catch(() => {});
    return run;
  }

  async #reload(config: Config): Promise<void> {
    if (this.#closing) throw new ServerClosingError();
    // First, and in time slices: a long list takes seconds to compile, and queries keep being
    // answered by the running pipeline meanwhile. Before any binding, so what is bound is not
    // left waiting for the swap.
    const roles = await compileRolesAsync(config.roles);
    if (this.#closing) throw new ServerClosingError();
    const token = readOptionalToken(config.approval?.tokenFile);
    const admin = readOptionalToken(config.admin.tokenFile);
    const running = this.config.listen;
    // Listen changes apply only once listen() has bound the running set; before that, listen() reads the new config.
    const listening = this.#listeners;
    const httpMoved = listening !== null && !sameHttp(running.http, config.listen.http);
    const dnsChanged = listening !== null && !sameAddresses(running.dns, config.listen.dns);

    let http = this.#http;
    if (httpMoved && config.listen.http) http = await this.#startHttp(config.listen.http, admin);
    if (dnsChanged) {
      try {
        await listening.update(config.listen.dns);
      } catch (err) {
        if (httpMoved) await http?.close();
        throw err;
      }
    }

    this.#pipeline = buildPipeline(config, this.#shared, this.#log, this.metrics, roles);
    // Health of upstreams the new config still lists carries over; the rest is forgotten.
    this.#shared.upstreamHealth.retain(config.upstreams.servers);
    this.metrics.knowUpstreams(config.upstreams.servers.map((s) => s.text));
    this.#checkQuarantine();
    listening?.setLimits(listenerLimits(config.limits));
    this.#approvals.configure(config.approval, token);
    this.#log.level = config.log.level;
    if (!httpMoved) {
      http?.setAdminToken(admin);
      return;
    }
    const old = this.#http;
    this.#http = http;
    this.#log.info({ from: running.http?.text ?? null, to: http?.address().text ?? null }, 'HTTP listener changed');
    await old?.close();
  }

  /**
   * Not ready at once; held queries are answered, a reload in progress
   * finishes, in-flight queries get the listeners' grace period, then
   * everything closes. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#ready = false;
    // First, so held queries are answered now rather than keeping the listeners' grace period busy.
    const stopping = this.#approvals.stop();
    // A reload that began before close() may still be binding or closing listeners; no new one starts.
    await this.#reloading;
    await this.#listeners?.close();
    this.#listeners = null;
    await stopping;
    await this.#http?.close();
    this.#http = null;
    // Batches already queued finish; the elements are left to expire on their own.
    await this.#shared.firewall?.close();
    // Last: every query that could still need an upstream has been answered.
    this.#shared.upstreamPools.close();
  }

  /** The quarantine learns the new snapshot's names; entries it no longer reaches are kept, and said. */
  #checkQuarantine(): void {
    const unreached = this.#shared.quarantine.useNames(this.#pipeline.clients);
    if (unreached.length === 0) return;
    const of = (kind: 'agent' | 'client' | 'cidr'): string[] => unreached.flatMap((e) => e[kind] ?? []);
    this.#log.warn(
      { agents: of('agent'), clients: of('client'), cidrs: of('cidr') },
      'quarantine names what the config does not have (kept, in force again if the config brings them back)',
    );
  }

  #watchMetrics(): void {
    const { cache, grants, holds, upstreamHealth } = this.#shared;
    holds.observe((_outcome, seconds) => this.metrics.holdWait.observe(seconds));
    this.metrics.watch({
      cacheEntries: () => cache.size,
      cacheBytes: () => cache.bytes,
      cacheHits: () => cache.hits,
      cacheMisses: () => cache.misses,
      holdsPending: () => holds.stats.pending,
      holdsLate: () => holds.stats.late,
      holdsPendingLimit: () => this.config.approval?.maxPendingHolds ?? 0,
      holdsEnded: () => holds.stats.ended,
      grantsActive: () => grants.activeCount(Date.now()),
      grantsAdded: () => grants.stats.added,
      approvalLinkUp: () => this.#approvals.linkState === 'up',
      upstreamsUp: () => upstreamHealth.upStates(this.config.upstreams.servers),
      approvalsWithoutGrant: () => this.#approvals.noGrants.counts,
      approvalEvents: () => {
        const stats = this.#approvals.link?.stats;
        return stats ? { ...stats.received, unknown: stats.unknown, malformed: stats.malformed } : {};
      },
      upstreamSockets: () => {
        const s = this.#shared.upstreamSockets;
        return { open: s.open, max: s.max, refused: s.refused };
      },
      limitedSources: () => this.#shared.buckets.size,
      tunnelingKeys: () => this.#shared.budgets.size,
      firewallElements: () => (this.#shared.firewall ? elementSeries(this.config, this.#shared.firewall.liveCounts()) : {}),
      decisionStream: () => ({ subscribers: this.#shared.decisions.subscribers, dropped: this.#shared.decisions.dropped }),
    });
  }
}

/** reload() after close() has begun: nothing changes any more. */
export class ServerClosingError extends IntentdnsError {
  static readonly CODE = 'IDNS_ERR_CLOSING';

  constructor() {
    super(ServerClosingError.CODE, 'intentdns is shutting down; the config is not reloaded');
  }
}


