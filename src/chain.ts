/**
 * The query path of one config snapshot, put together: the order of the
 * chain is written here, once, with the reason for each position. No stage
 * knows what comes before it.
 *
 *   receive → limit → decode → identify → decide → hold → [firewall] → check → cache → upstream
 *           → answer → observe → encode → receive
 *
 * limit (the source's token bucket) comes before decode, and is not a Stage:
 * a query over its limit is what a flood is made of, so it costs a map
 * lookup, a few additions and a counter, and never the decode, the chain,
 * the encode or a log line of its own (see Pipeline.handle).
 */
import type { Logger } from 'pino';
import { makeAnswer, faultAnswer, rateLimitedAnswer } from './answer/answer.js';
import { encodeAnswer, encodeRejection } from './answer/encode.js';
import { CacheStage } from './cache/cache.js';
import type { AnswerCache } from './cache/store.js';
import { CheckStage } from './check/check.js';
import type { Config } from './config/types.js';
import { DecideStage } from './decide/decide.js';
import { FirewallStage, type SetWrites } from './firewall/index.js';
import { NO_GRANTS, type DomainBudgetLookup, type GrantLookup, type QuarantineLookup } from './decide/policy.js';
import { compileRoles, type Role } from './decide/role.js';
import { HoldStage } from './hold/hold.js';
import type { HoldWaiter } from './hold/registry.js';
import { ClientTable } from './identify/clients.js';
import { IdentifyStage } from './identify/identify.js';
import { RateLimit, type LineSampler, type SocketBudget, type TokenBuckets } from './limit/index.js';
import type { DecisionSink } from './observe/decision-sink.js';
import { Observe, type LimitObserver, type QueryObserver } from './observe/observe.js';
import type { TopCounter, TopOutcome } from './observe/top.js';
import { UNCOVERED_REASONS } from './suggest/index.js';
import { chain, Query, type Agent, type Answer, type Fetched, type Next } from './pipeline/types.js';
import type { Peer } from './receive/types.js';
import type { Metrics } from './telemetry/metrics.js';
import { Upstreams } from './upstream/exchange.js';
import type { UpstreamHealth } from './upstream/health.js';
import { UpstreamStage } from './upstream/upstream.js';
import type { UdpPools } from './upstream/udp-pool.js';
import { peekQuestionType } from './wire/peek.js';
import { decodeQuery } from './wire/query.js';

/** What the chain reads of the state that outlives a config snapshot (a reload builds a new Pipeline around the same). */
export interface ChainState {
  readonly cache: AnswerCache;
  /** Grants from the approval link; consulted only while the config has an `approval` section. */
  readonly grants: GrantLookup;
  /** Pending holds (the registry, or a worker's way to the primary's); used only while the config has an `approval` section. */
  readonly holds: HoldWaiter;
  readonly quarantine: QuarantineLookup;
  /**
   * What each agent sent under each registrable domain, for the roles' tunneling limits: kept across
   * reloads, so a reload does not give a tunnel a fresh budget (the new limits apply to it at once).
   */
  readonly budgets: DomainBudgetLookup;
  /** Which upstreams answer: kept across reloads, so a reload does not make a dead upstream cost a timeout again. */
  readonly upstreamHealth: UpstreamHealth;
  /** Token buckets per source address (limits.*): a reload keeps what each source has used. */
  readonly buckets: TokenBuckets;
  /** Which refused and rate-limited queries get a log line: one per source per 10 s. */
  readonly sampler: LineSampler;
  /** The bound on upstream sockets, from RLIMIT_NOFILE at start. */
  readonly upstreamSockets: SocketBudget;
  /** The UDP sockets to each upstream: a reload keeps those of the upstreams it keeps. */
  readonly upstreamPools: UdpPools;
  /** The nftables writer (or a worker's way to the primary's), made at start when the config had a `firewall` section. */
  readonly firewall: SetWrites | null;
  /** The live decision stream (GET /v1/decisions): every snapshot's Observe feeds the same one. None: no stream. */
  readonly decisions?: DecisionSink | null;
  /** The console's top blocked names and agents over the last hour: fed by every decision, kept across reloads. */
  readonly top?: Pick<TopCounter, 'record'> | null;
}

