import type { ServerResponse } from 'node:http';
import { ACTIONS, REASONS, type Action, type Reason } from '../pipeline/types.js';
import type { DecisionFilter, DecisionStream } from './decision-stream.js';
import { jsonError, type HttpRequest, type Reply, type Route, type Streaming } from './routes.js';

const FILTERS = ['agent', 'role', 'action', 'reason'] as const;

/** GET /v1/decisions: the live decision stream as Server-Sent Events (server.ts has checked the token). */
export function decisionRoutes(stream: DecisionStream): Route[] {
  return [{ path: /^\/v1\/decisions$/, methods: { GET: (req) => subscribe(stream, req) } }];
}

function subscribe(stream: DecisionStream, req: HttpRequest): Reply | Streaming {
  const filter = decisionFilter(req.query);
  if ('status' in filter) return filter;
  if (stream.full) {
    return jsonError(503, `the decision stream has its ${stream.limits.maxSubscribers} subscribers; try again when one leaves`, { 'retry-after': '5' });
  }
  return {
    kind: 'stream',
    contentType: 'text/event-stream; charset=utf-8',
    open: (res: ServerResponse) => {
      // A comment first, so the client knows the stream is open before the first decision.
      res.write(': intentdns decisions\n\n');
      stream.add(res, filter);
    },
  };
}

/**
 * The filter of `?agent=&role=&action=&reason=`, or the 400 saying what is
 * wrong: an unknown parameter, one given twice or empty, or an action or
 * reason that no decision can have (a typo would otherwise stream nothing, silently).
 */
export function decisionFilter(query: URLSearchParams): DecisionFilter | Reply {
  const filter: { agent?: string; role?: string; action?: Action; reason?: Reason } = {};
  for (const key of new Set(query.keys())) {
    if (!(FILTERS as readonly string[]).includes(key)) return jsonError(400, `unknown parameter "${key}"; the filters are ${FILTERS.join(', ')}`);
    const values = query.getAll(key);
    if (values.length > 1) return jsonError(400, `${key} is given ${values.length} times; give it once`);
    const value = values[0]!;
    if (value === '') return jsonError(400, `${key} is empty`);
    if (key === 'action') {
      if (!(ACTIONS as readonly string[]).includes(value)) return jsonError(400, `unknown action "${value}"; one of ${ACTIONS.join(', ')}`);
      filter.action = value as Action;
    } else if (key === 'reason') {
      if (!(REASONS as readonly string[]).includes(value)) return jsonError(400, `unknown reason "${value}"; one of ${REASONS.join(', ')}`);
      filter.reason = value as Reason;
    } else {
      filter[key as 'agent' | 'role'] = value;
    }
  }
  return filter;
}
