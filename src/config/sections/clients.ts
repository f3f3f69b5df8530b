import { parseCidr } from '../address.js';
import { fail, ok, type Parsed, type Section } from '../reader.js';
import type { Cidr, ClientRule, RoleConfig } from '../types.js';
import { readModeOverride } from './mode.js';

const CLIENT_KEYS = ['name', 'match', 'role', 'mode'] as const;

/**
 * `clients`: source ranges → agent name and role, first match wins. An empty
 * list is an error: it would refuse every query, which is never what was meant.
 */
export function readClients(root: Section, roles: ReadonlyMap<string, RoleConfig>): ClientRule[] {
  const r = root.reader;
  const items = root.require('clients') ? root.list('clients') : undefined;
  if (items?.length === 0) r.report(root.node('clients'), 'clients: needs at least one client (unmatched sources are refused)');
  const clients: ClientRule[] = [];
  items?.forEach((item, i) => {
    const sec = r.section(item, `clients[${i}]`, CLIENT_KEYS);
    const name = sec.require('name') ? sec.parse('name', '', parseClientName) : '';
    const match = sec.require('match') ? readMatch(sec) : [];
    const role = sec.require('role') ? sec.parse('role', '', (t) => (t.trim() ? ok(t) : fail('must not be empty'))) : '';
    if (role && !roles.has(role)) {
      const known = [...roles.keys()].join(', ') || 'none';
      r.report(sec.node('role'), `clients[${i}].role: undefined role "${role}" (defined: ${known})`);
    }
    clients.push({ name, match, role, mode: readModeOverride(sec) });
  });
  return clients;
}

function readMatch(sec: Section): Cidr[] {
  const items = sec.list('match');
  if (items?.length === 0) sec.reader.report(sec.node('match'), `${sec.pathOf('match')}: needs at least one address range`);
  return (items ?? []).flatMap((item, i) => sec.reader.parse(item, `${sec.pathOf('match')}[${i}]`, parseCidr) ?? []);
}

/** "{ip}" is the one placeholder; anything else in braces is a typo we would otherwise log verbatim. */
export function parseClientName(text: string): Parsed<string> {
  if (text.trim() === '') return fail('must not be empty');
  const other = text.match(/\{[^{}]*\}/g)?.find((p) => p !== '{ip}');
  return other ? fail(`unknown placeholder "${other}" (only {ip} is supported)`) : ok(text);
}
