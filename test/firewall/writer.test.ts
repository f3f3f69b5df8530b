/**
 * The nft writer against real nftables, inside a network namespace this file
 * creates and always removes: the table and sets are made at start, elements
 * get the timeout asked for, a longer timeout is never shortened, a burst of
 * writes is one transaction, and each way nft can fail is named.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { FirewallStartError, NftError, nftRunner, SetWriter, startFirewall, type NftRunner } from '../../src/firewall/index.js';
import { createLogger } from '../../src/telemetry/log.js';
import { createNamespace, namespaceUnavailable, type Namespace } from '../helpers/netns.js';

const unavailable = await namespaceUnavailable();
if (unavailable) console.warn(`SKIPPED firewall writer tests: ${unavailable}`);

const TABLE = 'intentdns_test';

/** A runner that counts its transactions and keeps their scripts. */
function counting(run: NftRunner): NftRunner & { scripts: string[] } {
  const scripts: string[] = [];
  return Object.assign((script: string) => {
    scripts.push(script);
    return run(script);
  }, { scripts });
}

describe.skipIf(unavailable !== null)('SetWriter with real nft in a namespace', () => {
  let ns: Namespace;

  beforeAll(async () => {
    ns = await createNamespace();
  });
  afterAll(async () => {
    await ns?.remove();
  });

  it('creates the table and sets at start, idempotently, leaving existing elements alone', async () => {
    const writer = new SetWriter({ table: TABLE, run: nftRunner(ns.nftCommand) });
    await writer.createTable(['coding_v4', 'coding_v6']);
    await writer.write([{ set: 'coding_v4', family: 4, address: '10.123.0.1', expiresAt: Date.now() + 120_000 }]);
    // A restart: a new writer creates the same table again; the element stays.
    await new SetWriter({ table: TABLE, run: nftRunner(ns.nftCommand) }).createTable(['coding_v4', 'coding_v6']);
    const listing = await ns.nft(`list table inet ${TABLE}`);
    expect(listing).toContain('set coding_v4');
    expect(listing).toContain('type ipv4_addr');
    expect(listing).toContain('set coding_v6');
    expect(listing).toContain('type ipv6_addr');
    expect((await ns.elements(TABLE, 'coding_v4')).has('10.123.0.1')).toBe(true);
  });

  it('writes each element with the timeout asked for, v4 and v6', async () => {
    const writer = new SetWriter({ table: TABLE, run: nftRunner(ns.nftCommand) });
    await writer.createTable(['build_v4', 'build_v6']);
    const now = Date.now();
    await writer.write([
      { set: 'build_v4', family: 4, address: '10.123.1.1', expiresAt: now + 330_000 },
      { set: 'build_v6', family: 6, address: 'fd00:123::1', expiresAt: now + 90_000 },
    ]);
    expect((await ns.elements(TABLE, 'build_v4')).get('10.123.1.1')?.timeout).toBe(330);
    expect((await ns.elements(TABLE, 'build_v6')).get('fd00:123::1')?.timeout).toBe(90);
  });

  it('never shortens a timeout: a later, shorter answer leaves the longer one', async () => {
    const run = counting(nftRunner(ns.nftCommand));
    const writer = new SetWriter({ table: TABLE, run });
    await writer.createTable(['keep_v4']);
    const now = Date.now();
    await writer.write([{ set: 'keep_v4', family: 4, address: '10.123.2.1', expiresAt: now + 600_000 }]);
    await writer.write([{ set: 'keep_v4', family: 4, address: '10.123.2.1', expiresAt: now + 60_000 }]);
    const element = (await ns.elements(TABLE, 'keep_v4')).get('10.123.2.1');
    expect(element?.timeout).toBe(600);
    expect(element!.expires).toBeGreaterThan(590);
    // The shorter one was not even written.
    expect(run.scripts).toHaveLength(2);
    // A longer one is.
    await writer.write([{ set: 'keep_v4', family: 4, address: '10.123.2.1', expiresAt: now + 900_000 }]);
    expect((await ns.elements(TABLE, 'keep_v4')).get('10.123.2.1')?.timeout).toBe(900);
  });

  it('an address already in the set for as long as the answer is used is extended without the answer waiting for nft', async () => {
    // Before: with max_ttl 60 s every cache hit moves the expiry on, and each hit waited for its
    // rewrite; behind a burst of other agents' writes that wait ran past firewall.wait (SERVFAIL firewall_error).
    const real = nftRunner(ns.nftCommand);
    let gate: Promise<void> | null = null;
    const run: NftRunner = async (script) => {
      if (gate) await gate;
      return real(script);
    };
    const writer = new SetWriter({ table: TABLE, run });
    await writer.createTable(['cover_v4']);
    const now = Date.now();
    const first = { set: 'cover_v4', family: 4 as const, address: '10.123.30.1', expiresAt: now + 90_000 };
    await writer.write([first]);

    let open!: () => void;
    gate = new Promise<void>((r) => { open = r; });
    let covered = false;
    let uncovered = false;
    // Used until now + 90 s; the set already holds it until then.
    const extension = writer.write([{ ...first, expiresAt: now + 120_000, neededUntil: now + 90_000 }]).then(() => { covered = true; });
    // Not in the set yet: this answer waits for its write, as before.
    const fresh = writer.write([{ ...first, address: '10.123.30.2', expiresAt: now + 60_000, neededUntil: now + 30_000 }]).then(() => { uncovered = true; });
    await new Promise((r) => setTimeout(r, 50));
    expect([covered, uncovered]).toEqual([true, false]);
    open();
    await Promise.all([extension, fresh]);
    await writer.close();
    const elements = await ns.elements(TABLE, 'cover_v4');
    expect(elements.get('10.123.30.1')?.timeout).toBe(120);
    expect(elements.get('10.123.30.2')?.timeout).toBe(60);
  });

  it('a busy address is rewritten only when its expiry falls short of TTL + grace by more than half the grace', async () => {
    // Before: with max_ttl 60 s every answer moved the expiry on by the seconds since the last one,
    // so a busy address cost one nft transaction per second.
    const run = counting(nftRunner(ns.nftCommand));
    const writer = new SetWriter({ table: TABLE, run });
    await writer.createTable(['busy_v4']);
    const now = Date.now();
    // TTL 60 s, grace 30 s, answered at now, now + 10 s and now + 20 s (times as the stage computes them).
    const answer = (at: number) => ({ set: 'busy_v4', family: 4 as const, address: '10.123.31.1', expiresAt: now + at + 90_000, neededUntil: now + at + 60_000 });
    // Each with a new address beside it, so that the write resolves only once its batch is in.
    const fresh = (n: number) => ({ set: 'busy_v4', family: 4 as const, address: `10.123.31.${n}`, expiresAt: now + 90_000 });
    await writer.write([answer(0)]);
    await writer.write([answer(10_000), fresh(2)]);
    expect((await ns.elements(TABLE, 'busy_v4')).get('10.123.31.1')?.timeout).toBe(90);
    expect(run.scripts.at(-1)).not.toContain('10.123.31.1 ');
    await writer.write([answer(20_000), fresh(3)]);
    expect((await ns.elements(TABLE, 'busy_v4')).get('10.123.31.1')?.timeout).toBe(110);
  });

  it('a revoked grant: what only it opened gets grace from now; what an answer without a grant (or another grant) opened keeps its timeout', async () => {
    const writer = new SetWriter({ table: TABLE, run: nftRunner(ns.nftCommand) });
    await writer.createTable(['granted_v4']);
    const now = Date.now();
    await writer.write([
      { set: 'granted_v4', family: 4, address: '10.123.4.1', expiresAt: now + 300_000, grant: 'cmd_a' },
      { set: 'granted_v4', family: 4, address: '10.123.4.2', expiresAt: now + 300_000, grant: 'cmd_a' },
      { set: 'granted_v4', family: 4, address: '10.123.4.3', expiresAt: now + 300_000, grant: 'cmd_a' },
    ]);
    // .2 is also an allowlisted answer's, for 120 s; .3 also another live grant's, for 200 s.
    await writer.write([
      { set: 'granted_v4', family: 4, address: '10.123.4.2', expiresAt: now + 120_000 },
      { set: 'granted_v4', family: 4, address: '10.123.4.3', expiresAt: now + 200_000, grant: 'cmd_b' },
    ]);
    await writer.revoke('cmd_a', 5_000);
    const after = await ns.elements(TABLE, 'granted_v4');
    expect(after.get('10.123.4.1')?.timeout).toBe(5);
    expect(after.get('10.123.4.2')?.timeout).toBe(120);
    expect(after.get('10.123.4.3')?.timeout).toBe(200);
    // A revoke of an unknown grant, or a second one, writes nothing.
    await writer.revoke('cmd_a', 5_000);
    await writer.revoke('cmd_never', 5_000);
    // A later answer without a grant opens it again for its own TTL.
    await writer.write([{ set: 'granted_v4', family: 4, address: '10.123.4.1', expiresAt: Date.now() + 60_000 }]);
    expect((await ns.elements(TABLE, 'granted_v4')).get('10.123.4.1')?.timeout).toBe(60);
  });

  it('a revoke of an element that has expired meanwhile still succeeds (add before delete)', async () => {
    const writer = new SetWriter({ table: TABLE, run: nftRunner(ns.nftCommand) });
    await writer.createTable(['gone_v4']);
    await writer.write([{ set: 'gone_v4', family: 4, address: '10.123.5.1', expiresAt: Date.now() + 60_000, grant: 'cmd_c' }]);
    await ns.nft(`delete element inet ${TABLE} gone_v4 { 10.123.5.1 }`);
    await writer.revoke('cmd_c', 2_000);
    expect((await ns.elements(TABLE, 'gone_v4')).get('10.123.5.1')?.timeout).toBe(2);
  });

  it('a burst of writes in one turn of the event loop is one transaction', async () => {
    const run = counting(nftRunner(ns.nftCommand));
    const writer = new SetWriter({ table: TABLE, run });
    await writer.createTable(['burst_v4']);
    const now = Date.now();
    const writes = Array.from({ length: 200 }, (_, i) =>
      writer.write([{ set: 'burst_v4', family: 4, address: `10.123.${10 + (i >> 8)}.${i & 255}`, expiresAt: now + 60_000 }]));
    await Promise.all(writes);
    expect(run.scripts).toHaveLength(2);   // the start script, then one batch
    expect(run.scripts[1]!.split('\n').filter((l) => l.startsWith('add element'))).toHaveLength(200);
    expect((await ns.elements(TABLE, 'burst_v4')).size).toBe(200);
  });

  it('writes arriving while a batch runs go together into the next one', async () => {
    const run = counting(nftRunner(ns.nftCommand));
    const writer = new SetWriter({ table: TABLE, run });
    await writer.createTable(['next_v4']);
    const now = Date.now();
    const first = writer.write([{ set: 'next_v4', family: 4, address: '10.123.20.1', expiresAt: now + 60_000 }]);
    await new Promise((r) => setImmediate(r));   // the first batch is running now
    const later = Array.from({ length: 50 }, (_, i) =>
      writer.write([{ set: 'next_v4', family: 4, address: `10.123.21.${i}`, expiresAt: now + 60_000 }]));
    await Promise.all([first, ...later]);
    expect(run.scripts).toHaveLength(3);
    expect((await ns.elements(TABLE, 'next_v4')).size).toBe(51);
  });

  it('a batch nft rejects fails every write in it, with what nft said; the next batch runs again', async () => {
    const writer = new SetWriter({ table: TABLE, run: nftRunner(ns.nftCommand) });
    await writer.createTable(['gone_v4']);
    await ns.nft(`delete set inet ${TABLE} gone_v4`);
    const failed = await writer.write([{ set: 'gone_v4', family: 4, address: '10.123.3.1', expiresAt: Date.now() + 60_000 }]).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(NftError);
    expect((failed as NftError).failure).toBe('nft_failed');
    expect((failed as NftError).message).toMatch(/No such file or directory/);
    await writer.createTable(['gone_v4']);
    await writer.write([{ set: 'gone_v4', family: 4, address: '10.123.3.1', expiresAt: Date.now() + 60_000 }]);
    expect((await ns.elements(TABLE, 'gone_v4')).has('10.123.3.1')).toBe(true);
  });
});

describe('when nft cannot run', () => {
  const config = (onError: string) => parseConfig(
    `version: 1\nlisten: {dns: ["127.0.0.1:53"]}\nupstreams: {servers: ["127.0.0.1:5399"]}\n` +
    `clients: [{name: a, match: ["127.0.0.1"], role: coding}]\nroles: {coding: {}}\nfirewall: {table: t, on_error: ${onError}}\n`,
    'fw.yaml',
  );
  const missing = nftRunner(['/nonexistent/intentdns-test/nft']);

  it('a missing nft binary is named as such', async () => {
    const err = await missing('add table inet t\n').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NftError);
    expect((err as NftError).failure).toBe('nft_missing');
  });

  it('on_error closed: the start fails with a message naming the nft binary', async () => {
    const err = await startFirewall(config('closed'), new SetWriter({ table: 't', run: missing }), createLogger('silent')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FirewallStartError);
    expect((err as Error).message).toMatch(/cannot create table inet t: the nft binary is missing/);
  });

  it('on_error open: the start goes on, and says so', async () => {
    await expect(startFirewall(config('open'), new SetWriter({ table: 't', run: missing }), createLogger('silent'))).resolves.toBeUndefined();
  });
});
