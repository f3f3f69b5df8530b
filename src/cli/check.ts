import { ConfigError } from '../config/errors.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { findOnPath } from '../firewall/index.js';
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
      const warnings = environmentWarnings(config, io);
      for (const w of warnings) io.err(`${file}: warning: ${w}`);
      if (values.json) io.out(JSON.stringify({ ok: true, file, ...(warnings.length > 0 && { warnings }) }));
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

/** What the config needs of this machine that is not there: a warning, since check may run elsewhere than serve. */
function environmentWarnings(config: Config, io: Io): string[] {
  if (config.firewall && findOnPath('nft', io.env.PATH) === null) {
    return [`firewall is configured but nft is not on PATH; serve will ${config.firewall.onError === 'closed' ? 'refuse to start' : 'answer without updating the sets'}`];
  }
  return [];
}
