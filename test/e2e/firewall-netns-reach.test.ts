/**
 * Firewall sync end to end, the cases of issue 9 item 4 that
 * firewall-netns.test.ts does not cover, on the same topology
 * (test/helpers/egress-topology.ts: agent, router and server namespaces this
 * file creates and always removes; the router runs a copy of
 * deploy/nftables/agent-egress.nft). Two agent addresses in the agent
 * namespace: 10.123.1.2 is in role coding (its DNS comes from 127.0.0.1 as
 * coder-1), 10.123.1.3 in role ci (127.0.0.2 as ci-1), whose unlisted names are held. Approvals come from the
 * fake approval service over the real event link.
 *
 * Each case prints its connect/deny timeline:
 *   - a grant's address closes when the grant is revoked (within grace), or when it expires;
 *   - the same for the grant a reviewer's `allow` on a held query creates;
 *   - a DoH resolver's address stays closed even after the role resolved its name;
 *   - two roles get different reach for the same name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromNow, startApprovalProxy, type ApprovalProxy } from '../helpers/approval-proxy.js';
import { startEgressTopology, type EgressTopology } from '../helpers/egress-topology.js';
import { namespaceUnavailable } from '../helpers/netns.js';
import type { DnsReply } from '../helpers/proxy.js';

const unavailable = await namespaceUnavailable();
if (unavailable) console.warn(`SKIPPED firewall namespace reach e2e test: ${unavailable}`);

const CODER = '10.123.1.2';
const CI = '10.123.1.3';
const SHARED = '10.123.2.2';
const DOH = '10.123.2.4';
const REVOKED = '10.123.2.5';
const EXPIRING = '10.123.2.6';
const HELD = '10.123.2.7';
const HELD_REVOKED = '10.123.2.8';
const PORT = 8080;
const HTTPS = 443;
const GRACE_MS = 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(unavailable !== null)('firewall sync across namespaces: grants, DoH resolvers, roles', () => {
  let topo: EgressTopology | null = null;
  let ap: ApprovalProxy | null = null;
  const timelines = new Map<string, string[]>();

  beforeAll(async () => {
    topo = await startEgressTopology({
      agents: [CODER, CI], servers: [SHARED, DOH, REVOKED, EXPIRING, HELD, HELD_REVOKED], ports: [PORT, HTTPS],
      ruleset: (text) => text
        .replace(/^define CODING_AGENTS4 = .*$/m, `define CODING_AGENTS4 = { ${CODER} }`)
        .replace(/^define CI_AGENTS4 = .*$/m, `define CI_AGENTS4 = { ${CI} }`)
        // The server plays a public DoH resolver too.
        .replace('1.1.1.1, 1.0.0.1,', `${DOH}, 1.1.1.1, 1.0.0.1,`),
    });
    ap = await startApprovalProxy({
      zone: {
        'app.coding.test': [{ type: 'A', data: SHARED, ttl: 300 }],
        'dns.resolver.test': [{ type: 'A', data: DOH, ttl: 300 }],
        'revoked.granted.test': [{ type: 'A', data: REVOKED, ttl: 300 }],
        'expiring.granted.test': [{ type: 'A', data: EXPIRING, ttl: 300 }],
        'held.review.test': [{ type: 'A', data: HELD, ttl: 300 }],
        'held-revoked.review.test': [{ type: 'A', data: HELD_REVOKED, ttl: 300 }],
      },
      clients: ['{ name: coder-1, match: ["127.0.0.1/32"], role: coding }', '{ name: ci-1, match: ["127.0.0.2/32"], role: ci }'],
      role: '{ allow: ["*.coding.test", "dns.resolver.test"], unlisted: sinkhole }',
      roles: { ci: '{ allow: ["*.ci.test"], deny: ["app.coding.test"], unlisted: hold }' },
      approval: { hold_timeout: '3s' },
      firewall: `{ table: intentdns, grace: ${GRACE_MS / 1000}s, wait: 2s, on_error: closed }`,
      server: { nftCommand: topo.nftCommand },
    });
  }, 30_000);

  afterAll(async () => {
    await ap?.close();
    await topo?.remove();
    for (const [name, lines] of timelines) console.log(`firewall e2e timeline, ${name}:\n  ${lines.join('\n  ')}`);
  });

  const timeline = (name: string) => {
    const lines: string[] = [];
    timelines.set(name, lines);
    return {
      note: (what: string) => lines.push(`${new Date().toISOString()} ${what}`),
      step: async (what: string, from: string, to: string, port = PORT): Promise<string> => {
        const result = await topo!.connect(from, to, port);
        lines.push(`${new Date().toISOString()} ${what}: ${from} → ${to}:${port} → ${result}`);
        return result;
      },
    };
  };
  const elements = async (set: string): Promise<string> =>
    /elements = \{[^}]*\}/.exec(await topo!.nft('list', 'set', 'inet', 'intentdns', set))?.[0] ?? '(empty)';
  const approve = async (id: string, more: Record<string, unknown>) => {
    ap!.service.send('command.approved', { id, agent: 'coder-1', approved_by: 'alice', approved_at: new Date().toISOString(), risk_score: 0.1, ...more });
    await ap!.proxy.waitForLine((l) => l.command_id === id && typeof l.msg === 'string' && /grant added/.test(l.msg), `approval ${id} applied`);
  };

  it('a grant\'s address closes when the grant is revoked, within grace', async () => {
    const t = timeline('grant revoked');
    expect((await ap!.proxy.query('revoked.granted.test', 'A')).log).toMatchObject({ action: 'sinkhole', reason: 'unlisted' });
    expect(await t.step('before the grant (name sinkholed)', CODER, REVOKED)).toBe('timeout');

    await approve('cmd_fw_revoke', { command: 'curl https://revoked.granted.test/', domains: ['revoked.granted.test'] });
    expect((await ap!.proxy.query('revoked.granted.test', 'A')).log).toMatchObject({ action: 'forward', reason: 'grant', grant: { id: 'cmd_fw_revoke' } });
    t.note(`coding_v4 after the granted answer: ${await elements('coding_v4')}`);
    expect(await t.step('after the granted answer (TTL 60 s + grace 1 s)', CODER, REVOKED)).toBe('open');

    ap!.service.send('command.revoked', { id: 'cmd_fw_revoke' });
    await ap!.proxy.waitForLine((l) => l.msg === 'command revoked' && l.command_id === 'cmd_fw_revoke', 'revocation applied');
    const revokedAt = Date.now();
    t.note('command.revoked applied');
    // The shortening batch is its own nft run: give it a moment, then read the set.
    await sleep(200);
    t.note(`coding_v4 after the revoke: ${await elements('coding_v4')}`);
    // nft timeouts are whole seconds (at least 1 s): closed by grace, rounded up, plus a margin.
    await sleep(Math.max(0, revokedAt + Math.ceil(GRACE_MS / 1000) * 1000 + 1000 - Date.now()));
    expect(await t.step(`revoke + grace (${GRACE_MS} ms) + 1 s, TTL still 55+ s`, CODER, REVOKED)).toBe('timeout');
    expect((await ap!.proxy.query('revoked.granted.test', 'A')).log).toMatchObject({ action: 'sinkhole', reason: 'unlisted' });
    expect(await t.step('after the name is sinkholed again', CODER, REVOKED)).toBe('timeout');
  }, 30_000);

  it('a grant\'s address closes when the grant expires, whatever the TTL', async () => {
    const t = timeline('grant expired');
    const grantMs = 2500;
    const expiresAt = Date.now() + grantMs;
    await approve('cmd_fw_expire', { command: 'curl https://expiring.granted.test/', domains: ['expiring.granted.test'], expires_at: fromNow(grantMs) });
    const reply = await ap!.proxy.query('expiring.granted.test', 'A');
    expect(reply.log).toMatchObject({ action: 'forward', reason: 'grant', grant: { id: 'cmd_fw_expire' } });
    t.note(`coding_v4 after the granted answer (record TTL 300 s, grant ends in ${grantMs} ms): ${await elements('coding_v4')}`);
    expect(await t.step('while the grant lives', CODER, EXPIRING)).toBe('open');
    await sleep(Math.max(0, expiresAt + GRACE_MS + 1000 - Date.now()));
    expect(await t.step('grant end + grace + 1 s', CODER, EXPIRING)).toBe('timeout');
    expect((await ap!.proxy.query('expiring.granted.test', 'A')).log).toMatchObject({ action: 'sinkhole', reason: 'unlisted' });
  }, 30_000);

  it('a held query a reviewer allowed opens its address for the grant\'s life only, and a revoke of that grant closes it', async () => {
    const t = timeline('grants from approved holds');
    const ci = { from: '127.0.0.2' };
    const allow = async (qname: string, ttlSeconds: number): Promise<{ holdId: string; reply: Promise<DnsReply> }> => {
      const reply = ap!.proxy.query(qname, 'A', ci);
      const hold = await ap!.holdFor(qname);
      ap!.service.send('hold.decided', { hold_id: hold.hold_id, decision: 'allow', scope: 'name', decided_by: 'bob', ttl_seconds: ttlSeconds });
      return { holdId: hold.hold_id, reply };
    };
    expect(await t.step('before the hold', CI, HELD)).toBe('timeout');

    const grantMs = 2000;
    const expiresAt = Date.now() + grantMs;
    const expiring = await allow('held.review.test', grantMs / 1000);
    expect((await expiring.reply).log).toMatchObject({ agent: 'ci-1', action: 'hold', reason: 'hold_approved', grant: { id: expiring.holdId } });
    t.note(`ci_v4 after the approved answer (record TTL 300 s, grant ${grantMs} ms): ${await elements('ci_v4')}`);
    expect(await t.step('after the approved answer', CI, HELD)).toBe('open');
    expect(await t.step('the coding agent, same address', CODER, HELD)).toBe('timeout');

    const revoked = await allow('held-revoked.review.test', 600);
    expect((await revoked.reply).log).toMatchObject({ reason: 'hold_approved', grant: { id: revoked.holdId } });
    expect(await t.step('after the second approved answer (grant 600 s)', CI, HELD_REVOKED)).toBe('open');
    ap!.service.send('command.revoked', { id: revoked.holdId });
    await ap!.proxy.waitForLine((l) => l.msg === 'command revoked' && l.command_id === revoked.holdId, 'revocation applied');
    const revokedAt = Date.now();
    t.note(`command.revoked ${revoked.holdId} applied`);

    await sleep(Math.max(0, Math.max(expiresAt, revokedAt) + GRACE_MS + 1000 - Date.now()));
    t.note(`ci_v4: ${await elements('ci_v4')}`);
    expect(await t.step('grant end + grace + 1 s', CI, HELD)).toBe('timeout');
    expect(await t.step('revoke + grace + 1 s', CI, HELD_REVOKED)).toBe('timeout');
  }, 30_000);

  it('a DoH resolver\'s address stays closed even after the role resolved its name', async () => {
    const t = timeline('DoH resolver');
    expect((await ap!.proxy.query('dns.resolver.test', 'A')).log).toMatchObject({ action: 'forward', reason: 'allowlist' });
    const set = await elements('coding_v4');
    t.note(`coding_v4 after resolving dns.resolver.test: ${set}`);
    expect(set).toContain(DOH);
    expect(await t.step('HTTPS to the resolved resolver', CODER, DOH, HTTPS)).toBe('timeout');
    expect(await t.step('any other port of it', CODER, DOH, PORT)).toBe('timeout');
    const chain = await topo!.nft('list', 'chain', 'inet', 'intentdns', 'agent_egress');
    const dropped = /ip daddr @doh_resolvers4 counter packets (\d+) bytes \d+ drop/.exec(chain);
    t.note(`DoH resolver drop counter: ${dropped?.[1]} packets`);
    expect(Number(dropped?.[1])).toBeGreaterThan(0);
  }, 30_000);

  it('two roles get different reach: the name only coding allows opens it for coding only', async () => {
    const t = timeline('two roles');
    expect(await t.step('coding agent, before any answer', CODER, SHARED)).toBe('timeout');
    expect((await ap!.proxy.query('app.coding.test', 'A', { from: '127.0.0.2' })).log).toMatchObject({ agent: 'ci-1', action: 'sinkhole', reason: 'denylist' });
    expect(await t.step('ci agent, after ci asked for app.coding.test (denied)', CI, SHARED)).toBe('timeout');
    expect((await ap!.proxy.query('app.coding.test', 'A')).log).toMatchObject({ agent: 'coder-1', action: 'forward', reason: 'allowlist' });
    t.note(`coding_v4: ${await elements('coding_v4')}; ci_v4: ${await elements('ci_v4')}`);
    expect(await t.step('coding agent, after coding resolved app.coding.test', CODER, SHARED)).toBe('open');
    expect(await t.step('ci agent, same address', CI, SHARED)).toBe('timeout');
    expect(await elements('ci_v4')).not.toContain(SHARED);
  }, 30_000);
});
