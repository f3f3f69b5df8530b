/**
 * One DNS worker of `listen.workers`: the listeners and pipelines of the
 * single process (receive → … → answer), each with its own cache, token
 * buckets, tunneling budgets and upstream pools, sized to its share of the
 * limits (share.ts). What must be one for the whole proxy is the primary's
 * (primary.ts), reached through replicas fed by the primary (grants,
 * quarantine) and remote stages asking it (holds, firewall, decision stream).
 *
 * Reload is in two steps so that every worker takes a config or none does:
 * prepare (parse the text, compile the roles, bind new listen.dns
 * addresses, build the pipeline, keep it aside) and then commit (swap it in)
 * or abort (close what prepare bound).
 */
import type { Logger } from 'pino';
import { AnswerCache } from '../cache/store.js';
import { buildPipeline, type ChainState, type Pipeline } from '../chain.js';
import { ConfigError } from '../config/errors.js';
import { parseConfig } from '../config/load.js';
import { sameAddress, sameAddresses } from '../config/sections/listen.js';
import type { Config, HostPort } from '../config/types.js';
import { DomainBudgets } from '../decide/domain-budgets.js';
import { compileRolesAsync } from '../decide/role.js';
import { GrantStore } from '../grants/grants.js';
import { SHED_REASONS } from '../http/index.js';
import { LineSampler, SocketBudget, TokenBuckets, readOpenFileLimit, upstreamSocketBound } from '../limit/index.js';
import { TopCounter } from '../observe/top.js';
import { DROP_REASONS, listenerLimits, startListeners, type Listeners } from '../receive/index.js';
import { Metrics } from '../telemetry/metrics.js';
import { UpstreamHealth } from '../upstream/health.js';
import { UdpPools } from '../upstream/udp-pool.js';
import { VERSION } from '../version.js';
import type { GrantOp, QuarantineState, ToWorker } from './messages.js';
import { RemoteDecisionSink, RemoteHolds, RemoteSetWriter, type SendToPrimary } from './remote.js';
import { applyGrantOp, ReplicaQuarantine } from './replicas.js';
import { workerShare } from './share.js';

/** Rate-limit buckets kept per worker (as the single process keeps in all). */
const MAX_LIMITED_SOURCES = 100_000;

export type WorkerStart = Extract<ToWorker, { t: 'start' }>;

/** The config a worker serves: the text parsed here, cut to this worker's share. @throws ConfigError */
export function workerConfig(file: string, text: string, workers: number): Config {
  return workerShare(parseConfig(text, file), workers);
}

export class WorkerServer {
  readonly metrics: Metrics;
  readonly index: number;
  readonly #workers: number;
  readonly #file: string;
  readonly #log: Logger;
  readonly #grants = new GrantStore();
  readonly #quarantine = new ReplicaQuarantine();
  readonly #holds: RemoteHolds;
  readonly #firewall: RemoteSetWriter | null;
  readonly #decisions: RemoteDecisionSink;
  /** This worker's part of the console's top counts; the primary merges every worker's (GET /v1/top). */
  readonly top = new TopCounter();
  readonly #state: ChainState & { readonly cache: AnswerCache; readonly budgets: DomainBudgets; readonly upstreamHealth: UpstreamHealth; readonly buckets: TokenBuckets };
  #pipeline: Pipeline;
  #listeners: Listeners | null = null;
  /** listen() in progress or done: a reload prepared meanwhile waits for it, so it sees the bound set. */
  #listening: Promise<unknown> = Promise.resolve();
  /** A prepared reload waiting for commit or abort. */
  #staged: { readonly id: number; readonly pipeline: Pipeline; readonly dnsChanged: boolean } | null = null;
  #closing: Promise<void> | null = null;
  /** Messages this worker took from the shared sockets: how the kernel spread them over workers (logged at stop). */
  #received = 0;

  /** `config`: workerConfig of the start message's text. */
  constructor(start: WorkerStart, config: Config, send: SendToPrimary, log: Logger) {
    this.index = start.index;
    this.#workers = start.workers;
    this.#file = start.file;
    this.#log = log;
    for (const op of start.grants) applyGrantOp(this.#grants, op);
    this.#quarantine.replace(start.quarantine);
    this.#holds = new RemoteHolds(send);
    this.#firewall = config.firewall ? new RemoteSetWriter(send) : null;
    this.#decisions = new RemoteDecisionSink(send);
    this.#decisions.want(start.decisionsWanted);

    this.metrics = new Metrics({ perAgent: config.metrics.perAgent, version: VERSION });
    this.metrics.zeroSeries({ dropReasons: DROP_REASONS, shedReasons: SHED_REASONS });
    this.metrics.knowUpstreams(config.upstreams.servers.map((s) => s.text));
    const l = config.limits;
    const bound = upstreamSocketBound(readOpenFileLimit(), l.tcpConnections + l.unknownTcpConnections);
    const upstreamSockets = new SocketBudget(bound.upstreamSockets);
    this.#state = {
      cache: new AnswerCache({ maxEntries: config.cache.maxEntries, maxBytes: config.cache.maxBytes }),
      grants: this.#grants, holds: this.#holds, quarantine: this.#quarantine,
      budgets: new DomainBudgets(), upstreamHealth: new UpstreamHealth(),
      buckets: new TokenBuckets(MAX_LIMITED_SOURCES), sampler: new LineSampler(),
      upstreamSockets, upstreamPools: new UdpPools({ budget: upstreamSockets }),
      firewall: this.#firewall, decisions: this.#decisions, top: this.top,
    };
    this.#watchMetrics();
    this.#pipeline = buildPipeline(config, this.#state, log, this.metrics);
  }

  get config(): Config {
    return this.#pipeline.config;
  }

