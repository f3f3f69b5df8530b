import type { Section } from '../reader.js';
import type { Config, QueryLogging } from '../types.js';

export const ADMIN_KEYS = ['token_file'] as const;
export const LOG_KEYS = ['level', 'queries'] as const;
export const METRICS_KEYS = ['per_agent'] as const;

const PINO_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const QUERY_LOGGING: readonly QueryLogging[] = ['all', 'blocked', 'none'];

/** `admin`: without a token file the /v1 API is open to whoever reaches listen.http. */
export function readAdmin(sec: Section, resolvePath: (p: string) => string): Config['admin'] {
  return { tokenFile: sec.filePath('token_file', resolvePath) };
}

export function readLog(sec: Section): Config['log'] {
  return { level: sec.oneOf('level', PINO_LEVELS, 'info'), queries: sec.oneOf('queries', QUERY_LOGGING, 'all') };
}

/** `metrics`: per_agent labels by client entry (an `{ip}` template is one label value), so series stay bounded by the config. */
export function readMetrics(sec: Section): Config['metrics'] {
  return { perAgent: sec.bool('per_agent', false) };
}
