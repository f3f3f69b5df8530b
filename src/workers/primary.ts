/**
 * The primary process of `listen.workers` > 1: what must be one for the
 * whole proxy, and the workers' lifecycle.
 *
 *   holds    the approval link (Approvals), the authoritative grant store,
 *            the hold registry, the quarantine, the firewall writer, the
 *            HTTP listener (probes, /metrics, /v1) and config reload;
 *   forks    `listen.workers` DNS workers (worker.ts) with node:cluster, and
 *            binds no DNS socket to read from: the cluster module opens each
 *            listen.dns socket once, here, and hands the same handle to every
 *            worker (Node 20's dgram and net have no reusePort: it came in
 *            v22.12 / v23.1), so the kernel wakes whichever worker is ready;
 *   fans out grants and quarantine changes to every worker before it reports
 *            them done (fanout.ts); answers the workers' hold waits, firewall
 *            writes and decision lines (remote.ts on their side);
 *   reloads  atomically: the Reloader has read and validated the file; the
 *            same text goes to every worker to prepare, then commit to all
 *            only if all prepared, else abort to all;
 *   restarts a worker that exits unexpectedly (logged, counted, backed off
 *            when it crash-loops), with the current config and a snapshot of
 *            the grants and quarantine before it binds;
 *   stops    on close(): not ready, the approval link stops (held queries get
 *            their on_hold_timeout answer), every worker drains and exits,
 *            then the HTTP listener and the firewall writer close.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import { Approvals } from '../approval/approvals.js';
import { readOptionalToken } from '../config/token.js';
import { sameHttp } from '../config/sections/listen.js';
import type { Config, HostPort } from '../config/types.js';
import { compileRolesAsync } from '../decide/role.js';
import { IntentdnsError } from '../errors.js';
import { ServerClosingError } from '../server.js';
import { SetWriter, closeRevokedGrant, elementSeries, nftReader, nftRunner, startFirewall, type NftReader } from '../firewall/index.js';
import { HoldRegistry } from '../hold/registry.js';
import { DecisionStream, SHED_REASONS, startHttp, type DecisionStreamLimits, type HttpServer } from '../http/index.js';
import { ClientTable } from '../identify/clients.js';
import { mergeTop, type TopSnapshot } from '../observe/top.js';
import { DROP_REASONS, ListenError } from '../receive/index.js';
import { Metrics } from '../telemetry/metrics.js';
import { VERSION } from '../version.js';
import { FanOut, FannedGrantStore, FannedQuarantine, type FanOutTarget } from './fanout.js';
import { describe, IPC_VERSION, isFromWorker, type FromWorker, type MetricsJson, type ToWorker, type Unversioned } from './messages.js';
import { CombinedRegistry } from './metrics.js';
import { PendingRequests } from './pending.js';
import { grantSnapshot } from './replicas.js';

export interface PrimaryOptions {
  /** As ServerOptions.nftCommand. */
  readonly nftCommand?: readonly string[] | undefined;
  readonly decisionStream?: Partial<DecisionStreamLimits> | undefined;
}

/** How long the workers have to bind everything at start. */
const START_TIMEOUT_MS = 30_000;
/** How long a worker has to prepare a reload: compiling long role lists takes seconds. */
const PREPARE_TIMEOUT_MS = 60_000;
/** A scrape waits this long for each worker's metrics; one that is later is left out of that scrape. */
const METRICS_TIMEOUT_MS = 1_000;
/** At shutdown, how long the workers have to drain (the listeners' grace is 5 s) before they are killed. */
const STOP_TIMEOUT_MS = 7_000;
/** Restart back-off for a worker that keeps dying: 1 s doubling to 30 s; reset once one has run this long. */
const RESTART_MIN_MS = 1_000;
const RESTART_MAX_MS = 30_000;
const STABLE_MS = 30_000;

/** One of the `listen.workers` places, filled by one process after another as they die and are replaced. */
interface Slot {
  readonly index: number;
  worker: Worker | null;
  /** `start` was sent: it gets every fan-out from now on. */
  started: boolean;
  listening: boolean;
  addresses: HostPort[];
  startedAt: number;
  /** Deaths in a row, each within STABLE_MS of its start: the back-off grows with them. */
  crashes: number;
  restart: NodeJS.Timeout | null;
  /** The reload request this worker is answering, so its death answers it. */
  preparing: number | null;
}

