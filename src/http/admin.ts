import type { Logger } from 'pino';
import { QuarantineFullError, QuarantineTargetError } from '../quarantine/errors.js';
import { QUARANTINE_KINDS, type Quarantine, type QuarantineKind, type QuarantineStatus } from '../quarantine/quarantine.js';
import { json, jsonError, type HttpRequest, type Reply, type Route } from './routes.js';

/** Anything that lists its live entries at a given time: the grant store, the hold registry. */
export interface Lister {
  list(now: number): unknown[];
}

/** A bounded list of recent events, newest first (approval/no-grants.ts: approvals that granted nothing). */
export interface RecentList {
  list(): unknown[];
}

/**
 * The quarantine (quarantine/quarantine.ts). The DNS side reads the same
 * object, so a change here applies to the next query, and to queries still
 * waiting for a hold or an upstream when their answer leaves.
 */
export type QuarantineStore = Pick<Quarantine, 'set' | 'status' | 'list'> & {
  /**
   * With `listen.workers`: resolves once the changes made so far reached every
   * worker; a POST or DELETE is answered only then, so its 200 means "in force".
   */
  readonly published?: () => Promise<void>;
};

export interface AdminDeps {
  readonly grants: Lister;
  /** Shown as `no_grant` in GET /v1/grants: an approval that opened nothing is the first thing asked about a refused agent. */
  readonly noGrants?: RecentList;
  readonly holds: Lister;
  readonly quarantine: QuarantineStore;
  readonly log: Logger;
  readonly now: () => number;
}

/** The same bound as a DNS name: agent names come from `clients[].name`, often with an address in them. */
export const MAX_AGENT_NAME = 253;

const BODY_FORMS = '{"agent": ...}, {"client": ...} or {"cidr": ...}';

/** How audit lines name each kind. */
const NOUN: Readonly<Record<QuarantineKind, string>> = { agent: 'agent', client: 'client entry', cidr: 'address range' };

/** The `/v1` admin API. server.ts checks the bearer token before any of these run. */
export function adminRoutes(deps: AdminDeps): Route[] {
  const { grants, noGrants, holds, quarantine, log, now } = deps;

  const change = (req: HttpRequest, kind: QuarantineKind, spelled: string, on: boolean): Reply | Promise<Reply> => {
    const reply = set(req, kind, spelled, on);
    return quarantine.published ? quarantine.published().then(() => reply) : reply;
  };

  const set = (req: HttpRequest, kind: QuarantineKind, spelled: string, on: boolean): Reply =>
    answer(() => {
      const result = quarantine.set(kind, spelled, on);
      // Repeating a POST or DELETE is harmless and changes nothing, so it is not an audit event.
      if (result.changed) {
        log.warn(
          { audit: 'quarantine', [kind]: result.value, known: result.known, quarantined: on, by: req.client },
          `${NOUN[kind]} ${on ? 'quarantined' : 'quarantine lifted'}`,
        );
        // Most likely a typo or a stale name: the 200 says known: false, but a script rarely reads it, so the log says it too.
        if (on && kind === 'agent' && !result.known) log.warn({ agent: result.value, by: req.client }, `quarantined an agent no client entry can produce: ${result.value}`);
      }
      return result;
    });

  const agentRoute = (req: HttpRequest, on: boolean): Reply | Promise<Reply> => {
    const agent = nameText(req.params[0] ?? '', 'agent name', true);
    return typeof agent === 'string' ? change(req, 'agent', agent, on) : agent;
  };

  const bodyRoute = (req: HttpRequest, on: boolean): Reply | Promise<Reply> => {
    const target = quarantineTarget(req.body);
    return 'status' in target ? target : change(req, target.kind, target.value, on);
  };

  return [
    { path: /^\/v1\/grants$/, methods: { GET: () => json(200, { grants: grants.list(now()), ...(noGrants !== undefined && { no_grant: noGrants.list() }) }) } },
    { path: /^\/v1\/holds$/, methods: { GET: () => json(200, { holds: holds.list(now()) }) } },
    {
      path: /^\/v1\/quarantine$/,
      methods: {
        GET: () => json(200, quarantine.list()),
        POST: (req) => bodyRoute(req, true),
        DELETE: (req) => bodyRoute(req, false),
      },
    },
    {
      path: /^\/v1\/agents\/([^/]*)\/quarantine$/,
      methods: {
        GET: (req) => {
          const agent = nameText(req.params[0] ?? '', 'agent name', true);
          return typeof agent === 'string' ? answer(() => quarantine.status('agent', agent)) : agent;
        },
        POST: (req) => agentRoute(req, true),
        DELETE: (req) => agentRoute(req, false),
      },
    },
  ];
}

/** A status as JSON (`{ "agent": "ci-1", "known": true, "quarantined": true }`), or the store's refusal as 400 / 409. */
function answer(run: () => QuarantineStatus): Reply {
  let status: QuarantineStatus;
  try {
    status = run();
  } catch (err) {
    if (err instanceof QuarantineTargetError) return jsonError(400, err.message);
    if (err instanceof QuarantineFullError) return jsonError(409, err.message);
    throw err;
  }
  return json(200, {
    [status.kind]: status.value,
    known: status.known,
    quarantined: status.quarantined,
    ...(status.coveredBy.length > 0 && { covered_by: status.coveredBy }),
    // Who set an agent's own entry: the operator (admin), the approval service, or both.
    ...(status.setBy.length > 0 && { set_by: status.setBy }),
  });
}

/** The body of POST/DELETE /v1/quarantine: exactly one of agent, client, cidr, as a string. Or the 400 reply saying what is wrong. */
export function quarantineTarget(body: string): { kind: QuarantineKind; value: string } | Reply {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return jsonError(400, `the body must be JSON: ${BODY_FORMS}`);
  }
  const keys = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? Object.keys(parsed) : [];
  const kind = keys.length === 1 ? QUARANTINE_KINDS.find((k) => k === keys[0]) : undefined;
  if (kind === undefined) return jsonError(400, `the body must be one of ${BODY_FORMS}`);
  const value = (parsed as Record<string, unknown>)[kind];
  if (typeof value !== 'string') return jsonError(400, `${kind} must be a string`);
  if (kind === 'cidr') return { kind, value };
  const name = nameText(value, kind === 'agent' ? 'agent name' : 'client entry name', false);
  return typeof name === 'string' ? { kind, value: name } : name;
}

/**
 * An agent or client entry name: percent-decoded when it came in a path
 * segment, non-empty, at most 253 characters, no control characters (they
 * would forge lines in terminals and text logs). Returns the name, or the 400
 * reply saying what is wrong.
 */
export function nameText(text: string, what: string, percentEncoded: boolean): string | Reply {
  let name = text;
  if (percentEncoded) {
    try {
      name = decodeURIComponent(text);
    } catch {
      return jsonError(400, `${what} is not valid percent-encoding`);
    }
  }
  if (name === '') return jsonError(400, `${what} is empty`);
  if (name.length > MAX_AGENT_NAME) return jsonError(400, `${what} is longer than ${MAX_AGENT_NAME} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f-\x9f]/.test(name)) return jsonError(400, `${what} contains control characters`);
  return name;
}
