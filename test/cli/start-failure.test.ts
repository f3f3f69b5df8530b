/**
 * `intentdns serve` that cannot start: one fatal JSON line with err, msg and
 * a hint saying what to change, the same on stderr, and exit 1. The real
 * process, with a port taken by this test on 127.0.0.1.
 */
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';

import { startFailure } from '../../src/cli/start-failure.js';
import { FirewallStartError } from '../../src/firewall/index.js';
import { HttpListenError } from '../../src/http/index.js';
import { ListenError } from '../../src/receive/index.js';
import { scratch, type Scratch } from '../helpers/cli.js';
import { freePorts, spawnServeOnce, type ServeProcess } from '../helpers/serve-process.js';

const errno = (code: string) => Object.assign(new Error(`listen ${code}`), { code });

describe('startFailure', () => {
  it('names the fix for a port not allowed, taken, or not on this host', () => {
    expect(startFailure(new ListenError('0.0.0.0:53', 'udp', errno('EACCES')))).toEqual({
      err: 'cannot listen on 0.0.0.0:53 (udp): EACCES', code: 'EACCES', hint: '0.0.0.0:53: needs CAP_NET_BIND_SERVICE or a port above 1023 (listen.dns)',
    });
    expect(startFailure(new HttpListenError('127.0.0.1:9153', errno('EADDRINUSE'))).hint).toBe('another process listens on 127.0.0.1:9153: stop it or change listen.http');
    expect(startFailure(new ListenError('192.0.2.1:53', 'tcp', errno('EADDRNOTAVAIL'))).hint).toContain('no interface has the address of 192.0.2.1:53');
    expect(startFailure(new FirewallStartError('firewall: cannot create table inet t')).hint).toContain('CAP_NET_ADMIN');
  });

  it('gives no hint it cannot stand behind', () => {
    expect(startFailure(new Error('something else'))).toEqual({ err: 'something else' });
    expect(startFailure(new ListenError('127.0.0.1:53', 'udp', errno('EMFILE')))).toEqual({ err: 'cannot listen on 127.0.0.1:53 (udp): EMFILE', code: 'EMFILE' });
  });
});

describe('intentdns serve on a port already taken', () => {
  let files: Scratch | null = null;
  let taken: Server | null = null;
  let proc: ServeProcess | null = null;
  afterEach(async () => {
    await proc?.kill();
    await new Promise<void>((resolve) => (taken ? taken.close(() => resolve()) : resolve()));
    files?.remove();
    proc = null;
    taken = null;
    files = null;
  });

  /** Holds `port` on 127.0.0.1 over TCP, as another process would. */
  async function take(port: number): Promise<void> {
    taken = createServer();
    await new Promise<void>((resolve, reject) => taken!.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
  }

  for (const which of ['dns', 'http'] as const) {
    it(`listen.${which} taken: one fatal JSON line with err, msg and hint, and exit 1`, async () => {
      const ports = await freePorts();
      await take(ports[which]);
      files = scratch();
      const file = files.write('serve.yaml', `
        version: 1
        listen: { dns: ["127.0.0.1:${ports.dns}"], http: "127.0.0.1:${ports.http}" }
        upstreams: { servers: ["127.0.0.1:9"] }
        clients: [{ name: a, match: ["127.0.0.1"], role: coding }]
        roles: { coding: {} }
      `);
      proc = await spawnServeOnce(file);
      expect(await proc.exited).toEqual({ code: 1, signal: null });

      const address = `127.0.0.1:${ports[which]}`;
      const failed = proc.lines.filter((l) => typeof l.level === 'number' && l.level >= 50);
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({
        level: 60, msg: 'not starting', code: 'EADDRINUSE',
        err: `cannot listen on ${address} (${which === 'dns' ? 'tcp' : 'http'}): EADDRINUSE`,
        hint: `another process listens on ${address}: stop it or change listen.${which}`,
      });
      expect(proc.lines.some((l) => l.msg === 'intentdns listening')).toBe(false);
      expect(proc.stderr()).toContain(`intentdns serve: cannot listen on ${address}`);
      expect(proc.stderr()).toContain('another process listens on');
    }, 30_000);
  }
});