/**
 * `roles` are config.roles compiled: a reload compiles them beforehand in time slices
 * (compileRolesAsync), so that what is left here is quick.
 */
export function buildPipeline(
  config: Config, shared: ChainState, log: Logger, metrics: Metrics,
  roles: ReadonlyMap<string, Role> = compileRoles(config.roles),
): Pipeline {
  const upstreams = new Upstreams({
    servers: config.upstreams.servers, timeoutMs: config.upstreams.timeoutMs, strategy: config.upstreams.strategy,
    health: shared.upstreamHealth, log, onAttempt: metrics.upstreamAttempt, onSkip: metrics.upstreamSkipped,
    sockets: shared.upstreamSockets, pools: shared.upstreamPools,
  });
  const clients = new ClientTable(config.clients, roles, config.mode);
  const l = config.limits;
  const rateLimit = new RateLimit(
    { clientQps: l.clientQps, clientBurst: l.clientBurst, unknownQps: l.unknownQps, unknownBurst: 2 * l.unknownQps },
    shared.buckets,
  );
  const approval = config.approval;
  const handle = chain(
    [
      // Strangers are refused before any policy runs, in every mode: never an open resolver.
      new IdentifyStage(clients),
      // quarantine > qtype > deny > tunneling > grant > allow > unlisted; blocks end the chain here.
      // Without an approval section there are no grants ("grants and holds are off"). Around
      // everything below, so quarantine is looked up again when an answer comes back after waiting.
      new DecideStage(approval ? shared.grants : NO_GRANTS, shared.quarantine, shared.budgets),
      // Only verdicts that ask a reviewer wait here (audit mode asks nobody); an approved hold goes on carrying its grant.
      new HoldStage(approval, approval ? shared.holds : null),
      // Above check, so it sees the verdict check leaves (a rebinding answer opens nothing), and
      // holds the answer until its addresses are in the agent's set, bounded by firewall.wait.
      ...(config.firewall && shared.firewall
        ? [new FirewallStage({ config: config.firewall, writer: shared.firewall, maxTtlS: config.answers.maxTtlS, log, onResult: metrics.firewallUpdate })]
        : []),
      // Above the cache, so cached answers meet the current role's deny list and rebinding check.
      // Wraps everything below: it judges what came back, for verdicts that let it through.
      new CheckStage(config.answers.blockPrivate),
      // One cache for all roles: what a role may see is decided per query above, never stored.
      new CacheStage(shared.cache),
    ],
    new UpstreamStage(upstreams).handle,
  );
  const top = shared.top ?? null;
  const topQuery: QueryObserver[] = top ? [(q, a) => top.record(q.agent?.name, q.qname, topOutcome(a))] : [];
  // A rate-limited query was not answered (blocked); its name is known only when it was decoded.
  const topLimited: LimitObserver[] = top ? [(l) => top.record(l.agent?.name, l.message?.question.name, 'blocked')] : [];
  const observe = new Observe(log, config.log.queries, [metrics.observeQuery, ...topQuery], {
    limitObservers: [metrics.observeLimited, ...topLimited], sampler: shared.sampler, sink: shared.decisions ?? null,
  });
  return new Pipeline(config, clients, handle, observe, log, (peer) => metrics.malformed(peer.transport), rateLimit);
}

/**
 * One config snapshot's way from bytes to bytes. Reload builds a new Pipeline
 * and swaps it in one assignment; queries already inside the old one finish there.
 */
