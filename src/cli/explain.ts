import { isIP } from 'node:net';
import { loadConfig } from '../config/load.js';
import { NO_GRANTS, decide } from '../decide/policy.js';
import { compileRoles } from '../decide/role.js';
import { ClientTable } from '../identify/clients.js';
import { qtypeName, qtypeNumber } from '../wire/qtypes.js';
import { configPath, UsageError, type Io } from './io.js';

/**
 * Runs the same identify and decide code as the server, with no network:
 * what would intentdns do with this query, and which rule says so?
 * Grants and quarantines live only in a running server, so none apply here.
 */
export const explain = {
  name: 'explain',
  summary: 'print the decision for one query and the rule that made it (no network)',
  usage: 'intentdns explain --client IP --name NAME [--type A] [--config FILE] [--json]',
  options: {
    client: { type: 'string' },
    name: { type: 'string' },
    type: { type: 'string', default: 'A' },
    config: { type: 'string' },
    json: { type: 'boolean' },
  },
  run(values: { client?: string; name?: string; type?: string; config?: string; json?: boolean }, io: Io): number {
    const { client, name } = values;
    if (!client || isIP(client) === 0) throw new UsageError('--client needs an IP address');
    if (!name) throw new UsageError('--name needs a DNS name');
    const qtype = qtypeNumber(values.type ?? 'A');
    if (qtype === undefined) throw new UsageError(`unknown query type "${values.type}"`);
    const qname = name.toLowerCase().replace(/\.$/, '');

    const config = loadConfig(configPath(values.config, io));
    const agent = new ClientTable(config.clients, compileRoles(config.roles)).lookup(client);
    const base = { client, qname, qtype: qtypeName(qtype) };
    if (!agent) {
      const result = { ...base, action: 'refuse', reason: 'unknown_client', rule: 'no client matches the source address' };
      io.out(values.json ? JSON.stringify(result) : render(result));
      return 0;
    }
    const decision = decide(agent, qname, qtype, NO_GRANTS, { has: () => false }, config.mode, Date.now());
    const result = {
      ...base, agent: agent.name, role: agent.role.name,
      action: decision.action, reason: decision.reason,
      ...(decision.rule !== undefined && { rule: decision.rule }),
      ...(decision.wouldBlock && { would_block: true }),
    };
    io.out(values.json ? JSON.stringify(result) : render(result));
    return 0;
  },
} as const;

function render(r: Record<string, unknown>): string {
  const who = r.agent ? `agent ${r.agent} (role ${r.role})` : 'no agent';
  const lines = [
    `${r.qname} ${r.qtype} from ${r.client}: ${who}`,
    `  decision: ${r.action}${r.would_block ? ' (audit mode: would block, forwarded anyway)' : ''}`,
    `  reason:   ${r.reason}`,
  ];
  if (r.rule !== undefined) lines.push(`  rule:     ${r.rule}`);
  return lines.join('\n');
}
