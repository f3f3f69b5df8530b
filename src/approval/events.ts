/**
 * The approval service's events (spec: approval-link.md, "Events"), as typed
 * values, and the hand-written validation that turns an SSE message into one.
 *
 * The wire is snake_case JSON with RFC 3339 times; the typed events are
 * camelCase with epoch milliseconds, so nothing outside this folder ever parses
 * a date string. Validation is strict on the fields we use and silent about
 * fields we do not know (the service may add some). A JSON `null` in an
 * optional field counts as "absent", the usual way JSON encoders say it.
 */
import { parseName } from '../config/pattern.js';
import { MAX_COMMAND_LENGTH } from './command-names.js';
import { qtypeNumber } from '../wire/qtypes.js';

export interface CommandApprovedEvent {
  readonly type: 'command.approved';
  readonly id: string;
  readonly agent: string;
  /**
   * Whole, for the names it gives (up to MAX_COMMAND_LENGTH, one character more marking one
   * that was longer): cut to 512 characters, a command loses the hosts after the cut. Whoever
   * keeps it (a grant, a log line) cuts it to MAX_TEXT_LENGTH.
   */
  readonly command: string;
  readonly approvedAt: number;          // epoch ms
  readonly approvedBy?: string;
  readonly riskScore?: number;
  readonly expiresAt?: number;          // epoch ms
  /** When absent, the names come from `command` (names-from-command). */
  readonly domains?: readonly string[];
}

export interface CommandRevokedEvent {
  readonly type: 'command.revoked';
  readonly id: string;
}

export interface HoldDecidedEvent {
  readonly type: 'hold.decided';
  readonly holdId: string;
  readonly decision: 'allow' | 'deny';
  readonly scope: 'name' | 'domain';    // 'name' when the service left it out
  readonly decidedBy?: string;
  /** When absent, the grant (or remembered denial) lasts `grant_ttl`. */
  readonly ttlSeconds?: number;
  /**
   * v1.1: the question that was held (`agent`, `qname`, `qtype`). With it,
   * every replica applies the decision to its own holds for that agent and
   * name; without it (a v1 service) only the hold with `holdId` is answered.
   */
  readonly question?: HeldQuestion;
}

/** What a reviewer decided about: an agent and a name (lower-case, no trailing dot), and the type first asked. */
export interface HeldQuestion {
  readonly agent: string;
  readonly qname: string;
  /** The type's number; absent when the service left it out. */
  readonly qtype?: number;
}

/** v1.1: the service cut an agent off (same effect as the admin API's POST /v1/agents/{name}/quarantine). */
export interface AgentQuarantinedEvent {
  readonly type: 'agent.quarantined';
  readonly agent: string;
  readonly reason?: string;
  readonly by?: string;
}

/** v1.1: the service lifted its quarantine of an agent. */
export interface AgentReleasedEvent {
  readonly type: 'agent.released';
  readonly agent: string;
  readonly by?: string;
}

export type ApprovalEvent =
  | CommandApprovedEvent | CommandRevokedEvent | HoldDecidedEvent | AgentQuarantinedEvent | AgentReleasedEvent;
export type ApprovalEventType = ApprovalEvent['type'];

export const APPROVAL_EVENT_TYPES: readonly ApprovalEventType[] = [
  'command.approved',
  'command.revoked',
  'hold.decided',
  'agent.quarantined',
  'agent.released',
];

/**
 * Every label an event can be counted under. A closed set, so it is safe as a
 * metric label (`approval_events_total{type}`).
 */
export type ApprovalEventLabel = ApprovalEventType | 'unknown' | 'malformed';
export const APPROVAL_EVENT_LABELS: readonly ApprovalEventLabel[] = [
  ...APPROVAL_EVENT_TYPES,
  'unknown',
  'malformed',
];

export type ParseResult =
  | { readonly kind: 'event'; readonly event: ApprovalEvent }
  | { readonly kind: 'unknown' }
  /** `reason` names the offending field, never its value: safe to log. */
  | { readonly kind: 'malformed'; readonly reason: string };

export function isApprovalEventType(type: string | undefined): type is ApprovalEventType {
  return type !== undefined && (APPROVAL_EVENT_TYPES as readonly string[]).includes(type);
}