export class Pipeline {
  constructor(
    readonly config: Config,
    /**
     * This snapshot's clients: the table identify/ asks (its answers are remembered per address,
     * so the rate limit asking first is a map lookup), also for the admin API to tell which agent a name means.
     */
    readonly clients: ClientTable,
    private readonly chain: Next,
    private readonly observe: Observe,
    private readonly log: Logger,
    /** Told about every packet decode would not accept, e.g. for malformed_packets_total. */
    private readonly onMalformed: (peer: Peer) => void,
    private readonly rateLimit: RateLimit,
  ) {}

  /** Whether `address` is a known client under this snapshot: receive/ asks at TCP accept. */
  knows(address: string): boolean {
    return this.clients.lookup(address) !== null;
  }

  /** The reply at once when no stage had to wait (a cache hit, a block), a promise of it otherwise. */
  handle(message: Buffer, peer: Peer): Buffer | null | Promise<Buffer | null> {
    const receivedAt = performance.now();
    const agent = this.clients.lookup(peer.address);
    if (!this.rateLimit.admit(peer.address, agent !== null, receivedAt)) return this.#overLimit(message, peer, agent, receivedAt);
    const decoded = decodeQuery(message);
    if (!decoded.ok) {
      const { rejection } = decoded;
      this.onMalformed(peer);
      this.log.debug({ client: peer.address, transport: peer.transport, reason: rejection.reason, detail: rejection.detail }, 'malformed packet');
      return encodeRejection(rejection);
    }
    const query = new Query(decoded.query, peer.address, peer.transport, receivedAt);
    let flow;
    try {
      flow = this.chain(query);
    } catch (err) {
      return this.#failed(query, err);
    }
    return flow instanceof Promise
      ? flow.then((f) => this.#reply(query, f), (err: unknown) => this.#failed(query, err))
      : this.#reply(query, flow);
  }

  #reply(query: Query, fetched: Fetched | null): Buffer {
    let answer;
    try {
      answer = makeAnswer(query, fetched, this.config.sinkhole);
    } catch (err) {
      return this.#failed(query, err);
    }
    return this.#send(query, answer);
  }

  #failed(query: Query, err: unknown): Buffer {
    this.log.error({ err, qname: query.qname, client: query.client }, 'query failed');
    return this.#send(query, faultAnswer(query, err));
  }

  #send(query: Query, answer: Answer): Buffer {
    this.observe.record(query, answer);
    return encodeAnswer(query, answer, this.config.answers.maxTtlS);
  }

  /**
   * A packet over its source's limit: dropped, or REFUSED (EDE 15) for a
   * known client with over_limit refuse; strangers are always dropped. It
   * is decoded only when it is to be answered or its sampled log line is
   * due; otherwise its type is read straight from the question for the count.
   */
  #overLimit(message: Buffer, peer: Peer, agent: Agent | null, receivedAt: number): Buffer | null {
    const refuse = agent !== null && this.config.limits.overLimit === 'refuse';
    const decoded = refuse || this.observe.wouldLog(peer.address, receivedAt) ? decodeQuery(message) : null;
    const m = decoded?.ok ? decoded.query : null;
    // A packet that does not decode gets nothing, whatever over_limit says: it is not worth an answer.
    const action = refuse && m !== null ? 'refuse' : 'drop';
    this.observe.recordLimited({
      client: peer.address, transport: peer.transport, agent, action, message: m,
      qtype: m ? m.question.type : peekQuestionType(message), receivedAt,
    });
    if (action === 'drop' || m === null) return null;
    const query = new Query(m, peer.address, peer.transport, receivedAt);
    query.agent = agent ?? undefined;
    return encodeAnswer(query, rateLimitedAnswer(query), this.config.answers.maxTtlS);
  }
}

/**
 * What the console's top counts make of an answer: blocked is what the agent got (as the decision
 * line's `blocked`), and uncovered a block suggest would answer with an allow entry.
 */
function topOutcome(answer: Answer): TopOutcome {
  if (answer.reply.kind === 'upstream') return 'answered';
  return UNCOVERED_REASONS.has(answer.reason) ? 'uncovered' : 'blocked';
}
