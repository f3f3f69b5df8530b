import type { Logger } from 'pino';
import { json, jsonError, type HttpRequest, type Reply, type Route } from './routes.js';

/** Anything that lists its live entries at a given time: the grant store, the hold registry. */
export interface Lister {
  list(now: number): unknown[];
}

/**
 * The quarantined agents. A `Set<string>` fits as is; the DNS side reads the
 * same object, so a change here applies to the next query.
 */
export interface QuarantineStore extends Iterable<string> {
  has(agent: string): boolean;
  add(agent: string): unknown;
  delete(agent: string): boolean;
}

export interface AdminDeps {
  readonly grants: Lister;
  readonly holds: Lister;
  readonly quarantine: QuarantineStore;
  readonly log: Logger;
  readonly now: () => number;
}

/** The same bound as a DNS name: agent names come from `clients[].name`, often with an address in them. */
export const MAX_AGENT_NAME = 253;

/** The `/v1` admin API. server.ts checks the bearer token before any of these run. */
export function adminRoutes(deps: AdminDeps): Route[] {
  const { grants, holds, quarantine, log, now } = deps;

  const setQuarantine = (req: HttpRequest, on: boolean): Reply => {
    const agent = agentName(req.params[0] ?? '');
    if (typeof agent !== 'string') return agent;
    // Repeating a POST or DELETE is harmless and changes nothing, so it is not an audit event.
    if (quarantine.has(agent) !== on) {
      if (on) quarantine.add(agent);
      else quarantine.delete(agent);
      log.warn({ audit: 'quarantine', agent, quarantined: on, by: req.client }, on ? 'agent quarantined' : 'agent quarantine lifted');
    }
    return json(200, { agent, quarantined: on });
  };

  return [
    { path: /^\/v1\/grants$/, methods: { GET: () => json(200, { grants: grants.list(now()) }) } },
    { path: /^\/v1\/holds$/, methods: { GET: () => json(200, { holds: holds.list(now()) }) } },
    { path: /^\/v1\/quarantine$/, methods: { GET: () => json(200, { agents: [...quarantine].sort() }) } },
    {
      path: /^\/v1\/agents\/([^/]*)\/quarantine$/,
      methods: {
        GET: (req) => {
          const agent = agentName(req.params[0] ?? '');
          return typeof agent === 'string' ? json(200, { agent, quarantined: quarantine.has(agent) }) : agent;
        },
        POST: (req) => setQuarantine(req, true),
        DELETE: (req) => setQuarantine(req, false),
      },
    },
  ];
}

/**
 * A path segment as an agent name: percent-decoded, non-empty, at most 253
 * characters, no control characters (they would forge lines in terminals and
 * text logs). Returns the name, or the 400 reply saying what is wrong.
 */
export function agentName(segment: string): string | Reply {
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    return jsonError(400, 'agent name is not valid percent-encoding');
  }
  if (name === '') return jsonError(400, 'agent name is empty');
  if (name.length > MAX_AGENT_NAME) return jsonError(400, `agent name is longer than ${MAX_AGENT_NAME} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f-\x9f]/.test(name)) return jsonError(400, 'agent name contains control characters');
  return name;
}
