import { ConfigError } from '../config/errors.js';
import { loadConfig } from '../config/load.js';
import { Server } from '../server.js';
import { createLogger } from '../telemetry/log.js';
import { configPath, type Io } from './io.js';

/** How long in-flight queries get to finish after SIGTERM before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 5000;

export const serve = {
  name: 'serve',
  summary: 'run the proxy',
  usage: 'intentdns serve [--config FILE]',
  options: {
    config: { type: 'string' },
  },
  async run(values: { config?: string }, io: Io): Promise<number> {
    const file = configPath(values.config, io);
    const config = loadConfig(file);
    const log = createLogger(config.log.level);
    const server = new Server(config, log);
    await server.listen();
    log.info({ config: config.file, dns: server.addresses(), mode: config.mode }, 'intentdns listening');

    process.on('SIGHUP', () => {
      try {
        server.reload(loadConfig(file));
        log.info({ config: file }, 'config reloaded');
      } catch (err) {
        // A bad edit never takes the proxy down: the running config stays.
        if (err instanceof ConfigError) log.error({ config: file, errors: err.format().split('\n') }, 'config reload failed; keeping the running config');
        else log.error({ err }, 'config reload failed; keeping the running config');
      }
    });

    return new Promise<number>((resolve) => {
      const stop = (signal: string) => {
        log.info({ signal }, 'shutting down');
        const timer = setTimeout(() => resolve(0), SHUTDOWN_GRACE_MS);
        timer.unref();
        server.close().then(() => resolve(0), (err: unknown) => {
          log.error({ err }, 'error while shutting down');
          resolve(1);
        });
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
  },
} as const;
