/**
 * The query path of one config snapshot, put together: the order of the
 * chain is written here, once, with the reason for each position. No stage
 * knows what comes before it.
 *
 *   receive → decode → identify → decide → hold → check → cache → upstream
 *           → answer → observe → encode → receive
 */
import type { Logger } from 'pino';
import { makeAnswer, faultAnswer } from './answer/answer.js';
import { encodeAnswer, encodeRejection } from './answer/encode.js';
import { CacheStage } from './cache/cache.js';
import type { AnswerCache } from './cache/store.js';
import { CheckStage } from './check/check.js';
import type { Config } from './config/types.js';
import { DecideStage } from './decide/decide.js';
import { NO_GRANTS, type GrantLookup, type QuarantineLookup } from './decide/policy.js';
import { compileRoles } from './decide/role.js';
import { HoldStage } from './hold/hold.js';
import type { HoldRegistry } from './hold/registry.js';
import { ClientTable } from './identify/clients.js';
import { IdentifyStage } from './identify/identify.js';
import { Observe } from './observe/observe.js';
import { chain, Query, type Next } from './pipeline/types.js';
import type { Peer } from './receive/types.js';
import type { Metrics } from './telemetry/metrics.js';
import { Upstreams } from './upstream/exchange.js';
import type { UpstreamHealth } from './upstream/health.js';
import { UpstreamStage } from './upstream/upstream.js';
import { decodeQuery } from './wire/query.js';

/** What the chain reads of the state that outlives a config snapshot (a reload builds a new Pipeline around the same). */
export interface ChainState {
  readonly cache: AnswerCache;
  /** Grants from the approval link; consulted only while the config has an `approval` section. */
  readonly grants: GrantLookup;
  /** Pending holds; used only while the config has an `approval` section. */
  readonly holds: HoldRegistry;
  readonly quarantine: QuarantineLookup;
  /** Which upstreams answer: kept across reloads, so a reload does not make a dead upstream cost a timeout again. */
  readonly upstreamHealth: UpstreamHealth;
}

export function buildPipeline(config: Config, shared: ChainState, log: Logger, metrics: Metrics): Pipeline {
  const roles = compileRoles(config.roles);
  const upstreams = new Upstreams({
    servers: config.upstreams.servers, timeoutMs: config.upstreams.timeoutMs, strategy: config.upstreams.strategy,
    health: shared.upstreamHealth, log, onAttempt: metrics.upstreamAttempt, onSkip: metrics.upstreamSkipped,
  });
  const approval = config.approval;
  const clients = new ClientTable(config.clients, roles);
  const handle = chain(
    [
      // Strangers are refused before any policy runs, in every mode: never an open resolver.
      new IdentifyStage(clients, config.mode),
      // quarantine > qtype > deny > grant > allow > unlisted; blocks end the chain here. Without
      // an approval section there are no grants ("grants and holds are off"). Around everything
      // below, so quarantine is looked up again when an answer comes back after waiting.
      new DecideStage(approval ? shared.grants : NO_GRANTS, shared.quarantine),
      // Only verdicts that ask a reviewer wait here (audit mode asks nobody); an approved hold goes on carrying its grant.
      new HoldStage(approval, approval ? shared.holds : null),
      // Above the cache, so cached answers meet the current role's deny list and rebinding check.
      // Wraps everything below: it judges what came back, for verdicts that let it through.
      new CheckStage(config.answers.blockPrivate),
      // One cache for all roles: what a role may see is decided per query above, never stored.
      new CacheStage(shared.cache),
    ],
    new UpstreamStage(upstreams).handle,
  );
  const observe = new Observe(log, config.log.queries, [metrics.observeQuery]);
  return new Pipeline(config, clients, handle, observe, log, (peer) => metrics.malformed(peer.transport));
}

/**
 * One config snapshot's way from bytes to bytes. Reload builds a new Pipeline
 * and swaps it in one assignment; queries already inside the old one finish there.
 */
export class Pipeline {
  constructor(
    readonly config: Config,
    /** This snapshot's clients, also for the admin API to tell which agent a name means. */
    readonly clients: ClientTable,
    private readonly chain: Next,
    private readonly observe: Observe,
    private readonly log: Logger,
    /** Told about every packet decode would not accept, e.g. for malformed_packets_total. */
    private readonly onMalformed: (peer: Peer) => void,
  ) {}

  async handle(message: Buffer, peer: Peer): Promise<Buffer | null> {
    const receivedAt = performance.now();
    const decoded = decodeQuery(message);
    if (!decoded.ok) {
      const { rejection } = decoded;
      this.onMalformed(peer);
      this.log.debug({ client: peer.address, transport: peer.transport, reason: rejection.reason, detail: rejection.detail }, 'malformed packet');
      return encodeRejection(rejection);
    }
    const query = new Query(decoded.query, peer.address, peer.transport, receivedAt);
    let answer;
    try {
      answer = makeAnswer(query, await this.chain(query), this.config.sinkhole);
    } catch (err) {
      this.log.error({ err, qname: query.qname, client: query.client }, 'query failed');
      answer = faultAnswer(query, err);
    }
    this.observe.record(query, answer);
    return encodeAnswer(query, answer, this.config.answers.maxTtlS);
  }
}
