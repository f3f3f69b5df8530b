/**
 * The IPC between the primary and its DNS workers (`listen.workers` > 1):
 * every message, both ways, as one closed union, with the protocol version on
 * each. A message is checked on receipt (isToWorker / isFromWorker): one that
 * does not match is dropped and logged, never half-applied. Both ends are the
 * same build, so a version mismatch means a bug or a foreign sender, not an
 * upgrade in progress.
 *
 * IPC per worker is one ordered channel: the primary relies on that to send
 * a grant before the hold outcome that depends on it.
 */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { HostPort } from '../config/types.js';
import type { SetElement } from '../firewall/index.js';
import type { GrantPattern, GrantSource } from '../grants/grants.js';
import type { HeldQuery, HoldLimits, HoldOutcome } from '../hold/registry.js';
import type { DecisionEvent } from '../observe/decision-sink.js';
import type { TopSnapshot } from '../observe/top.js';
import type { GrantRef } from '../pipeline/types.js';

export const IPC_VERSION = 1;

/** One change of the grant store, as the replicas replay it. */
export type GrantOp =
  | { readonly kind: 'add'; readonly agent: string; readonly patterns: readonly GrantPattern[]; readonly ref: GrantRef; readonly now: number; readonly source: GrantSource }
  | { readonly kind: 'revoke'; readonly id: string };

/** The quarantine as the query path needs it: what is listed, canonical already. Small (at most 10 000 entries), so sent whole. */
export interface QuarantineState {
  readonly agents: readonly string[];
  readonly clients: readonly string[];
  readonly cidrs: readonly string[];
}

/** Metrics as prom-client's getMetricsAsJSON gives them. */
export type MetricsJson = Array<MetricObjectWithValues<MetricValue<string>>>;

interface V { readonly v: typeof IPC_VERSION }

/** Primary → worker. */
export type ToWorker = V & (
  /** The first message: what to serve, and the state to start from, before the worker binds anything. */
  | { readonly t: 'start'; readonly file: string; readonly text: string; readonly index: number; readonly workers: number;
      readonly grants: readonly GrantOp[]; readonly quarantine: QuarantineState; readonly decisionsWanted: boolean }
  /** Acknowledged with `ack` once applied. */
  | { readonly t: 'grant'; readonly seq: number; readonly op: GrantOp }
  | { readonly t: 'quarantine'; readonly seq: number; readonly state: QuarantineState }
  | { readonly t: 'hold.outcome'; readonly id: number; readonly outcome: HoldOutcome }
  | { readonly t: 'firewall.done'; readonly id: number; readonly error: string | null }
  /** Whether anyone subscribes to GET /v1/decisions: only then do workers forward decision lines. */
  | { readonly t: 'decisions.wanted'; readonly on: boolean }
  | { readonly t: 'metrics.get'; readonly id: number }
  /** The console's top counts of this worker (GET /v1/top merges them). */
  | { readonly t: 'top.get'; readonly id: number }
  | { readonly t: 'reload.prepare'; readonly id: number; readonly text: string }
  | { readonly t: 'reload.commit'; readonly id: number }
  | { readonly t: 'reload.abort'; readonly id: number }
  /** Drain (the listeners' grace period) and exit 0. */
  | { readonly t: 'stop' }
);

/** Worker → primary. */
export type FromWorker = V & (
  /** Sent once the worker listens for messages: the primary answers with `start`. */
  | { readonly t: 'hello' }
  | { readonly t: 'listening'; readonly addresses: readonly HostPort[] }
  /** `listen`: the start failed binding an address (the primary rebuilds the ListenError, for the hint a supervisor shows). */
  | { readonly t: 'start.failed'; readonly error: string; readonly listen?: { readonly address: string; readonly transport: 'udp' | 'tcp'; readonly code: string | null } }
  | { readonly t: 'ack'; readonly seq: number }
  | { readonly t: 'hold.wait'; readonly id: number; readonly query: HeldQuery; readonly limits: HoldLimits }
  | { readonly t: 'firewall.write'; readonly id: number; readonly elements: readonly SetElement[] }
  | { readonly t: 'decisions'; readonly events: readonly DecisionEvent[] }
  | { readonly t: 'metrics'; readonly id: number; readonly metrics: MetricsJson }
  | { readonly t: 'top'; readonly id: number; readonly top: TopSnapshot }
  /** errors null: prepared (new roles compiled, new addresses bound), waiting for commit or abort. */
  | { readonly t: 'reload.prepared'; readonly id: number; readonly errors: readonly string[] | null }
  /** After commit or abort. */
  | { readonly t: 'reload.done'; readonly id: number }
);

type Check = (m: Record<string, unknown>) => boolean;

