import { constants } from 'node:os';
import { loadConfigFile, Reloader, type ReloadTarget } from '../config/reload.js';
import type { HostPort } from '../config/types.js';
import { watchConfig } from '../config/watch.js';
import { Server } from '../server.js';
import { createLogger } from '../telemetry/log.js';
import { LogOutput, PIPE_BUF, stallNoticeLine } from '../telemetry/log-output.js';
import type { Metrics } from '../telemetry/metrics.js';
import { Primary } from '../workers/primary.js';
import { isWorkerProcess, runWorker } from '../workers/run-worker.js';
import { configPath, type Io } from './io.js';
import { startFailure } from './start-failure.js';

/**
 * After SIGTERM or SIGINT, the longest a shutdown may take before the process
 * exits anyway (code 1). A clean one takes at most the listeners' grace period
 * for queries in flight (5 s) and then the HTTP listener's (2 s); this stays
 * under the 30 s Kubernetes waits before SIGKILL.
 */
export const SHUTDOWN_DEADLINE_MS = 10_000;

/** After a clean shutdown, the longest the last log lines may wait for a slow reader. */
const LOG_DRAIN_MS = 2_000;

/**
 * The process lifecycle:
 *
 *   start    load and validate the config (exit 1 with FILE:LINE:COL lines
 *            if it is bad), bind every listener, start the approval link;
 *            /readyz turns 200.
 *   SIGHUP   reload the config (also when the file changes: config/watch.ts);
 *            a reload that fails keeps the running config (config/reload.ts).
 *   SIGTERM  (or SIGINT) /readyz turns 503, held queries get their
 *            on_hold_timeout answer, queries in flight are answered, the
 *            approval link and the listeners close, and the process exits 0
 *            by itself. A second signal exits at once (128 + signal number).
 *
 * With listen.workers > 1 this process is the primary (workers/primary.ts):
 * the same lifecycle, with the listeners in forked workers; a forked worker
 * runs workers/run-worker.ts instead and takes its config from the primary.
 */
export const serve = {
  name: 'serve',
  summary: 'run the proxy',
  usage: 'intentdns serve [--config FILE]',
  options: {
    config: { type: 'string' },
  },
  async run(values: { config?: string }, io: Io): Promise<number> {
    // A worker of listen.workers: the primary tells it what to serve.
    if (isWorkerProcess()) return runWorker();
    const file = configPath(values.config, io);
    const { config, digest, text } = loadConfigFile(file);
    const workers = config.listen.workers > 1;
    // With workers, several processes write this stdout: each write whole lines and atomic (PIPE_BUF).
    const output = new LogOutput({ notice: stallNoticeLine, ...(workers && { maxWriteBytes: PIPE_BUF }) });
    const log = createLogger(config.log.level, output);
    const options = { nftCommand: nftCommandFromEnv(io) };
    // workers: 1 is the single process as before, with no IPC anywhere.
    const server: Serving = workers ? new Primary(config, text, log, options) : new Server(config, log, options);
    server.metrics.watchLogOutput(() => output.dropped);
    try {
      await server.listen();
    } catch (err) {
      // Whatever stops the start (a port taken or not allowed, a firewall that cannot work: never
      // serve as if it did) ends as one fatal JSON line a supervisor shows, with a hint where we know one.
      const failure = startFailure(err);
      log.fatal(failure, 'not starting');
      io.err(`intentdns serve: ${failure.err}${failure.hint !== undefined ? ` (${failure.hint})` : ''}`);
      await output.drain(LOG_DRAIN_MS);
      return 1;
    }

    const reloader = new Reloader({ file, digest, target: server, log, metrics: server.metrics });
    const watcher = watchConfig(file, () => void reloader.reload('file'), { log });
    const onHangup = (): void => void reloader.reload('signal');
    process.on('SIGHUP', onHangup);

    const stopped = new Promise<number>((resolve) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals): void => {
        if (stopping) {
          log.warn({ signal }, 'second signal; exiting without waiting for queries in flight');
          process.exit(128 + (constants.signals[signal] ?? 0));
        }
        stopping = true;
        log.info({ signal }, 'shutting down');
        const deadline = setTimeout(() => {
          log.error({ deadline_ms: SHUTDOWN_DEADLINE_MS }, 'shutdown did not finish in time; exiting');
          process.exit(1);
        }, SHUTDOWN_DEADLINE_MS);
        // Only a stuck shutdown should ever see it fire.
        deadline.unref();
        watcher.close();
        process.off('SIGHUP', onHangup);
        // Both at once: readiness must fail now, not after a reload in progress has finished.
        Promise.all([reloader.close(), server.close()]).then(
          () => {
            clearTimeout(deadline);
            process.off('SIGTERM', stop).off('SIGINT', stop);
            log.info('intentdns stopped');
            resolve(0);
          },
          (err: unknown) => {
            clearTimeout(deadline);
            log.error({ err }, 'error while shutting down');
            resolve(1);
          },
        );
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });

    // Last: whoever waits for this line (a supervisor, a test) may signal us at once.
    log.info(
      { config: config.file, dns: server.addresses().map((a) => a.text), http: server.httpAddress()?.text ?? null, mode: config.mode },
      'intentdns listening',
    );
    const code = await stopped;
    // The last lines go out if the reader takes them; a stalled one does not keep the process alive.
    if (!(await output.drain(LOG_DRAIN_MS))) process.exit(code);
    return code;
  },
} as const;

/** What serve runs: the single-process Server, or the Primary of listen.workers. */
interface Serving extends ReloadTarget {
  readonly metrics: Metrics;
  listen(): Promise<void>;
  close(): Promise<void>;
  addresses(): readonly HostPort[];
  httpAddress(): HostPort | null;
}

/**
 * INTENTDNS_NFT_COMMAND: the nft command the firewall writer runs, words split
 * on spaces (`-f -` is appended). For tests and unusual installs, e.g.
 * "ip netns exec test-ns nft"; unset means "nft" from PATH.
 */
function nftCommandFromEnv(io: Io): string[] | undefined {
  const text = io.env.INTENTDNS_NFT_COMMAND?.trim();
  return text ? text.split(/\s+/) : undefined;
}