/** Turns one SSE message (its `event:` name and `data:`) into an event, or says why not. */
export function parseApprovalEvent(type: string | undefined, data: string): ParseResult {
  if (!isApprovalEventType(type)) return { kind: 'unknown' };
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { kind: 'malformed', reason: 'data is not JSON' };
  }
  if (!isRecord(json)) return { kind: 'malformed', reason: 'data is not a JSON object' };
  try {
    switch (type) {
      case 'command.approved':
        return { kind: 'event', event: commandApproved(json) };
      case 'command.revoked':
        return { kind: 'event', event: { type, id: nonEmptyString(json, 'id') } };
      case 'hold.decided':
        return { kind: 'event', event: holdDecided(json) };
      case 'agent.quarantined':
        return { kind: 'event', event: agentQuarantined(json) };
      case 'agent.released': {
        const by = optional(json, 'by', nonEmptyString);
        return { kind: 'event', event: { type, agent: agentName(json, 'agent'), ...(by !== undefined && { by }) } };
      }
    }
  } catch (err) {
    if (err instanceof FieldError) return { kind: 'malformed', reason: err.message };
    throw err;
  }
}

function commandApproved(o: Record<string, unknown>): CommandApprovedEvent {
  const approvedBy = optional(o, 'approved_by', nonEmptyString);
  const riskScore = optional(o, 'risk_score', finiteNumber);
  const expiresAt = optional(o, 'expires_at', rfc3339);
  const domains = optional(o, 'domains', stringArray);
  return {
    type: 'command.approved',
    id: nonEmptyString(o, 'id'),
    agent: agentName(o, 'agent'),
    command: commandText(o, 'command'),
    approvedAt: rfc3339(o, 'approved_at'),
    ...(approvedBy !== undefined && { approvedBy }),
    ...(riskScore !== undefined && { riskScore }),
    ...(expiresAt !== undefined && { expiresAt }),
    ...(domains !== undefined && { domains }),
  };
}

function holdDecided(o: Record<string, unknown>): HoldDecidedEvent {
  const decidedBy = optional(o, 'decided_by', nonEmptyString);
  const ttlSeconds = optional(o, 'ttl_seconds', positiveInteger);
  const question = heldQuestion(o);
  return {
    type: 'hold.decided',
    holdId: nonEmptyString(o, 'hold_id'),
    decision: oneOf(o, 'decision', ['allow', 'deny'] as const),
    scope: optional(o, 'scope', (r, k) => oneOf(r, k, ['name', 'domain'] as const)) ?? 'name',
    ...(decidedBy !== undefined && { decidedBy }),
    ...(ttlSeconds !== undefined && { ttlSeconds }),
    ...(question !== undefined && { question }),
  };
}

/**
 * The v1.1 question fields: `agent` and `qname` together or neither (half a
 * question names no hold), `qtype` only beside them.
 */
function heldQuestion(o: Record<string, unknown>): HeldQuestion | undefined {
  const agent = optional(o, 'agent', agentName);
  const qname = optional(o, 'qname', dnsName);
  const qtype = optional(o, 'qtype', queryType);
  if (agent === undefined && qname === undefined) {
    if (qtype !== undefined) throw new FieldError('qtype: expected only beside agent and qname');
    return undefined;
  }
  if (agent === undefined || qname === undefined) throw new FieldError('agent and qname: expected both or neither');
  return { agent, qname, ...(qtype !== undefined && { qtype }) };
}

function agentQuarantined(o: Record<string, unknown>): AgentQuarantinedEvent {
  const reason = optional(o, 'reason', nonEmptyString);
  const by = optional(o, 'by', nonEmptyString);
  return {
    type: 'agent.quarantined',
    agent: agentName(o, 'agent'),
    ...(reason !== undefined && { reason }),
    ...(by !== undefined && { by }),
  };
}

/** Internal: carries the field name out of the validators; never leaves this module. */
class FieldError extends Error {}

type Field<T> = (o: Record<string, unknown>, key: string) => T;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optional<T>(o: Record<string, unknown>, key: string, field: Field<T>): T | undefined {
  return o[key] === undefined || o[key] === null ? undefined : field(o, key);
}