const int = (x: unknown): boolean => typeof x === 'number' && Number.isSafeInteger(x);
const str = (x: unknown): boolean => typeof x === 'string';
const obj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const strings = (x: unknown): boolean => Array.isArray(x) && x.every(str);

const isGrantOp = (x: unknown): boolean => {
  if (!obj(x)) return false;
  if (x.kind === 'revoke') return str(x.id);
  return x.kind === 'add' && str(x.agent) && Array.isArray(x.patterns) && x.patterns.every((p) => obj(p) && str(p.scope) && str(p.name))
    && obj(x.ref) && str(x.ref.id) && typeof x.ref.expiresAt === 'number' && typeof x.now === 'number' && (x.source === 'command' || x.source === 'hold');
};
const isCounts = (x: unknown, withUncovered: boolean): boolean =>
  Array.isArray(x) && x.every((c) => obj(c) && str(c.name) && int(c.count) && (!withUncovered || int(c.uncovered)));
const isQuarantineState = (x: unknown): boolean => obj(x) && strings(x.agents) && strings(x.clients) && strings(x.cidrs);

const TO_WORKER: Readonly<Record<ToWorker['t'], Check>> = {
  start: (m) => str(m.file) && str(m.text) && int(m.index) && int(m.workers) && Array.isArray(m.grants) && m.grants.every(isGrantOp)
    && isQuarantineState(m.quarantine) && typeof m.decisionsWanted === 'boolean',
  grant: (m) => int(m.seq) && isGrantOp(m.op),
  quarantine: (m) => int(m.seq) && isQuarantineState(m.state),
  'hold.outcome': (m) => int(m.id) && obj(m.outcome) && str(m.outcome.kind),
  'firewall.done': (m) => int(m.id) && (m.error === null || str(m.error)),
  'decisions.wanted': (m) => typeof m.on === 'boolean',
  'metrics.get': (m) => int(m.id),
  'top.get': (m) => int(m.id),
  'reload.prepare': (m) => int(m.id) && str(m.text),
  'reload.commit': (m) => int(m.id),
  'reload.abort': (m) => int(m.id),
  stop: () => true,
};

const FROM_WORKER: Readonly<Record<FromWorker['t'], Check>> = {
  hello: () => true,
  listening: (m) => Array.isArray(m.addresses) && m.addresses.every((a) => obj(a) && str(a.host) && int(a.port) && str(a.text)),
  'start.failed': (m) => str(m.error) && (m.listen === undefined || (obj(m.listen) && str(m.listen.address) && (m.listen.transport === 'udp' || m.listen.transport === 'tcp') && (m.listen.code === null || str(m.listen.code)))),
  ack: (m) => int(m.seq),
  'hold.wait': (m) => int(m.id) && obj(m.query) && str(m.query.agent) && str(m.query.qname) && int(m.query.qtype) && obj(m.limits) && int(m.limits.timeoutMs),
  'firewall.write': (m) => int(m.id) && Array.isArray(m.elements) && m.elements.every((e) => obj(e) && str(e.set) && str(e.address) && typeof e.expiresAt === 'number'),
  decisions: (m) => Array.isArray(m.events) && m.events.every((e) => obj(e) && str(e.line)),
  metrics: (m) => int(m.id) && Array.isArray(m.metrics),
  top: (m) => int(m.id) && obj(m.top) && typeof m.top.since === 'number' && typeof m.top.until === 'number'
    && int(m.top.queries) && int(m.top.blocked) && obj(m.top.other) && int(m.top.other.names) && int(m.top.other.agents)
    && isCounts(m.top.names, true) && isCounts(m.top.agents, false),
  'reload.prepared': (m) => int(m.id) && (m.errors === null || strings(m.errors)),
  'reload.done': (m) => int(m.id),
};

function checked<T extends { t: string }>(table: Readonly<Record<string, Check>>, m: unknown): m is T {
  if (!obj(m) || m.v !== IPC_VERSION || typeof m.t !== 'string') return false;
  const check = Object.hasOwn(table, m.t) ? table[m.t] : undefined;
  return check !== undefined && check(m);
}

export function isToWorker(m: unknown): m is ToWorker {
  return checked<ToWorker>(TO_WORKER, m);
}

export function isFromWorker(m: unknown): m is FromWorker {
  return checked<FromWorker>(FROM_WORKER, m);
}

/** A message without its version, as the senders write it (send() adds `v`). */
export type Unversioned<M> = M extends V ? Omit<M, 'v'> : never;

/** What a message that failed its check looked like, for the log line: its type if it had one. */
export function describe(m: unknown): string {
  return obj(m) ? `type ${String(m.t)}, version ${String(m.v)}` : typeof m;
}
