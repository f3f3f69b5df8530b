import { isIP } from 'node:net';
import { loadConfig } from '../config/load.js';
import type { Agent } from '../pipeline/types.js';
import { qtypeName, qtypeNumber } from '../wire/qtypes.js';
import { configPath, UsageError, type Io } from './io.js';
import { OfflineDecider } from './offline.js';

/**
 * What would intentdns do with this query, and which rule says so? Decided by
 * the serving chain's own stages, with no network (see OfflineDecider).
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
  async run(values: { client?: string; name?: string; type?: string; config?: string; json?: boolean }, io: Io): Promise<number> {
    const { client, name } = values;
    if (!client || isIP(client) === 0) throw new UsageError('--client needs an IP address');
    if (!name) throw new UsageError('--name needs a DNS name');
    const qtype = qtypeNumber(values.type ?? 'A');
    if (qtype === undefined) throw new UsageError(`unknown query type "${values.type}"`);
    const qname = name.toLowerCase().replace(/\.$/, '');

    const config = loadConfig(configPath(values.config, io));
    const { agent, verdict, wouldBlock } = await new OfflineDecider(config).decide(client, qname, qtype);
    const result = {
      client, qname, qtype: qtypeName(qtype),
      ...(agent && { agent: agent.name, role: agent.role.name, mode: agent.mode, mode_from: modeFrom(agent) }),
      action: verdict.action, reason: verdict.reason,
      rule: verdict.rule ?? (agent ? undefined : 'no client matches the source address'),
      ...(verdict.tunneling !== undefined && { tunneling: verdict.tunneling }),
      ...(wouldBlock && { would_block: true }),
    };
    io.out(values.json ? JSON.stringify(result) : render(result));
    return 0;
  },
} as const;

/**
 * Which part of the config set the agent's mode: "client ci-runner-1" (its
 * entry, as `clients:` writes it), "role coding", or "global". With modes per
 * role and per client, "why was this forwarded?" needs this as much as the rule.
 */
function modeFrom(agent: Agent): string {
  switch (agent.modeFrom) {
    case 'client': return `client ${agent.entry}`;
    case 'role': return `role ${agent.role.name}`;
    case 'global': return 'global';
  }
}

function render(r: Record<string, unknown>): string {
  const who = r.agent ? `agent ${r.agent} (role ${r.role})` : 'no agent';
  const lines = [
    `${r.qname} ${r.qtype} from ${r.client}: ${who}`,
    // A stranger has no mode line: it is refused in every mode.
    ...(r.mode !== undefined ? [`  mode:     ${r.mode} (${r.mode_from})`] : []),
    `  decision: ${r.action}${r.would_block ? ' (audit mode: would block, forwarded anyway)' : ''}`,
    `  reason:   ${r.reason}`,
  ];
  if (r.rule !== undefined) lines.push(`  rule:     ${r.rule}`);
  if (r.tunneling !== undefined) lines.push(`  tunneling: ${r.tunneling} (logged, not enforced)`);
  return lines.join('\n');
}
