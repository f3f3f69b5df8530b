/**
 * One /metrics for the whole proxy: the primary's registry and every
 * worker's (collected over IPC as getMetricsAsJSON), summed by prom-client's
 * AggregatorRegistry.aggregate.
 *
 * For the sums to be right each intentdns_* series comes from one side only:
 * the control state (holds, grants, the approval link, firewall sets,
 * decision-stream subscribers, reloads, build info) from the primary, which
 * owns it; the query path (queries, cache, upstreams, limits) from the
 * workers, which run it. Both sides register every metric (one Metrics
 * class), so each side's copy of the other's is dropped here. Process and
 * runtime metrics (process_*, nodejs_*) are not summed but kept per process,
 * with a `worker` label ("primary" for the primary).
 */
import { AggregatorRegistry, Registry } from 'prom-client';
import type { MetricsJson } from './messages.js';

/** Series the primary reports: what only it holds. Everything else intentdns_* is the workers'. */
const PRIMARY_OWNED = new Set([
  'intentdns_build_info',
  'intentdns_holds_pending', 'intentdns_holds_late', 'intentdns_holds_pending_limit', 'intentdns_holds_total', 'intentdns_hold_wait_seconds',
  'intentdns_grants_active', 'intentdns_grants_total',
  'intentdns_approval_link_up', 'intentdns_approval_events_total', 'intentdns_approvals_without_grant_total',
  'intentdns_firewall_elements', 'intentdns_firewall_update_duration_seconds',
  'intentdns_decision_stream_subscribers',
  'intentdns_config_reloads_total', 'intentdns_config_last_reload_success_timestamp_seconds',
  'intentdns_http_connections_shed_total',
  // The host's (or namespace's) counters: the same numbers in every process, so taken once.
  'intentdns_kernel_udp_receive_errors_total',
  'intentdns_workers', 'intentdns_worker_restarts_total',
]);

/** Counted on both sides and summed: each process drops its own log lines and decision events. */
const BOTH = new Set(['intentdns_log_lines_dropped_total', 'intentdns_decision_stream_dropped_total']);

/** Gauges a sum would make wrong across workers, and how they combine instead. */
const AGGREGATORS: Readonly<Record<string, 'min' | 'max'>> = {
  // 1 only while every worker finds the upstream answering: one that skips it is what an alert wants to see.
  intentdns_upstream_up: 'min',
};

const perProcess = (name: string): boolean => name.startsWith('process_') || name.startsWith('nodejs_');

/** `metrics` with the series this side does not own dropped, and process metrics labelled by `worker`. */
function ownSide(metrics: MetricsJson, side: 'primary' | 'worker', worker: string): MetricsJson {
  const out: MetricsJson = [];
  for (const m of metrics) {
    if (perProcess(m.name)) {
      // 'sum' over distinct worker labels keeps every series (the defaults' own 'omit'/'first' would drop or merge them).
      out.push({ ...m, aggregator: 'sum', values: m.values.map((v) => ({ ...v, labels: { ...v.labels, worker } })) });
      continue;
    }
    const primary = PRIMARY_OWNED.has(m.name);
    if (!BOTH.has(m.name) && primary !== (side === 'primary')) continue;
    out.push({ ...m, aggregator: AGGREGATORS[m.name] ?? m.aggregator ?? 'sum' });
  }
  return out;
}

/** The exposition of the whole proxy: the primary's own metrics and each worker's (index → its JSON). */
export function combineMetrics(primary: MetricsJson, workers: ReadonlyMap<number, MetricsJson>): Registry {
  const sides = [ownSide(primary, 'primary', 'primary')];
  for (const [index, metrics] of workers) sides.push(ownSide(metrics, 'worker', String(index)));
  return AggregatorRegistry.aggregate(sides);
}

/**
 * The registry /metrics serves on the primary: each scrape asks the workers
 * (bounded in time: a worker that does not answer is left out of that
 * scrape, and the next has it again) and sums.
 */
export class CombinedRegistry extends Registry {
  constructor(
    private readonly own: Registry,
    private readonly collect: () => Promise<ReadonlyMap<number, MetricsJson>>,
  ) {
    super();
  }

  override async metrics(): Promise<string> {
    const [primary, workers] = await Promise.all([this.own.getMetricsAsJSON(), this.collect()]);
    return combineMetrics(primary as MetricsJson, workers).metrics();
  }
}