  /** DNS messages received so far (UDP datagrams and TCP frames). */
  get received(): number {
    return this.#received;
  }

  /** Binds every listen.dns address through the cluster (all or none); resolves with what was bound. */
  listen(): Promise<HostPort[]> {
    const run = this.#listen();
    this.#listening = run.catch(() => {});
    return run;
  }

  async #listen(): Promise<HostPort[]> {
    const config = this.config;
    const limits = listenerLimits(config.limits);
    this.#listeners = await startListeners(config.listen.dns, (message, peer) => {
      this.#received += 1;
      return this.#pipeline.handle(message, peer);
    }, {
      log: this.#log, onDrop: this.metrics.dropped, onMalformed: this.metrics.malformed,
      inFlight: limits.inFlight, tcp: limits.tcp,
      isKnown: (address) => this.#pipeline.knows(address),
      shared: true,
    });
    return this.#listeners.addresses();
  }

  // --- what the primary sends ---

  grant(op: GrantOp): void {
    applyGrantOp(this.#grants, op);
  }

  quarantine(state: QuarantineState): void {
    this.#quarantine.replace(state);
  }

  holdAnswered(message: Extract<ToWorker, { t: 'hold.outcome' }>): void {
    this.#holds.answered(message.id, message.outcome);
  }

  firewallDone(message: Extract<ToWorker, { t: 'firewall.done' }>): void {
    this.#firewall?.written(message.id, message.error);
  }

  decisionsWanted(on: boolean): void {
    this.#decisions.want(on);
  }

  /**
   * Everything of a reload that can fail, without changing what is served:
   * parse, compile, bind the new addresses (next to the running ones).
   * Returns the errors, or null when prepared.
   */
  async prepare(id: number, text: string): Promise<string[] | null> {
    if (this.#closing) return ['worker is shutting down'];
    await this.#listening;
    if (this.#staged !== null) await this.abort(this.#staged.id);
    let config: Config;
    try {
      config = workerConfig(this.#file, text, this.#workers);
    } catch (err) {
      return err instanceof ConfigError ? err.format().split('\n') : [errorText(err)];
    }
    try {
      const roles = await compileRolesAsync(config.roles);
      const running = this.config.listen.dns;
      const dnsChanged = this.#listeners !== null && !sameAddresses(running, config.listen.dns);
      // Both sets for now: the new addresses are bound (or the reload fails here), nothing is closed until commit.
      if (dnsChanged) await this.#listeners!.update(union(running, config.listen.dns));
      this.#staged = { id, pipeline: buildPipeline(config, this.#state, this.#log, this.metrics, roles), dnsChanged };
      return null;
    } catch (err) {
      return [errorText(err)];
    }
  }

  /** Swaps the prepared pipeline in; the addresses the new config no longer lists close with their grace period. */
  commit(id: number): void {
    const staged = this.#staged;
    if (staged === null || staged.id !== id) return;
    this.#staged = null;
    this.#pipeline = staged.pipeline;
    const config = this.config;
    this.#state.upstreamHealth.retain(config.upstreams.servers);
    this.metrics.knowUpstreams(config.upstreams.servers.map((s) => s.text));
    this.#listeners?.setLimits(listenerLimits(config.limits));
    this.#log.level = config.log.level;
    if (staged.dnsChanged) {
      this.#listeners?.update(config.listen.dns).catch((err: unknown) => this.#log.error({ err }, 'closing removed DNS listeners failed'));
    }
  }

  /** Drops a prepared reload: closes the addresses prepare bound for it. */
  async abort(id: number): Promise<void> {
    const staged = this.#staged;
    if (staged === null || staged.id !== id) return;
    this.#staged = null;
    if (staged.dnsChanged) await this.#listeners?.update(this.config.listen.dns);
  }

  /** Queries in flight get the listeners' grace period; held ones and firewall writes still waiting are answered. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** The primary is gone: nobody will answer a hold or a firewall write any more. */
  primaryGone(): void {
    this.#holds.close();
    this.#firewall?.close();
  }

  async #close(): Promise<void> {
    await this.#listeners?.close();
    this.#listeners = null;
    this.#decisions.close();
    this.#holds.close();
    this.#firewall?.close();
    this.#state.upstreamPools.close();
  }

  /**
   * The query path's values; what the primary reports (holds, grants, the
   * approval link, firewall sets, subscribers) is left at zero here and not
   * taken from workers when the primary sums the scrape (metrics.ts).
   */
  #watchMetrics(): void {
    const s = this.#state;
    this.metrics.watch({
      cacheEntries: () => s.cache.size,
      cacheBytes: () => s.cache.bytes,
      cacheHits: () => s.cache.hits,
      cacheMisses: () => s.cache.misses,
      holdsPending: () => 0,
      holdsLate: () => 0,
      holdsPendingLimit: () => 0,
      holdsEnded: () => ({}),
      grantsActive: () => 0,
      grantsAdded: () => 0,
      approvalLinkUp: () => false,
      approvalsWithoutGrant: () => ({}),
      approvalEvents: () => ({}),
      upstreamsUp: () => s.upstreamHealth.upStates(this.config.upstreams.servers),
      upstreamSockets: () => ({ open: s.upstreamSockets.open, max: s.upstreamSockets.max, refused: s.upstreamSockets.refused }),
      limitedSources: () => s.buckets.size,
      tunnelingKeys: () => s.budgets.size,
      firewallElements: () => ({}),
      decisionStream: () => ({ subscribers: 0, dropped: this.#decisions.dropped }),
    });
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}


/** `a`, then what `b` adds. */
function union(a: readonly HostPort[], b: readonly HostPort[]): HostPort[] {
  return [...a, ...b.filter((x) => !a.some((y) => sameAddress(x, y)))];
}

