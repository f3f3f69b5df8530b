/**
 * `intentdns serve` whose stdout reader stops reading (a paused pipe, a stuck
 * log shipper): answering goes on at full speed, the log buffer stays bounded
 * (lines are dropped and counted in intentdns_log_lines_dropped_total), and
 * once the reader reads again a warn line says how many lines were lost.
 * Before: the lines piled up in memory without bound (87 → 274 MB in 40 s).
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { udpExchange } from '../helpers/client.js';
import { decodePacket, queryBytes } from '../helpers/packets.js';
import { spawnServe } from '../helpers/serve-process.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Sends `count` queries over one socket, at most `window` unanswered at once; bounded by `deadlineMs`. Returns the answers. */
async function flood(port: number, count: number, window: number, deadlineMs: number): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  let sent = 0;
  let answered = 0;
  const deadline = Date.now() + deadlineMs;
  const send = (): void => {
    if (sent >= count || Date.now() > deadline) return;
    socket.send(queryBytes({ name: `n${sent}.blocked.example`, id: sent & 0xffff }), port, '127.0.0.1');
    sent++;
  };
  await new Promise<void>((resolve) => {
    socket.on('message', () => {
      answered++;
      if (sent < count && Date.now() <= deadline) send();
      else if (answered >= sent || Date.now() > deadline) resolve();
    });
    for (let i = 0; i < window; i++) send();
    // Lost packets must not stall the loop past the deadline.
    setTimeout(resolve, deadlineMs + 500).unref();
  });
  socket.close();
  return answered;
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

async function droppedMetric(httpPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  return Number(/^intentdns_log_lines_dropped_total (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

describe('intentdns serve with a stalled log reader', () => {
  it('keeps answering, keeps the log buffer bounded and counts what it dropped; says so when the reader is back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'intentdns-log-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const { proc, ports } = await spawnServe((p) => {
      const file = join(dir, 'intentdns.yaml');
      writeFileSync(file, [
        'version: 1',
        `listen: { dns: ["127.0.0.1:${p.dns}"], http: "127.0.0.1:${p.http}" }`,
        'upstreams: { servers: ["127.0.0.1:9"] }',
        'clients: [{ name: ci-1, match: ["127.0.0.1/32"], role: coding }]',
        'roles: { coding: { deny: ["*.blocked.example"] } }',
        'log: { queries: all }',
      ].join('\n'));
      return file;
    });
    cleanups.push(() => proc.kill());
    proc.child.stdout.pause();
    const before = rssKiB(proc.child.pid!);

    // About 50k decision lines of ~300 bytes: 15 MB of log for a reader that takes none of it.
    const answered = await flood(ports.dns, 50_000, 100, 20_000);
    expect(answered).toBeGreaterThan(45_000);
    const alone = await udpExchange({ host: '127.0.0.1', port: ports.dns }, queryBytes({ name: 'late.blocked.example' }), { timeoutMs: 1000 });
    expect(alone && decodePacket(alone).rcode).toBe('NXDOMAIN');

    const dropped = await droppedMetric(ports.http);
    expect(dropped).toBeGreaterThan(30_000);
    // The 4 MiB buffer and the pipe's 64 KiB hold the rest; the heap may grow a little for other reasons.
    expect(rssKiB(proc.child.pid!) - before).toBeLessThan(64 * 1024);

    proc.child.stdout.resume();
    const caughtUp = await proc.waitForLine((l) => l.msg === 'log output caught up; log lines were dropped', 'caught-up notice', 10_000);
    expect(proc.lines.some((l) => l.msg === 'log output is not keeping up; dropping log lines')).toBe(true);
    expect(caughtUp.dropped).toBe(await droppedMetric(ports.http));
  }, 45_000);
});
