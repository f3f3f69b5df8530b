/**
 * deploy/nftables/agent-egress.nft shares `table inet intentdns` with the
 * writer: loaded in a namespace this file creates and removes, it must accept
 * the sets intentdns creates (same type and flags), and neither a reload of
 * the ruleset nor a restart of intentdns may lose an address already written.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nftRunner, setPair, SetWriter } from '../../src/firewall/index.js';
import { createNamespace, namespaceUnavailable, type Namespace } from '../helpers/netns.js';

const RULESET = fileURLToPath(new URL('../../deploy/nftables/agent-egress.nft', import.meta.url));
const unavailable = await namespaceUnavailable();
if (unavailable) console.warn(`SKIPPED agent-egress.nft tests: ${unavailable}`);

describe.skipIf(unavailable !== null)('deploy/nftables/agent-egress.nft in a namespace', () => {
  let ns: Namespace;
  beforeAll(async () => {
    ns = await createNamespace();
  });
  afterAll(async () => {
    await ns?.remove();
  });

  it('loads next to the writer\'s sets, and a reload of either keeps the addresses written', async () => {
    await ns.exec(['nft', '-f', RULESET]);
    const writer = new SetWriter({ table: 'intentdns', run: nftRunner(ns.nftCommand) });
    const sets = ['coding', 'ci'].flatMap((r) => [setPair(r).v4, setPair(r).v6]);
    await writer.createTable(sets);
    await writer.write([
      { set: 'coding_v4', family: 4, address: '10.123.9.1', expiresAt: Date.now() + 300_000 },
      { set: 'ci_v6', family: 6, address: 'fd00:123::9', expiresAt: Date.now() + 300_000 },
    ]);
    await ns.exec(['nft', '-f', RULESET]);
    await new SetWriter({ table: 'intentdns', run: nftRunner(ns.nftCommand) }).createTable(sets);
    expect((await ns.elements('intentdns', 'coding_v4')).has('10.123.9.1')).toBe(true);
    expect((await ns.elements('intentdns', 'ci_v6')).has('fd00:123::9')).toBe(true);
    // A reload replaces the rules, never duplicates them.
    const egress = await ns.nft('list chain inet intentdns agent_egress');
    expect(egress.match(/ip daddr @coding_v4 accept/g)).toHaveLength(1);
    expect(egress).toMatch(/counter packets \d+ bytes \d+ drop comment "egress not resolved through intentdns"/);
  });

  it('names a role set for every role it admits, as names.ts spells them', () => {
    const text = readFileSync(RULESET, 'utf8');
    for (const match of text.matchAll(/daddr @(\w+) accept/g)) expect(match[1]).toMatch(/^[a-z0-9_]+_v[46]$/);
  });
});
