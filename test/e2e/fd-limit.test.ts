/**
 * The open-file limit, end to end: agents that pipeline thousands of misses
 * to a slow upstream must not use up the process's file descriptors. The
 * proxy runs as its own process under `prlimit --nofile=1500`; eight agents
 * each try to keep 8 × 64 queries in flight (4096 upstream sockets wanted),
 * and meanwhile another agent's TCP query, a scrape of /metrics and the log
 * must show no EMFILE: the upstream sockets stop at their bound, with room
 * left below the limit for connections and files.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startAuthority, type Authority } from '../helpers/authority.js';
import { TcpConnection, framed } from '../helpers/client.js';
import { decodePacket, queryBytes } from '../helpers/packets.js';
import { metricValue, startProxyProcess, type ProxyProcess } from '../helpers/proxy-process.js';
import { delay } from '../helpers/wait-for.js';

const AGENTS = Array.from({ length: 8 }, (_, i) => `127.0.0.${11 + i}`);
const GOOD = '127.0.0.10';

let authority: Authority | null = null;
let proxy: ProxyProcess | null = null;
afterEach(async () => {
  await proxy?.stop();
  proxy = null;
  await authority?.stop();
  authority = null;
});

describe('RLIMIT_NOFILE', () => {
  it('keeps upstream sockets below the fd limit: no EMFILE, other clients and /metrics still served', async () => {
    authority = await startAuthority({ zone: { 'good.example.org': [{ type: 'A', data: '198.51.100.1' }] } });
    proxy = await startProxyProcess({
      nofile: 1500,
      upstreams: [authority.hostPort.text],
      yaml: `
        version: 1
        listen: { dns: ["127.0.0.1:DNS_PORT"], http: "127.0.0.1:HTTP_PORT" }
        upstreams: { servers: UPSTREAMS, timeout: 3s }
        clients: [{ name: "agent-{ip}", match: ["127.0.0.0/24"], role: coding }]
        roles: { coding: { allow: ["*.example.org"] } }
      `,
    });
    const p = proxy;
    // Warm the cache for the good agent, then make every miss take 2 s.
    const warm = await TcpConnection.open(p.target, GOOD);
    await warm.write(framed(queryBytes({ name: 'good.example.org', id: 1 })));
    await warm.waitReplies(1);
    await warm.close();
    authority.behave({ mode: 'delay', delayMs: 2000 });

    const conns: TcpConnection[] = [];
    try {
      let id = 0;
      for (const from of AGENTS) {
        for (let c = 0; c < 8; c++) {
          const conn = await TcpConnection.open(p.target, from);
          conns.push(conn);
          await conn.write(Buffer.concat(Array.from({ length: 64 }, () => framed(queryBytes({ name: `m${++id}.example.org`, id: id & 0xffff })))));
        }
      }
      await delay(700);
      const good = await TcpConnection.open(p.target, GOOD);
      conns.push(good);
      await good.write(framed(queryBytes({ name: 'good.example.org', id: 2 })));
      const [reply] = await good.waitReplies(1, 2000);
      expect(decodePacket(reply!).rcode).toBe('NOERROR');
      const metrics = await p.metrics();
      const open = metricValue(metrics, 'intentdns_upstream_sockets');
      const bound = metricValue(metrics, 'intentdns_upstream_sockets_limit');
      console.log(`fd limit 1500: upstream sockets ${open} open, bound ${bound}`);
      expect(bound).toBeGreaterThan(0);
      expect(open).toBeLessThanOrEqual(bound);
    } finally {
      await Promise.all(conns.map((c) => c.close()));
    }
    expect(p.lines('EMFILE')).toEqual([]);
  }, 15_000);
});
