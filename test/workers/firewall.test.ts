/**
 * Firewall sync with listen.workers: 2. The nft writer is the primary's; each
 * worker's firewall stage asks it over IPC and answers only once the
 * addresses are in the set (on_error closed: SERVFAIL when they cannot be).
 * Real nft, in a network namespace this file creates and always removes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { startAuthority, type Authority } from '../helpers/authority.js';
import { udpExchange } from '../helpers/client.js';
import { createNamespace, namespaceUnavailable, type Namespace } from '../helpers/netns.js';
import { decodePacket, queryBytes, type DecodedPacket } from '../helpers/packets.js';
import { spawnServe, type ServeProcess } from '../helpers/serve-process.js';

const unavailable = await namespaceUnavailable();
if (unavailable) console.warn(`SKIPPED workers firewall tests: ${unavailable}`);

const TABLE = 'intentdns_workers_e2e';

describe.skipIf(unavailable !== null)('firewall sync through the primary, with two workers', () => {
  let ns: Namespace;
  let authority: Authority;
  let proc: ServeProcess | null = null;
  let dir: string;

  beforeAll(async () => {
    ns = await createNamespace();
    authority = await startAuthority({
      zone: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`h${i}.github.com`, [{ type: 'A', data: `10.123.9.${i + 1}`, ttl: 300 }]])),
    });
    dir = mkdtempSync(join(tmpdir(), 'intentdns-workers-fw-'));
  });
  afterEach(async () => {
    await proc?.kill();
    proc = null;
  });
  afterAll(async () => {
    await authority?.stop();
    await ns?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every worker\'s answer waits for its addresses in the set; once nft fails, answers are SERVFAIL (on_error closed)', async () => {
    const previous = process.env.INTENTDNS_NFT_COMMAND;
    process.env.INTENTDNS_NFT_COMMAND = ns.nftCommand.join(' ');
    let port = 0;
    try {
      ({ proc } = await spawnServe((p) => {
        port = p.dns;
        const file = join(dir, 'fw.yaml');
        writeFileSync(file, [
          'version: 1',
          `listen: { dns: ["127.0.0.1:${p.dns}"], http: "127.0.0.1:${p.http}", workers: 2 }`,
          `upstreams: { servers: ["${authority.hostPort.text}"], timeout: 500ms }`,
          'answers: { block_private: false, max_ttl: 1h }',
          'clients: [{ name: agent-1, match: ["127.0.0.1/32"], role: coding }]',
          'roles: { coding: { allow: ["*.github.com"], unlisted: sinkhole } }',
          `firewall: { table: ${TABLE}, grace: 30s, wait: 2s, on_error: closed }`,
          'log: { level: info, queries: all }',
          '',
        ].join('\n'));
        return file;
      }, 20_000));
    } finally {
      if (previous === undefined) delete process.env.INTENTDNS_NFT_COMMAND;
      else process.env.INTENTDNS_NFT_COMMAND = previous;
    }
    const ask = async (name: string): Promise<DecodedPacket> => {
      const raw = await udpExchange({ host: '127.0.0.1', port }, queryBytes({ name, type: 'A', id: 1 }), { timeoutMs: 5000 });
      if (raw === null) throw new Error(`no answer for ${name}`);
      return decodePacket(raw);
    };

    const pids = new Map(proc!.lines.filter((l) => l.msg === 'worker listening').map((l) => [l.worker as number, l.pid as number]));
    // One name at a time, each from a fresh port, the other worker stopped so that this one answers
    // (a stopped worker does not read the shared socket): the address is in the set by the answer.
    for (const [worker, other] of [[0, 1], [1, 0]] as const) {
      process.kill(pids.get(other)!, 'SIGSTOP');
      try {
        for (let i = worker * 10; i < worker * 10 + 10; i++) {
          const reply = await ask(`h${i}.github.com`);
          expect(reply.rcode).toBe('NOERROR');
          const v4 = await ns.elements(TABLE, 'coding_v4');
          expect(v4.get(`10.123.9.${i + 1}`)?.timeout).toBe(330);
        }
      } finally {
        process.kill(pids.get(other)!, 'SIGCONT');
      }
    }
    const byWorker = (from: number, to: number): Set<unknown> => new Set(proc!.lines
      .filter((l) => l.msg === 'query' && /^h(\d+)\.github\.com$/.test(String(l.qname)) && Number(/\d+/.exec(String(l.qname))![0]) >= from && Number(/\d+/.exec(String(l.qname))![0]) < to)
      .map((l) => l.worker));
    await proc!.waitForLine((l) => l.msg === 'query' && l.qname === 'h19.github.com', 'the last decision line');
    expect(byWorker(0, 10)).toEqual(new Set([0]));
    expect(byWorker(10, 20)).toEqual(new Set([1]));

    // The table gone: the primary's next transaction fails, and the worker's answer is SERVFAIL.
    await ns.nft(`delete table inet ${TABLE}`);
    const failed = await ask('h35.github.com');
    expect(failed.rcode).toBe('SERVFAIL');
    const line = await proc!.waitForLine((l) => l.msg === 'query' && l.qname === 'h35.github.com', 'the decision line');
    expect(line).toMatchObject({ action: 'refuse', reason: 'firewall_error' });
  }, 60_000);
});
