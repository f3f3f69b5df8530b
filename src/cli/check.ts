import { ConfigError } from '../config/errors.js';
import { loadConfig } from '../config/load.js';
import { configPath, type Io } from './io.js';

export const check = {
  name: 'check',
  summary: 'validate a config file without serving',
  usage: 'intentdns check [--config FILE] [--json]',
  options: {
    config: { type: 'string' },
    json: { type: 'boolean' },
  },
  run(values: { config?: string; json?: boolean }, io: Io): number {
    const file = configPath(values.config, io);
    try {
      const config = loadConfig(file);
      if (values.json) io.out(JSON.stringify({ ok: true, file }));
      else io.out(`${file}: ok (${config.clients.length} clients, ${config.roles.size} roles, ${config.listen.dns.length} DNS listeners, mode ${config.mode})`);
      return 0;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      if (values.json) io.out(JSON.stringify({ ok: false, file, errors: err.issues }));
      else io.out(err.format());
      return 1;
    }
  },
} as const;
