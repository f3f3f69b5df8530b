import type { Registry } from 'prom-client';
import { jsonError, text, type Route } from './routes.js';

export interface ProbeDeps {
  /** True once listeners are bound and config is loaded; false again while shutting down. */
  readonly ready: () => boolean;
  readonly registry?: Registry | undefined;
}

/**
 * Health, readiness and metrics: open to anyone who can reach listen.http
 * (orchestrators and Prometheus carry no token), and they reveal nothing
 * an admin token would protect.
 */
export function probeRoutes(deps: ProbeDeps): Route[] {
  const { ready, registry } = deps;
  return [
    // Liveness: answering at all is the signal; it must not depend on anything else.
    { path: /^\/healthz$/, methods: { GET: () => text(200, 'ok\n') } },
    { path: /^\/readyz$/, methods: { GET: () => (ready() ? text(200, 'ready\n') : text(503, 'not ready\n')) } },
    {
      path: /^\/metrics$/,
      methods: {
        GET: async () =>
          registry === undefined ? jsonError(404, 'metrics are not enabled') : text(200, await registry.metrics(), registry.contentType),
      },
    },
  ];
}
