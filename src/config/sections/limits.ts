import { parsePositiveDuration } from '../duration.js';
import type { Section } from '../reader.js';
import type { LimitsConfig } from '../types.js';

export const LIMITS_KEYS = [
  'client_qps', 'client_burst', 'over_limit',
  'tcp_connections', 'tcp_connections_per_client', 'tcp_idle_timeout', 'in_flight_per_client',
  'unknown_qps', 'unknown_tcp_connections', 'unknown_tcp_connections_per_source',
] as const;

/** The defaults: v1's listener limits, no rate limit for known clients, a small budget for strangers. */
export const LIMITS_DEFAULTS: LimitsConfig = Object.freeze({
  clientQps: 0,
  clientBurst: 0,
  overLimit: 'drop',
  tcpConnections: 1000,
  tcpConnectionsPerClient: 32,
  tcpIdleTimeoutMs: 10_000,
  inFlightPerClient: 100,
  unknownQps: 20,
  unknownTcpConnections: 16,
  unknownTcpConnectionsPerSource: 2,
});

/**
 * `limits`: what one client may cost. Rates are whole queries per second;
 * `client_qps: 0` (the default) leaves known clients unlimited, as v1 did,
 * while sources that match no client are always limited (`unknown_qps`).
 */
export function readLimits(sec: Section): LimitsConfig {
  const d = LIMITS_DEFAULTS;
  const clientQps = sec.wholeNumber('client_qps', d.clientQps);
  const burst = sec.wholeNumber('client_burst', d.clientBurst);
  return {
    clientQps,
    clientBurst: burst === 0 ? 2 * clientQps : burst,
    overLimit: sec.oneOf('over_limit', ['drop', 'refuse'], d.overLimit),
    tcpConnections: sec.positiveInt('tcp_connections', d.tcpConnections),
    tcpConnectionsPerClient: sec.positiveInt('tcp_connections_per_client', d.tcpConnectionsPerClient),
    tcpIdleTimeoutMs: sec.parse('tcp_idle_timeout', d.tcpIdleTimeoutMs, parsePositiveDuration),
    inFlightPerClient: sec.positiveInt('in_flight_per_client', d.inFlightPerClient),
    unknownQps: sec.positiveInt('unknown_qps', d.unknownQps),
    unknownTcpConnections: sec.positiveInt('unknown_tcp_connections', d.unknownTcpConnections),
    unknownTcpConnectionsPerSource: sec.positiveInt('unknown_tcp_connections_per_source', d.unknownTcpConnectionsPerSource),
  };
}