/** A worker could not start (it could not bind, or its config did not parse). */
export class WorkerStartError extends IntentdnsError {
  static readonly CODE = 'IDNS_ERR_WORKER_START';

  constructor(message: string) {
    super(WorkerStartError.CODE, message);
  }
}

/** Some worker could not prepare a reload: no worker changed. */
export class WorkerReloadError extends IntentdnsError {
  static readonly CODE = 'IDNS_ERR_WORKER_RELOAD';

  constructor(readonly problems: readonly string[]) {
    super(WorkerReloadError.CODE, problems.join('; '));
  }
}

export class Primary {
  readonly metrics: Metrics;
  readonly #log: Logger;
  readonly #slots: Slot[];
  readonly #fanOut: FanOut;
  readonly #grants: FannedGrantStore;
  readonly #holds: HoldRegistry;
  readonly #quarantine: FannedQuarantine;
  readonly #approvals: Approvals;
  readonly #firewall: SetWriter | null;
  readonly #nftRead: NftReader | null;
  readonly #decisions: DecisionStream;
  readonly #restarts: Counter;
  readonly #metricsAsked = new PendingRequests<MetricsJson | null>(1_024);
  readonly #topAsked = new PendingRequests<TopSnapshot | null>(1_024);
  readonly #prepareAsked = new PendingRequests<readonly string[] | null | 'gone'>(1_024);
  #config: Config;
  #text: string;
  #http: HttpServer | null = null;
  #ready = false;
  /** listen() has bound everything: from then on a reload moves listen.http itself. */
  #listened = false;
  #closing: Promise<void> | null = null;
  /** The workers are told to stop (shutdown, or a start that failed): an exit from now on is expected. */
  #stopping = false;
  #reloading: Promise<void> = Promise.resolve();
  #reloadSeq = 0;
  #startup: { readonly resolve: () => void; readonly reject: (err: Error) => void } | null = null;
  #decisionsWanted = false;

