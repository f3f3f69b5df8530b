import { ConfigError, formatIssue, type ConfigIssue } from '../config/errors.js';
import { parseConfig, readConfigText } from '../config/load.js';
import { ConfigLocations } from '../config/locate.js';
import type { Config } from '../config/types.js';
import { findOnPath } from '../firewall/index.js';
import { lintConfig } from '../lint/lint.js';
import { configPath, type Io } from './io.js';

export const check = {
  name: 'check',
  summary: 'validate a config file without serving, and warn about what is valid but likely wrong',
  usage: 'intentdns check [--config FILE] [--json] [--strict]',
  options: {
    config: { type: 'string' },
    json: { type: 'boolean' },
    strict: { type: 'boolean' },
  },
  run(values: { config?: string; json?: boolean; strict?: boolean }, io: Io): number {
    const file = configPath(values.config, io);
    try {
      const text = readConfigText(file);
      const config = parseConfig(text, file);
      const warnings = environmentWarnings(config, io);
      const lints = lintConfig(config, ConfigLocations.parse(text, file));
      // --strict fails on the config's own warnings; the environment's are about this machine, which may not be the server.
      const failed = values.strict === true && lints.length > 0;
      for (const w of warnings) io.err(`${file}: warning: ${w}`);
      if (values.json) {
        io.out(JSON.stringify({ ok: !failed, file, ...(warnings.length > 0 && { warnings }), ...(lints.length > 0 && { lints }) }));
      } else {
        io.out(summary(file, config, lints, failed));
        for (const lint of lints) io.out(`warning: ${formatIssue(lint)}`);
      }
      return failed ? 1 : 0;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      if (values.json) io.out(JSON.stringify({ ok: false, file, errors: err.issues }));
      else io.out(err.format());
      return 1;
    }
  },
} as const;

function summary(file: string, config: Config, lints: readonly ConfigIssue[], failed: boolean): string {
  const counts = `${config.clients.length} clients, ${config.roles.size} roles, ${config.listen.dns.length} DNS listeners, mode ${config.mode}`;
  const n = `${lints.length} ${lints.length === 1 ? 'warning' : 'warnings'}`;
  if (failed) return `${file}: ${n}, failing under --strict (${counts})`;
  return `${file}: ok (${counts})${lints.length > 0 ? `, ${n}` : ''}`;
}

/** What the config needs of this machine that is not there: a warning, since check may run elsewhere than serve. */
function environmentWarnings(config: Config, io: Io): string[] {
  if (config.firewall && findOnPath('nft', io.env.PATH) === null) {
    return [`firewall is configured but nft is not on PATH; serve will ${config.firewall.onError === 'closed' ? 'refuse to start' : 'answer without updating the sets'}`];
  }
  return [];
}
