import type { Agent, Answer, Query } from '../pipeline/types.js';
import { rcodeName } from '../wire/constants.js';
import { qtypeName } from '../wire/qtypes.js';

const json = JSON.stringify;

/**
 * The decision line's fields as JSON text, without the braces:
 * `JSON.stringify(decisionLine(query, answer, seconds))` between its braces,
 * byte for byte (test/observe/decision-json.test.ts holds the two together),
 * made without building the object and walking it per line. At
 * `log.queries: all` that walk was the largest cost of a cached answer after
 * the send.
 *
 * Only what can need escaping goes through JSON.stringify: the query name
 * (any printable ASCII), rules, commands and errors. What cannot is written
 * as it is: the client and the answers' addresses are IP literals, transport,
 * action, reason, type and rcode names come from closed sets. The agent's
 * part is made once per agent.
 */
export class DecisionJson {
  /** `,"agent":…,"role":…`, the same for every line of an agent (identify/ keeps one Agent per address). */
  readonly #agents = new WeakMap<Agent, string>();

  fields(query: Query, answer: Answer, seconds: number, limited?: number): string {
    return decisionFields(query, answer, seconds, query.agent === undefined ? '' : this.#agent(query.agent), limited);
  }

  #agent(agent: Agent): string {
    let part = this.#agents.get(agent);
    if (part === undefined) {
      part = `,"agent":${json(agent.name)},"role":${json(agent.role.name)}`;
      this.#agents.set(agent, part);
    }
    return part;
  }
}

function decisionFields(query: Query, answer: Answer, seconds: number, agent: string, limited: number | undefined): string {
  const { reply, verdict, fetched } = answer;
  let s = `"client":"${query.client}","transport":"${query.transport}"${agent}`;
  s += `,"qname":${json(query.qname)},"qtype":"${qtypeName(query.qtype)}","action":"${answer.action}","reason":"${answer.reason}"`;
  s += answer.reply.kind === 'upstream' ? ',"blocked":false' : ',"blocked":true';
  if (answer.wouldBlock) s += ',"would_block":true';
  if (verdict?.rule !== undefined) s += `,"rule":${json(verdict.rule)}`;
  s += `,"rcode":"${rcodeName(reply.kind === 'synthetic' ? reply.rcode : reply.view.rcode)}","duration_ms":${Math.round(seconds * 1e6) / 1e3}`;
  const grant = verdict?.grant;
  if (grant) s += `,"grant":{"id":${json(grant.id)},"command":${json(grant.command)},"approved_by":${json(grant.approvedBy)}}`;
  if (verdict?.holdId !== undefined) s += `,"hold_id":${json(verdict.holdId)}`;
  if (verdict?.tunneling !== undefined) s += `,"tunneling":${json(verdict.tunneling)}`;
  if (reply.kind === 'upstream') {
    s += `,"answers":${addresses(reply.view.addresses)}`;
    if (reply.view.cnames.length > 0) s += `,"cnames":${json(reply.view.cnames)}`;
  }
  if (fetched?.kind === 'answer') s += `,"upstream":${json(fetched.source)}`;
  const error = answer.error ?? (fetched?.kind === 'failed' ? fetched.error : undefined);
  if (error !== undefined) s += `,"error":${json(error)}`;
  if (limited !== undefined) s += `,"limited":${limited}`;
  return s;
}

function addresses(list: readonly string[]): string {
  return list.length === 0 ? '[]' : `["${list.join('","')}"]`;
}
