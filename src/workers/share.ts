import type { Config } from '../config/types.js';

/**
 * One worker's share of the limits that add up across workers: each worker
 * keeps its own token buckets, tunneling budgets, cache and TCP connection
 * counts, so each gets ceil(limit / workers) (at least 1; 0, "off", stays 0)
 * and the whole proxy keeps about the configured totals.
 *
 * About, for one client: its queries reach whichever worker the kernel wakes
 * first, not a worker of its own, so a client that happens to land on one
 * worker more than the others meets its limit a little early there. The
 * totals over all clients hold.
 */
export function workerShare(config: Config, workers: number): Config {
  if (workers <= 1) return config;
  const part = (limit: number): number => (limit === 0 ? 0 : Math.max(1, Math.ceil(limit / workers)));
  const l = config.limits;
  return {
    ...config,
    cache: { maxEntries: part(config.cache.maxEntries), maxBytes: part(config.cache.maxBytes) },
    limits: {
      ...l,
      clientQps: part(l.clientQps),
      clientBurst: part(l.clientBurst),
      unknownQps: part(l.unknownQps),
      tcpConnections: part(l.tcpConnections),
      tcpConnectionsPerClient: part(l.tcpConnectionsPerClient),
      unknownTcpConnections: part(l.unknownTcpConnections),
      unknownTcpConnectionsPerSource: part(l.unknownTcpConnectionsPerSource),
    },
    roles: new Map([...config.roles].map(([name, role]) => [
      name,
      role.tunneling === null ? role : {
        ...role,
        tunneling: { ...role.tunneling, maxNamesPerDomain: part(role.tunneling.maxNamesPerDomain), maxBytesPerDomain: part(role.tunneling.maxBytesPerDomain) },
      },
    ])),
  };
}
