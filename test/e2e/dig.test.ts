/**
 * The proxy as an operator first meets it: queried with dig (bind9-dnsutils),
 * an implementation we did not write, over UDP, TCP and IPv6. dig runs as a
 * child process, asynchronously: the proxy serves from this process's event loop.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { startProxy, type Proxy } from '../helpers/proxy.js';

const DIG = '/usr/bin/dig';

/** Runs dig against the proxy and returns its output (dig exits 0 for any rcode it received). */
function dig(proxy: Proxy, args: readonly string[], family: 4 | 6 = 4): Promise<string> {
  const { host, port } = proxy.target(family);
  const argv = [...(family === 6 ? ['-6'] : []), `@${host}`, '-p', String(port), ...args, '+tries=1', '+time=2'];
  return new Promise((resolve, reject) => {
    execFile(DIG, argv, { timeout: 10_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`dig ${argv.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

/** The lines of one dig output section (";; ANSWER SECTION:" up to the blank line). */
function section(output: string, name: string): string[] {
  const start = output.indexOf(`;; ${name} SECTION:\n`);
  if (start < 0) return [];
  const body = output.slice(start).split('\n').slice(1);
  const end = body.indexOf('');
  return body.slice(0, end < 0 ? undefined : end);
}

describe('dig against the running proxy', () => {
  let proxy: Proxy;

  beforeAll(async () => {
    try {
      accessSync(DIG, constants.X_OK);
    } catch {
      throw new Error(`${DIG} not found: these tests need dig, from the Debian package bind9-dnsutils (apt-get install bind9-dnsutils)`);
    }
    proxy = await startProxy({
      zone: { 'api.github.com': [{ type: 'A', data: '140.82.121.6', ttl: 300 }] },
      listen: ['127.0.0.1', '::1'],
      yaml: `
        version: 1
        upstreams: { servers: UPSTREAMS, timeout: 500ms }
        sinkhole: { response: nxdomain, ttl: 5s }
        clients: [{ name: agent, match: ["127.0.0.1/32", "::1/128"], role: coding }]
        roles:
          coding: { allow: ["*.github.com"], deny: [gist.github.com] }
      `,
    });
  });
  afterAll(() => proxy?.close());

  it('shows an allowed name with NOERROR and the authority\'s address', async () => {
    const out = await dig(proxy, ['api.github.com', 'A']);
    expect(out).toContain('status: NOERROR');
    expect(section(out, 'ANSWER')).toEqual([expect.stringMatching(/^api\.github\.com\.\s+60\s+IN\s+A\s+140\.82\.121\.6$/)]);
    expect(out).toContain('(UDP)');
  });

  it('shows a denied name over TCP with NXDOMAIN and EDE 15 carrying our text', async () => {
    const out = await dig(proxy, ['gist.github.com', 'A', '+tcp']);
    expect(out).toContain('status: NXDOMAIN');
    expect(out).toContain('; EDE: 15 (Blocked): (intentdns: denylist (role coding))');
    expect(section(out, 'ANSWER')).toEqual([]);
    expect(section(out, 'AUTHORITY')).toEqual([expect.stringMatching(/\s5\s+IN\s+SOA\s+intentdns\.invalid\./)]);
    expect(out).toContain('(TCP)');
  });

  it('works over IPv6', async () => {
    const out = await dig(proxy, ['api.github.com', 'A'], 6);
    expect(out).toContain('status: NOERROR');
    expect(out).toContain('SERVER: ::1#');
    expect(section(out, 'ANSWER').join('\n')).toContain('140.82.121.6');
  });

  it('shows an unknown client REFUSED with EDE 18', async () => {
    const out = await dig(proxy, ['-b', '127.0.0.2', 'api.github.com', 'A']);
    expect(out).toContain('status: REFUSED');
    expect(out).toContain('; EDE: 18 (Prohibited): (intentdns: unknown client)');
    expect(section(out, 'ANSWER')).toEqual([]);
  });
});
