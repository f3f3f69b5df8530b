import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { LimitedQuery } from '../observe/observe.js';
import { REASONS, type Action, type Answer, type Query, type Reason, type Transport } from '../pipeline/types.js';
import { isKnownQtype, qtypeName } from '../wire/qtypes.js';
import { readUdpReceiveErrors, type ReadFile } from './kernel-udp.js';
import { KeyedCounter, LabelledHistogram } from './query-metrics.js';

/** What the scrape reads from the running components. */
export interface MetricSources {
  cacheEntries(): number;
  cacheBytes(): number;
  cacheHits(): number;
  cacheMisses(): number;
  holdsPending(): number;
  holdsLate(): number;
  /** approval.max_pending_holds of the running config; 0 without an approval section. */
  holdsPendingLimit(): number;
  holdsEnded(): Record<string, number>;
  grantsActive(): number;
  grantsAdded(): number;
  approvalLinkUp(): boolean;
  approvalEvents(): Record<string, number>;
  /** Approved commands that granted nothing, by reason (approval/no-grants.ts), every reason present. */
  approvalsWithoutGrant(): Record<string, number>;
  /** Up (answering) or down (skipped), for each upstream of the running config. */
  upstreamsUp(): Record<string, boolean>;
  /** The upstream socket bound (limit/sockets.ts): open now, the bound, exchanges refused for want of one. */
  upstreamSockets(): { open: number; max: number; refused: number };
  /** Source addresses the rate limiter keeps a bucket for. */
  limitedSources(): number;
  /** Agent + registrable domain pairs the tunneling budgets track (decide/domain-budgets.ts). */
  tunnelingKeys(): number;
  /** Addresses in each firewall set (set name → count), already bounded by the config (firewall/start.ts elementSeries). */
  firewallElements(): Record<string, number>;
  /** GET /v1/decisions: subscribers now, and events dropped for subscribers that did not keep up. */
  decisionStream(): { subscribers: number; dropped: number };
}

/** Sub-millisecond (cache hits, blocks) to seconds (upstream failover, holds). */
const DNS_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const HOLD_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 10, 30];

/**
 * prom-client gauges that end in _total, which `promtool check metrics`
 * rejects; each has a twin without the suffix that stays.
 */
const NON_CONFORMING = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** Query types that get their own label value; the rest are "other", so the label set stays closed. */
const QTYPE_LABELS = ['other', 'A', 'AAAA', 'CNAME', 'MX', 'TXT', 'NS', 'SOA', 'PTR', 'SRV', 'HTTPS', 'SVCB', 'CAA', 'DS', 'DNSKEY', 'ANY'] as const;

/** Each query type number's index in QTYPE_LABELS (0: other), looked up once here rather than per query. */
const QTYPE_LABEL_INDEX = (() => {
  const index = new Uint8Array(65_536);
  for (let q = 0; q < index.length; q++) {
    if (isKnownQtype(q)) index[q] = Math.max(0, QTYPE_LABELS.indexOf(qtypeName(q) as (typeof QTYPE_LABELS)[number]));
  }
  return index;
})();

const TRANSPORTS: readonly Transport[] = ['udp', 'tcp'];

const ACTION_INDEX: Readonly<Record<Action, number>> = { forward: 0, sinkhole: 1, hold: 2, refuse: 3, drop: 4 };
const ACTION_COUNT = Object.keys(ACTION_INDEX).length;

/**
 * The `mode` label of queries_total: whether the query was decided under audit.
 * An audit query keeps the action enforce would have taken (as its log line
 * does) but was forwarded, so "blocked" selectors add `mode="enforce"`.
 */
export type QueryMode = 'enforce' | 'audit';
export const QUERY_MODES: readonly QueryMode[] = ['enforce', 'audit'];
const REASON_INDEX = new Map<Reason, number>(REASONS.map((r, i) => [r, i]));
// #countQuery packs mode, action, reason and qtype label into one number: reason and qtype 64 values each.
if (REASONS.length > 64 || QTYPE_LABELS.length > 64) throw new Error('query series keys: more than 64 reasons or qtype labels');


