/**
 * The life of a worker process (cluster.isWorker): say hello, take `start`
 * (the config text and the state to begin from), bind, serve, and do what
 * the primary says until `stop`. A worker follows its primary:
 *
 *   - SIGINT and SIGTERM are left to the primary (a terminal's Ctrl-C or a
 *     process-group signal reaches every process; the primary drains the
 *     workers in order), so a worker ignores them;
 *   - when the primary goes away (IPC 'disconnect': it died), the worker
 *     exits at once: with nobody to answer holds and no approval link, it
 *     must not serve on.
 *
 * Its log lines go to the inherited stdout, each write at most PIPE_BUF and
 * cut between lines, so that the processes sharing the pipe never cut into
 * each other's lines; every line carries `worker` (its index).
 */
import cluster from 'node:cluster';
import type { Logger } from 'pino';
import { ConfigError } from '../config/errors.js';
import { ListenError } from '../receive/index.js';
import { createLogger } from '../telemetry/log.js';
import { LogOutput, PIPE_BUF, stallNoticeLine } from '../telemetry/log-output.js';
import { describe, IPC_VERSION, isToWorker, type FromWorker, type ToWorker, type Unversioned } from './messages.js';
import { WorkerServer, workerConfig } from './worker.js';

/** Messages that arrive before `start` has been handled are kept, at most this many (a fan-out racing the start). */
const MAX_EARLY_MESSAGES = 10_000;
/** When the primary is gone, how long the worker lets queries in flight finish. */
const ORPHAN_GRACE_MS = 1_000;
const LOG_DRAIN_MS = 2_000;

export async function runWorker(): Promise<number> {
  const send = (m: Unversioned<FromWorker>): boolean => {
    if (!process.connected || process.send === undefined) return false;
    try {
      return process.send({ v: IPC_VERSION, ...m });
    } catch {
      return false;
    }
  };
  const output = new LogOutput({ notice: stallNoticeLine, maxWriteBytes: PIPE_BUF });
  let log: Logger = createLogger('info', output).child({ worker: Number(process.env.INTENTDNS_WORKER_INDEX ?? -1) });
  let server: WorkerServer | null = null;
  const early: ToWorker[] = [];
  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });

  const stop = async (code: number, graceMs: number | null): Promise<void> => {
    const closing = server?.close() ?? Promise.resolve();
    if (graceMs === null) await closing;
    else await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
    await output.drain(LOG_DRAIN_MS);
    finish(code);
  };

  const handle = (m: ToWorker, s: WorkerServer): void => {
    switch (m.t) {
      case 'start':
        return;
      case 'grant':
        s.grant(m.op);
        send({ t: 'ack', seq: m.seq });
        return;
      case 'quarantine':
        s.quarantine(m.state);
        send({ t: 'ack', seq: m.seq });
        return;
      case 'hold.outcome':
        s.holdAnswered(m);
        return;
      case 'firewall.done':
        s.firewallDone(m);
        return;
      case 'decisions.wanted':
        s.decisionsWanted(m.on);
        return;
      case 'metrics.get':
        void s.metrics.registry.getMetricsAsJSON().then((metrics) => send({ t: 'metrics', id: m.id, metrics: metrics as never }));
        return;
      case 'top.get':
        send({ t: 'top', id: m.id, top: s.top.snapshot() });
        return;
      case 'reload.prepare':
        void s.prepare(m.id, m.text).then((errors) => send({ t: 'reload.prepared', id: m.id, errors }));
        return;
      case 'reload.commit':
        s.commit(m.id);
        send({ t: 'reload.done', id: m.id });
        return;
      case 'reload.abort':
        void s.abort(m.id).then(() => send({ t: 'reload.done', id: m.id }));
        return;
      case 'stop':
        log.info({ received: s.received }, 'worker stopping');
        void stop(0, null);
        return;
    }
  };

  const begin = (m: Extract<ToWorker, { t: 'start' }>): void => {
    let s: WorkerServer;
    try {
      const config = workerConfig(m.file, m.text, m.workers);
      log = createLogger(config.log.level, output).child({ worker: m.index });
      s = new WorkerServer(m, config, send, log);
    } catch (err) {
      const error = err instanceof ConfigError ? err.format() : err instanceof Error ? err.message : String(err);
      send({ t: 'start.failed', error });
      void stop(1, 0);
      return;
    }
    server = s;
    s.metrics.watchLogOutput(() => output.dropped);
    for (const queued of early.splice(0)) handle(queued, s);
    s.listen().then(
      // The primary logs "worker listening", with this pid: one line per worker, not two.
      (addresses) => send({ t: 'listening', addresses }),
      (err: unknown) => {
        const listen = err instanceof ListenError ? { address: err.address, transport: err.transport, code: err.systemCode } : undefined;
        send({ t: 'start.failed', error: err instanceof Error ? err.message : String(err), ...(listen && { listen }) });
        void stop(1, 0);
      },
    );
  };

  process.on('message', (m: unknown) => {
    if (!isToWorker(m)) {
      log.warn({ message: describe(m) }, 'unexpected IPC message from the primary; dropped');
      return;
    }
    if (server === null) {
      if (m.t === 'start') begin(m);
      // Told to stop before it started (the start failed elsewhere): nothing to drain.
      else if (m.t === 'stop') void stop(0, 0);
      else if (early.length < MAX_EARLY_MESSAGES) early.push(m);
      return;
    }
    handle(m, server);
  });
  process.on('disconnect', () => {
    log.warn({ pid: process.pid }, 'primary process gone; worker exiting');
    server?.primaryGone();
    void stop(1, ORPHAN_GRACE_MS);
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => log.debug({ signal }, 'signal left to the primary'));
  }
  send({ t: 'hello' });
  const code = await finished;
  // Handles the cluster keeps (the IPC channel, shared sockets) would keep the process up.
  process.exit(code);
}

/** Whether this process is a worker forked by a primary (node:cluster). */
export function isWorkerProcess(): boolean {
  return cluster.isWorker;
}