/** Ids and texts longer than this are cut: nothing the service sends may grow our books without bound. */
export const MAX_TEXT_LENGTH = 512;

const nonEmptyString: Field<string> = (o, key) => {
  const v = o[key];
  if (typeof v !== 'string' || v === '') throw new FieldError(`${key}: expected a non-empty string`);
  return v.length <= MAX_TEXT_LENGTH ? v : v.slice(0, MAX_TEXT_LENGTH);
};

/** A command as names-from-command reads it: a longer one gives no names, so it is kept one character too long. */
const commandText: Field<string> = (o, key) => {
  const v = o[key];
  if (typeof v !== 'string' || v === '') throw new FieldError(`${key}: expected a non-empty string`);
  return v.length <= MAX_COMMAND_LENGTH ? v : v.slice(0, MAX_COMMAND_LENGTH + 1);
};

/** The longest agent name, as the admin API takes it: a DNS name's bound, since `{ip}` names carry addresses. */
export const MAX_AGENT_NAME = 253;

/**
 * An agent name as the config's `clients` spell it: never cut (a cut name
 * would be another agent), no control characters (they would forge log lines).
 */
const agentName: Field<string> = (o, key) => {
  const v = o[key];
  if (typeof v !== 'string' || v === '') throw new FieldError(`${key}: expected a non-empty string`);
  if (v.length > MAX_AGENT_NAME) throw new FieldError(`${key}: longer than ${MAX_AGENT_NAME} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f-\x9f]/.test(v)) throw new FieldError(`${key}: contains control characters`);
  return v;
};

/** A host name as matching sees it (config/pattern.ts parseName): lower-case, no trailing dot. */
const dnsName: Field<string> = (o, key) => {
  const v = o[key];
  const parsed = typeof v === 'string' ? parseName(v) : null;
  if (parsed === null || !parsed.ok) throw new FieldError(`${key}: expected a domain name`);
  return parsed.value;
};

/** A query type by name ("AAAA", or "TYPE65"), as a number. */
const queryType: Field<number> = (o, key) => {
  const v = o[key];
  const n = typeof v === 'string' ? qtypeNumber(v) : undefined;
  if (n === undefined) throw new FieldError(`${key}: expected a query type name`);
  return n;
};

const finiteNumber: Field<number> = (o, key) => {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new FieldError(`${key}: expected a number`);
  return v;
};

const positiveInteger: Field<number> = (o, key) => {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw new FieldError(`${key}: expected a positive integer`);
  }
  return v;
};

const stringArray: Field<readonly string[]> = (o, key) => {
  const v = o[key];
  if (!Array.isArray(v) || !v.every((s): s is string => typeof s === 'string')) {
    throw new FieldError(`${key}: expected an array of strings`);
  }
  return [...v];
};

function oneOf<const T extends string>(o: Record<string, unknown>, key: string, values: readonly T[]): T {
  const v = o[key];
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    throw new FieldError(`${key}: expected one of ${values.join(', ')}`);
  }
  return v as T;
}

const rfc3339: Field<number> = (o, key) => {
  const v = o[key];
  const ms = typeof v === 'string' ? parseRfc3339(v) : null;
  if (ms === null) throw new FieldError(`${key}: expected an RFC 3339 date-time`);
  return ms;
};

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * RFC 3339 `date-time` to epoch ms, or null. Checked by hand because
 * `Date.parse` accepts other shapes and rolls "02-30" over into March.
 * A leap second (":60") is refused: the service has no reason to send one.
 */
export function parseRfc3339(text: string): number | null {
  const m = RFC3339.exec(text);
  if (m === null) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as
    [number, number, number, number, number, number];
  const fraction = m[7] === undefined ? 0 : Math.floor(Number(m[7]) * 1000);
  const sign = m[8] === '-' ? -1 : 1;
  const offH = Number(m[9] ?? 0);
  const offM = Number(m[10] ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59 || offH > 23 || offM > 59) return null;
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, fraction);
  return utc - sign * (offH * 60 + offM) * 60_000;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}