/**
 * Every metric of the spec in one registry (not prom-client's global one), so
 * tests and reloads never see another instance's series. Label values come
 * only from closed sets: roles and upstreams from the config, actions,
 * reasons and outcomes from our unions, never a query name.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #perAgent: boolean;

  readonly queries = new KeyedCounter('intentdns_queries_total', 'Queries by role, action, reason, type and mode (audit: decided as enforce would, but forwarded).');
  readonly queryDuration = new LabelledHistogram('intentdns_query_duration_seconds', 'Time from receiving a query to its answer.', 'action', DNS_BUCKETS);
  readonly upstreamRequests = new KeyedCounter('intentdns_upstream_requests_total', 'Upstream attempts by upstream and outcome.');
  readonly upstreamSkips = this.#counter('intentdns_upstream_skipped_total', 'Attempts not made because the upstream was down (its last attempt timed out or failed on the network) and another answered.', ['upstream']);
  readonly upstreamDuration = new LabelledHistogram('intentdns_upstream_duration_seconds', 'Time of each upstream attempt.', 'upstream', DNS_BUCKETS);
  readonly holdWait = new Histogram({ name: 'intentdns_hold_wait_seconds', help: 'How long held queries waited for a decision.', buckets: HOLD_BUCKETS, registers: [this.registry] });
  readonly configReloads = this.#counter('intentdns_config_reloads_total', 'Config reloads by result.', ['result']);
  readonly configLastReloadSuccess = new Gauge({ name: 'intentdns_config_last_reload_success_timestamp_seconds', help: 'When the running config was loaded.', registers: [this.registry] });
  readonly malformedPackets = this.#counter('intentdns_malformed_packets_total', 'Packets not accepted as a query (answered FORMERR/NOTIMP/REFUSED or dropped).', ['transport']);
  readonly droppedPackets = this.#counter('intentdns_dropped_packets_total', 'Queries dropped by the listeners\' limits.', ['transport', 'reason']);
  readonly firewallUpdates = this.#counter('intentdns_firewall_updates_total', 'Answers whose addresses were to go into an nftables set, by result (ok, error, timeout: not in the set within firewall.wait).', ['result']);
  readonly firewallUpdateDuration = new Histogram({ name: 'intentdns_firewall_update_duration_seconds', help: 'Time of each nft transaction (one batch of set elements).', buckets: DNS_BUCKETS, registers: [this.registry] });
  readonly httpShed = this.#counter('intentdns_http_connections_shed_total', 'listen.http connections closed to make room for new ones (a connection flood), by limit.', ['reason']);

  /** Where the values read at scrape time come from; set once by the server. */
  #sources: MetricSources | null = null;

  /** Where the kernel's UDP counters are read from; a test may give its own files. */
  readonly #readProc: ReadFile | undefined;

  constructor(opts: { perAgent: boolean; version: string; readProc?: ReadFile }) {
    this.#perAgent = opts.perAgent;
    this.#readProc = opts.readProc;
    // Counted in plain numbers on the query path and read at scrape time (query-metrics.ts): every query, every upstream attempt.
    for (const m of [this.queries, this.queryDuration, this.upstreamRequests, this.upstreamDuration]) this.registry.registerMetric(m as unknown as Metric);
    new Gauge({ name: 'intentdns_build_info', help: 'Version of the running intentdns.', labelNames: ['version', 'node'], registers: [this.registry] })
      .set({ version: opts.version, node: process.version }, 1);
    this.#mirrors();
    collectDefaultMetrics({ register: this.registry });
    for (const name of NON_CONFORMING) this.registry.removeSingleMetric(name);
    this.configLastReloadSuccess.setToCurrentTime();
    // A closed label set, every series there from the first scrape (an alert on rate() needs the zero).
    for (const result of ['ok', 'error', 'timeout']) this.firewallUpdates.labels(result).inc(0);
    for (const result of ['success', 'failure']) this.configReloads.labels(result).inc(0);
    for (const transport of TRANSPORTS) this.malformedPackets.labels(transport).inc(0);
  }

  /**
   * The other closed label sets, whose values are owned by folders this one
   * may not import (receive/, http/ import telemetry/): the server hands them
   * over once, and every series is there at 0 from the first scrape, so
   * rate() and increase() have a start to compare against.
   */
  zeroSeries(sets: { readonly dropReasons: readonly string[]; readonly shedReasons: readonly string[] }): void {
    for (const transport of TRANSPORTS) for (const reason of sets.dropReasons) this.droppedPackets.labels(transport, reason).inc(0);
    for (const reason of sets.shedReasons) this.httpShed.labels(reason).inc(0);
  }

  /**
   * The configured upstreams (at start and after each reload): each gets its
   * skipped series at 0. One a reload removed keeps its last count, as a
   * counter should; it is bounded by the upstreams ever configured.
   */
  knowUpstreams(upstreams: readonly string[]): void {
    for (const upstream of upstreams) this.upstreamSkips.labels(upstream).inc(0);
  }

  /** The QueryObserver for observe/observe.ts: one count and one duration per finished query. */
  readonly observeQuery = (query: Query, answer: Answer, seconds: number): void => {
    this.#countQuery(query.agent?.role.name ?? '', query.agent?.entry, answer.action, answer.reason, query.qtype, query.audit);
    this.queryDuration.observe(answer.action, seconds);
  };

  /**
   * The LimitObserver for observe/: a rate-limited query is counted in
   * queries_total like any other. It is not timed: a dropped one has no
   * answer, and a flood of them would drown the histogram. Always
   * mode="enforce": the limit runs before the chain and binds in audit mode too.
   */
  readonly observeLimited = (limited: LimitedQuery): void => {
    this.#countQuery(limited.agent?.role.name ?? '', limited.agent?.entry, limited.action, 'rate_limit', limited.qtype, false);
  };

  /**
   * `entry`: the agent's client entry, the `agent` label with per_agent. Per entry, not per
   * expanded name: an {ip} template over a /64 is one label value, so the series stay bounded
   * by the config. Per-host detail is in the decision log.
   */
  #countQuery(role: string, entry: string | undefined, action: Action, reason: Reason, qtypeNumber: number | undefined, audit: boolean): void {
    const q = qtypeNumber === undefined ? 0 : QTYPE_LABEL_INDEX[qtypeNumber] ?? 0;
    const key = (((audit ? 1 : 0) * ACTION_COUNT + ACTION_INDEX[action]) * 64 + REASON_INDEX.get(reason)!) * 64 + q;
    // Per agent, the group is role and entry: an entry may move to another role on reload.
    const agent = this.#perAgent ? (entry ?? '') : undefined;
    const group = agent === undefined ? role : `${role}\0${agent}`;
    if (this.queries.add(group, key)) return;
    const mode: QueryMode = audit ? 'audit' : 'enforce';
    this.queries.create(group, key, { role, action, reason, qtype: QTYPE_LABELS[q]!, mode, ...(agent !== undefined && { agent }) });
  }

  readonly upstreamAttempt = (upstream: string, outcome: string, seconds: number): void => {
    if (!this.upstreamRequests.add(upstream, outcome)) this.upstreamRequests.create(upstream, outcome, { upstream, outcome });
    this.upstreamDuration.observe(upstream, seconds);
  };

  readonly upstreamSkipped = (upstream: string): void => {
    this.upstreamSkips.labels(upstream).inc();
  };

  /** The firewall stage's outcome for one answer. */
  readonly firewallUpdate = (result: 'ok' | 'error' | 'timeout'): void => {
    this.firewallUpdates.labels(result).inc();
  };

  /** One nft transaction done (firewall/writer.ts). */
  readonly firewallBatch = (report: { readonly seconds: number }): void => {
    this.firewallUpdateDuration.observe(report.seconds);
  };

  readonly malformed = (transport: Transport): void => {
    this.malformedPackets.labels(transport).inc();
  };

  readonly dropped = (reason: string, transport: Transport): void => {
    this.droppedPackets.labels(transport, reason).inc();
  };

  /** Counts the log lines the log output dropped for a reader that did not keep up (read at scrape time). */
  watchLogOutput(dropped: () => number): void {
    new Counter({
      name: 'intentdns_log_lines_dropped_total',
      help: 'Log lines dropped because the log reader did not keep up (the log buffer was full).',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(dropped());
      },
    });
  }

  /** reason: client_limit | global_limit (http/connections.ts). */
  readonly httpConnectionShed = (reason: string): void => {
    this.httpShed.labels(reason).inc();
  };

  /** Tells the scrape where to read cache, hold, grant and approval state from. */
  watch(sources: MetricSources): void {
    this.#sources = sources;
  }

  /**
   * Values the components keep themselves, read when Prometheus scrapes
   * instead of being pushed on every change: nothing on the query path.
   * Counters are mirrored whole (reset, then set to the component's total).
   */
  #mirrors(): void {
    const metrics = this;
    const gauge = (name: string, help: string, read: (s: MetricSources) => number) =>
      new Gauge({ name, help, registers: [this.registry], collect() { if (metrics.#sources) this.set(read(metrics.#sources)); } });
    gauge('intentdns_cache_entries', 'Answers held in the cache.', (s) => s.cacheEntries());
    gauge('intentdns_cache_bytes', 'Bytes the cached answers are counted as (messages plus per-entry overhead); at most cache.max_bytes.', (s) => s.cacheBytes());
    gauge('intentdns_holds_pending', 'Holds with a query waiting for a reviewer (what approval.max_pending_holds counts).', (s) => s.holdsPending());
    gauge('intentdns_holds_late', 'Holds open for a late decision, their queries already answered (not counted against the limits).', (s) => s.holdsLate());
    gauge('intentdns_holds_pending_limit', 'approval.max_pending_holds of the running config (0 without an approval section).', (s) => s.holdsPendingLimit());
    gauge('intentdns_grants_active', 'Grants from approved commands and holds that are live now.', (s) => s.grantsActive());
    gauge('intentdns_approval_link_up', '1 while the approval event stream is connected.', (s) => (s.approvalLinkUp() ? 1 : 0));
    // One series per upstream of the running config: reset first, so an upstream a reload removed goes away.
    new Gauge({
      name: 'intentdns_upstream_up', help: '1 while the upstream answers; 0 while it is skipped after a timeout or network error (last known: probed only under traffic).',
      labelNames: ['upstream'], registers: [this.registry],
      collect() {
        if (!metrics.#sources) return;
        this.reset();
        for (const [upstream, up] of Object.entries(metrics.#sources.upstreamsUp())) this.set({ upstream }, up ? 1 : 0);
      },
    });
    gauge('intentdns_upstream_sockets', 'Sockets to the upstreams open now: the UDP pools\' and TCP retries in flight.', (s) => s.upstreamSockets().open);
    gauge('intentdns_upstream_sockets_limit', 'The bound on upstream sockets, from RLIMIT_NOFILE at start minus room for client connections and files.', (s) => s.upstreamSockets().max);
    new Gauge({
      name: 'intentdns_firewall_elements', help: 'Addresses intentdns has written to each nftables set and not yet seen expire (one series per configured role or agent set; {ip} agents under set="other").',
      labelNames: ['set'], registers: [this.registry],
      collect() {
        if (!metrics.#sources) return;
        this.reset();
        for (const [set, count] of Object.entries(metrics.#sources.firewallElements())) this.set({ set }, count);
      },
    });
    gauge('intentdns_rate_limit_sources', 'Source addresses with a rate-limit bucket (bounded; the least recently seen is forgotten at the bound).', (s) => s.limitedSources());
    gauge('intentdns_tunneling_tracked_domains', 'Agent and registrable domain pairs the tunneling budgets track (bounded; the least recently asked is forgotten at the bound).', (s) => s.tunnelingKeys());

    const mirror = (name: string, help: string, labelNames: readonly string[], read: (s: MetricSources) => Record<string, number>) =>
      new Counter({
        name, help, labelNames, registers: [this.registry],
        collect() {
          if (!metrics.#sources) return;
          this.reset();
          for (const [label, value] of Object.entries(read(metrics.#sources))) {
            if (labelNames.length === 0) this.inc(value);
            else this.inc({ [labelNames[0]!]: label }, value);
          }
        },
      });
    gauge('intentdns_decision_stream_subscribers', 'Clients subscribed to GET /v1/decisions now.', (s) => s.decisionStream().subscribers);
    mirror('intentdns_decision_stream_dropped_total', 'Decision events not sent to a /v1/decisions subscriber because it had too much unread (it did not keep up); queries never wait for one.', [], (s) => ({ '': s.decisionStream().dropped }));
    mirror('intentdns_cache_hits_total', 'Forwarded queries answered from the cache.', [], (s) => ({ '': s.cacheHits() }));
    mirror('intentdns_cache_misses_total', 'Forwarded queries the cache could not answer.', [], (s) => ({ '': s.cacheMisses() }));
    mirror('intentdns_holds_total', 'Holds ended, by outcome.', ['outcome'], (s) => s.holdsEnded());
    mirror('intentdns_grants_total', 'Grants created.', [], (s) => ({ '': s.grantsAdded() }));
    mirror('intentdns_approval_events_total', 'Approval events by type (unknown and malformed included).', ['type'], (s) => s.approvalEvents());
    mirror('intentdns_approvals_without_grant_total', 'Approved commands that granted no name, by reason (expired, no_host, not_host_names); each is logged at warn and listed in GET /v1/grants.', ['reason'], (s) => s.approvalsWithoutGrant());
    mirror('intentdns_upstream_sockets_refused_total', 'Attempts that found no upstream socket free (every one allowed was open): answered SERVFAIL, upstream_error.', [], (s) => ({ '': s.upstreamSockets().refused }));

    new Counter({
      name: 'intentdns_kernel_udp_receive_errors_total',
      help: 'UDP receive errors counted by the kernel for the whole host or network namespace, not only intentdns (/proc/net/snmp, /proc/net/snmp6). '
        + 'kind="rcvbuf": datagrams dropped because a socket receive buffer was full; kind="in": all receive errors, rcvbuf included.',
      labelNames: ['family', 'kind'],
      registers: [this.registry],
      collect() {
        this.reset();
        const read = readUdpReceiveErrors(metrics.#readProc);
        for (const [family, errors] of Object.entries(read)) {
          this.inc({ family, kind: 'in' }, errors.in);
          this.inc({ family, kind: 'rcvbuf' }, errors.rcvbuf);
        }
      },
    });
  }

  #counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }
}