  constructor(config: Config, text: string, log: Logger, options: PrimaryOptions = {}) {
    this.#config = config;
    this.#text = text;
    this.#log = log;
    this.#nftRead = config.firewall ? nftReader(options.nftCommand ?? ['nft']) : null;
    this.metrics = new Metrics({ perAgent: config.metrics.perAgent, version: VERSION });
    this.metrics.zeroSeries({ dropReasons: DROP_REASONS, shedReasons: SHED_REASONS });
    this.#slots = Array.from({ length: config.listen.workers }, (_, index): Slot => ({
      index, worker: null, started: false, listening: false, addresses: [], startedAt: 0, crashes: 0, restart: null, preparing: null,
    }));
    this.#fanOut = new FanOut(() => this.#targets(), log);
    this.#grants = new FannedGrantStore(this.#fanOut);
    this.#holds = new HoldRegistry({
      grants: this.#grants,
      post: (request, timeoutMs) => this.#approvals.postHold(request, timeoutMs),
      linkUp: () => this.#approvals.linkState === 'up',
      log,
    });
    this.#quarantine = new FannedQuarantine(this.#fanOut);
    this.#approvals = new Approvals({
      log, grants: this.#grants, holds: this.#holds, quarantine: this.#quarantine,
      onRevoke: (id) => this.#closeGrant(id), published: () => this.#fanOut.settled(),
    });
    this.#approvals.configure(config.approval, readOptionalToken(config.approval?.tokenFile));
    this.#firewall = config.firewall
      ? new SetWriter({ table: config.firewall.table, run: nftRunner(options.nftCommand ?? ['nft']), onBatch: this.metrics.firewallBatch })
      : null;
    this.#decisions = new DecisionStream(options.decisionStream);
    this.#decisions.onListening((on) => this.#wantDecisions(on));
    const slots = this.#slots;
    new Gauge({
      name: 'intentdns_workers', help: 'DNS worker processes listening now (listen.workers when all are up).', registers: [this.metrics.registry],
      collect() {
        this.set(slots.filter((s) => s.listening).length);
      },
    });
    this.#restarts = new Counter({ name: 'intentdns_worker_restarts_total', help: 'DNS workers that exited unexpectedly and were replaced.', registers: [this.metrics.registry] });
    this.#watchMetrics();
  }

  get config(): Config {
    return this.#config;
  }

  /** Every worker is listening, and shutdown has not begun. */
  get ready(): boolean {
    return this.#ready && this.#slots.every((s) => s.listening);
  }

  /** What the workers bound (the same for all: they share the sockets). */
  addresses(): HostPort[] {
    return this.#slots.find((s) => s.listening)?.addresses ?? [];
  }

  httpAddress(): HostPort | null {
    return this.#http?.address() ?? null;
  }

  /**
   * Sets the firewall up, forks every worker and waits until each has bound
   * every listen.dns address (all or none: one that cannot fails the start),
   * then the HTTP listener and the approval link.
   */
  async listen(): Promise<void> {
    const config = this.#config;
    this.#quarantine.useNames(await clientNames(config));
    if (this.#firewall) await startFirewall(config, this.#firewall, this.#log, this.#nftRead ?? undefined);
    // Workers accept on the shared TCP socket themselves. With the default round-robin policy the
    // primary accepts every connection and passes it on over IPC: a hop per connection, and a
    // primary that falls behind (a reload compiling lists, a scrape) would stall TCP for all.
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ silent: false });
    const started = new Promise<void>((resolve, reject) => {
      this.#startup = { resolve, reject };
    });
    for (const slot of this.#slots) this.#fork(slot);
    const timer = setTimeout(() => this.#startup?.reject(new WorkerStartError(`workers did not bind listen.dns within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    try {
      await started;
    } catch (err) {
      await this.#stopWorkers();
      throw err;
    } finally {
      clearTimeout(timer);
      this.#startup = null;
    }
    if (config.listen.http) {
      try {
        this.#http = await this.#startHttp(config.listen.http, readOptionalToken(config.admin.tokenFile));
      } catch (err) {
        await this.#stopWorkers();
        throw err;
      }
    }
    this.#approvals.start();
    this.#listened = true;
    this.#ready = true;
  }

  /**
   * Prepare in every worker, then commit in all or abort in all (see the
   * file's comment). The primary's own part (tokens, a moved listen.http)
   * is readied first and undone on abort. Reloads run one at a time.
   * @throws WorkerReloadError, TokenFileError, HttpListenError, ServerClosingError: nothing changed.
   */
  reload(config: Config, text: string): Promise<void> {
    const run = this.#reloading.then(() => this.#reload(config, text));
    this.#reloading = run.catch(() => {});
    return run;
  }

  async #reload(config: Config, text: string): Promise<void> {
    if (this.#closing) throw new ServerClosingError();
    const clients = await clientNames(config);
    const approvalToken = readOptionalToken(config.approval?.tokenFile);
    const admin = readOptionalToken(config.admin.tokenFile);
    const running = this.#config.listen.http;
    const next = config.listen.http;
    const httpMoved = this.#listened && !sameHttp(running, next);
    // Moved: the new listener is bound first (or none, for listen.http: null), and the old one closes only at commit.
    const http = httpMoved ? (next ? await this.#startHttp(next, admin) : null) : this.#http;

    const id = ++this.#reloadSeq;
    const targets = this.#slots.filter((s) => s.started && s.worker !== null);
    const answers = await Promise.all(targets.map((slot) => this.#prepare(slot, id, text)));
    const problems = answers.flatMap((a, i) => (Array.isArray(a) ? a.map((p) => `worker ${targets[i]!.index}: ${p}`) : []));
    if (problems.length > 0) {
      for (const slot of targets) this.#send(slot, { t: 'reload.abort', id });
      if (httpMoved) await http?.close();
      throw new WorkerReloadError(problems);
    }
    for (const slot of targets) this.#send(slot, { t: 'reload.commit', id });
    // From here a worker that starts gets the new text.
    this.#config = config;
    this.#text = text;
    const unreached = this.#quarantine.useNames(clients);
    if (unreached.length > 0) this.#log.warn({ unreached }, 'quarantine names what the config does not have (kept, in force again if the config brings them back)');
    // useNames may have re-spelled entries: the workers match by the new spelling.
    void this.#quarantine.publish();
    this.metrics.knowUpstreams(config.upstreams.servers.map((s) => s.text));
    this.#approvals.configure(config.approval, approvalToken);
    this.#log.level = config.log.level;
    if (!httpMoved) {
      http?.setAdminToken(admin);
      return;
    }
    const old = this.#http;
    this.#http = http;
    this.#log.info({ from: running?.text ?? null, to: http?.address().text ?? null }, 'HTTP listener changed');
    await old?.close();
  }

  #prepare(slot: Slot, id: number, text: string): Promise<readonly string[] | null | 'gone'> {
    const request = this.#prepareAsked.open(PREPARE_TIMEOUT_MS, () => [`did not prepare within ${PREPARE_TIMEOUT_MS} ms`]);
    if (request === null) return Promise.resolve(['too many reloads waiting']);
    slot.preparing = request.id;
    this.#send(slot, { t: 'reload.prepare', id, text });
    return request.answer.finally(() => {
      if (slot.preparing === request.id) slot.preparing = null;
    });
  }

  /** Idempotent; see the file's comment for the order. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#ready = false;
    // First: held queries are answered now (their outcomes go out to the workers ahead of `stop`).
    const stopping = this.#approvals.stop();
    await this.#reloading;
    await this.#stopWorkers();
    await stopping;
    await this.#http?.close();
    this.#http = null;
    await this.#firewall?.close();
  }

  /** Tells every worker to drain and exit; waits for them (bounded), killing what is left. */
  async #stopWorkers(): Promise<void> {
    this.#stopping = true;
    for (const slot of this.#slots) {
      if (slot.restart !== null) clearTimeout(slot.restart);
      slot.restart = null;
    }
    const live = this.#slots.map((s) => s.worker).filter((w): w is Worker => w !== null && !w.isDead());
    const exits = live.map((w) => new Promise<void>((resolve) => {
      if (w.isDead()) resolve();
      else w.once('exit', () => resolve());
    }));
    for (const slot of this.#slots) if (slot.worker) this.#send(slot, { t: 'stop' });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS);
    });
    if ((await Promise.race([Promise.all(exits), late])) === 'late') {
      this.#log.error({ timeout_ms: STOP_TIMEOUT_MS }, 'workers did not exit in time; killing them');
      for (const w of live) if (!w.isDead()) w.process.kill('SIGKILL');
      await Promise.all(exits);
    }
    clearTimeout(timer);
  }

  // --- workers ---

  #fork(slot: Slot): void {
    const worker = cluster.fork({ INTENTDNS_WORKER_INDEX: String(slot.index) });
    slot.worker = worker;
    slot.started = false;
    slot.listening = false;
    slot.startedAt = Date.now();
    worker.on('message', (m: unknown) => this.#onMessage(slot, worker, m));
    worker.on('exit', (code: number | null, signal: string | null) => this.#exited(slot, worker, code, signal));
    // A send to a worker that is going away fails; its exit is what matters, and is handled there.
    worker.on('error', (err: Error) => this.#log.debug({ worker: slot.index, err: err.message }, 'worker IPC error'));
    this.#log.debug({ worker: slot.index, pid: worker.process.pid }, 'worker forked');
  }

  #onMessage(slot: Slot, worker: Worker, m: unknown): void {
    if (slot.worker !== worker) return;
    if (!isFromWorker(m)) {
      this.#log.warn({ worker: slot.index, message: describe(m) }, 'unexpected IPC message from a worker; dropped');
      return;
    }
    this.#handle(slot, m);
  }

  #handle(slot: Slot, m: FromWorker): void {
    switch (m.t) {
      case 'hello':
        // A worker that asks while a reload runs starts from the config that reload leaves.
        void this.#reloading.then(() => this.#start(slot));
        return;
      case 'listening':
        slot.listening = true;
        slot.addresses = [...m.addresses];
        this.#log.info({ worker: slot.index, pid: slot.worker?.process.pid, dns: m.addresses.map((a) => a.text) }, 'worker listening');
        if (this.#startup && this.#slots.every((s) => s.listening)) this.#startup.resolve();
        return;
      case 'start.failed':
        this.#log.error({ worker: slot.index, pid: slot.worker?.process.pid, err: m.error }, 'worker could not start');
        this.#startup?.reject(m.listen
          // The same error the single process throws, so the start-failure line gets its code and hint.
          ? new ListenError(m.listen.address, m.listen.transport, Object.assign(new Error(m.error), m.listen.code === null ? {} : { code: m.listen.code }))
          : new WorkerStartError(m.error));
        return;
      case 'ack':
        this.#fanOut.ack(slot.index, m.seq);
        return;
      case 'hold.wait': {
        const worker = slot.worker;
        void this.#holds.wait(m.query, m.limits).then((outcome) => {
          if (slot.worker === worker) this.#send(slot, { t: 'hold.outcome', id: m.id, outcome });
        });
        return;
      }
      case 'firewall.write': {
        const worker = slot.worker;
        const done = (error: string | null): void => {
          if (slot.worker === worker) this.#send(slot, { t: 'firewall.done', id: m.id, error });
        };
        if (this.#firewall === null) done('no firewall writer');
        else this.#firewall.write(m.elements).then(() => done(null), (err: unknown) => done(err instanceof Error ? err.message : String(err)));
        return;
      }
      case 'decisions':
        for (const event of m.events) this.#decisions.publish(event);
        return;
      case 'metrics':
        this.#metricsAsked.settle(m.id, m.metrics);
        return;
      case 'top':
        this.#topAsked.settle(m.id, m.top);
        return;
      case 'reload.prepared':
        this.#prepareAsked.settle(slot.preparing ?? -1, m.errors);
        return;
      case 'reload.done':
        return;
    }
  }

  /** The config text and a snapshot of the grants and quarantine; from now on the worker gets every fan-out too (the channel keeps the order). */
  #start(slot: Slot): void {
    if (slot.worker === null || this.#closing || this.#stopping) return;
    const now = Date.now();
    slot.started = true;
    this.#send(slot, {
      t: 'start', file: this.#config.file, text: this.#text, index: slot.index, workers: this.#slots.length,
      grants: grantSnapshot(this.#grants.everything(now), now), quarantine: this.#quarantine.state(), decisionsWanted: this.#decisionsWanted,
    });
  }

  #exited(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.worker = null;
    slot.started = false;
    slot.listening = false;
    this.#fanOut.forget(slot.index);
    if (slot.preparing !== null) this.#prepareAsked.settle(slot.preparing, 'gone');
    if (this.#closing || this.#stopping) return;
    const pid = worker.process.pid;
    if (this.#startup) {
      this.#startup.reject(new WorkerStartError(`worker ${slot.index} exited during start (code ${code}, signal ${signal})`));
      return;
    }
    this.#restarts.inc();
    slot.crashes = Date.now() - slot.startedAt < STABLE_MS ? slot.crashes + 1 : 1;
    const delayMs = restartDelayMs(slot.crashes);
    this.#log.error({ worker: slot.index, pid, code, signal, restart_in_ms: delayMs }, 'worker exited unexpectedly; replacing it');
    slot.restart = setTimeout(() => {
      slot.restart = null;
      if (!this.#closing && !this.#stopping) this.#fork(slot);
    }, delayMs);
  }

  #targets(): FanOutTarget[] {
    const out: FanOutTarget[] = [];
    for (const slot of this.#slots) {
      const worker = slot.worker;
      if (!slot.started || worker === null) continue;
      out.push({
        index: slot.index, pid: worker.process.pid,
        send: (m) => this.#send(slot, m),
        kill: () => worker.process.kill('SIGKILL'),
      });
    }
    return out;
  }

  #send(slot: Slot, message: Unversioned<ToWorker>): void {
    const worker = slot.worker;
    if (worker === null || !worker.isConnected()) return;
    try {
      worker.send({ v: IPC_VERSION, ...message });
    } catch (err) {
      this.#log.debug({ worker: slot.index, err: err instanceof Error ? err.message : String(err) }, 'send to worker failed');
    }
  }

  /** The first subscriber came or the last one went: the workers forward decision lines only while someone listens. */
  #wantDecisions(wanted: boolean): void {
    if (wanted === this.#decisionsWanted) return;
    this.#decisionsWanted = wanted;
    for (const slot of this.#slots) if (slot.started) this.#send(slot, { t: 'decisions.wanted', on: wanted });
  }

  async #workerMetrics(): Promise<Map<number, MetricsJson>> {
    const asks = this.#slots.filter((s) => s.listening).map(async (slot): Promise<[number, MetricsJson | null]> => {
      const request = this.#metricsAsked.open(METRICS_TIMEOUT_MS, () => null);
      if (request === null) return [slot.index, null];
      this.#send(slot, { t: 'metrics.get', id: request.id });
      return [slot.index, await request.answer];
    });
    const out = new Map<number, MetricsJson>();
    for (const [index, metrics] of await Promise.all(asks)) if (metrics !== null) out.set(index, metrics);
    return out;
  }

  /** GET /v1/top: every listening worker's counts merged (one that is late is left out, as in a scrape). */
  async #workerTop(): Promise<TopSnapshot> {
    const asks = this.#slots.filter((s) => s.listening).map(async (slot): Promise<TopSnapshot | null> => {
      const request = this.#topAsked.open(METRICS_TIMEOUT_MS, () => null);
      if (request === null) return null;
      this.#send(slot, { t: 'top.get', id: request.id });
      return request.answer;
    });
    return mergeTop((await Promise.all(asks)).filter((s): s is TopSnapshot => s !== null));
  }

  // --- the rest, as the single-process Server does it ---

  #startHttp(address: HostPort, token: string | null): Promise<HttpServer> {
    return startHttp({
      address,
      log: this.#log,
      ready: () => this.ready,
      adminToken: token,
      registry: new CombinedRegistry(this.metrics.registry, () => this.#workerMetrics()),
      grants: this.#grants,
      noGrants: this.#approvals.noGrants,
      holds: this.#holds,
      quarantine: this.#quarantine,
      onShed: this.metrics.httpConnectionShed,
      decisions: this.#decisions,
      top: () => this.#workerTop(),
    });
  }

  #closeGrant(id: string): void {
    const writer = this.#firewall;
    const fw = this.#config.firewall;
    if (writer && fw) closeRevokedGrant(writer, id, fw.graceMs, this.#log);
  }

  /** The control state's values; the query path's are the workers' (zero here, and left out of the sum). */
  #watchMetrics(): void {
    const holds = this.#holds;
    holds.observe((_outcome, seconds) => this.metrics.holdWait.observe(seconds));
    this.metrics.watch({
      cacheEntries: () => 0, cacheBytes: () => 0, cacheHits: () => 0, cacheMisses: () => 0,
      holdsPending: () => holds.stats.pending,
      holdsLate: () => holds.stats.late,
      holdsPendingLimit: () => this.#config.approval?.maxPendingHolds ?? 0,
      holdsEnded: () => holds.stats.ended,
      grantsActive: () => this.#grants.activeCount(Date.now()),
      grantsAdded: () => this.#grants.stats.added,
      approvalLinkUp: () => this.#approvals.linkState === 'up',
      upstreamsUp: () => ({}),
      approvalsWithoutGrant: () => this.#approvals.noGrants.counts,
      approvalEvents: () => {
        const stats = this.#approvals.link?.stats;
        return stats ? { ...stats.received, unknown: stats.unknown, malformed: stats.malformed } : {};
      },
      upstreamSockets: () => ({ open: 0, max: 0, refused: 0 }),
      limitedSources: () => 0,
      tunnelingKeys: () => 0,
      firewallElements: () => (this.#firewall ? elementSeries(this.#config, this.#firewall.liveCounts()) : {}),
      decisionStream: () => ({ subscribers: this.#decisions.subscribers, dropped: this.#decisions.dropped }),
    });
  }
}

/**
 * The config's client entries, for the quarantine's names alone: the primary
 * decides no query, so it compiles the roles without their lists (only their
 * modes matter here). The workers compile the lists; compiling them here too
 * would cost the primary the same seconds at every reload of a long list (and
 * 3–4 MiB per 100k names, measured), for lookups it never makes.
 */
async function clientNames(config: Config): Promise<ClientTable> {
  const bare = new Map([...config.roles].map(([name, role]) => [name, { ...role, allow: [], deny: [], privateOk: [] }]));
  return new ClientTable(config.clients, await compileRolesAsync(bare), config.mode);
}

/**
 * How long to wait before replacing a worker that died for the `crashes`-th time in a row (each
 * within STABLE_MS of its start): at once the first time, then 1 s doubling to 30 s.
 */
export function restartDelayMs(crashes: number): number {
  return crashes <= 1 ? 0 : Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** (crashes - 2));
}
