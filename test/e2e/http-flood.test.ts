/**
 * Slowloris on listen.http (issue 8, item 14): 300 connections that drip
 * header bytes and never finish made /healthz fail 7 of 8 probes, enough for
 * a Kubernetes liveness restart that takes DNS down for everyone. Probes must
 * keep answering while the flood lasts, from one source or from many.
 */
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';

import { afterEach, describe, expect, it } from 'vitest';

import { startProxy, type Proxy } from '../helpers/proxy.js';
import { delay } from '../helpers/wait-for.js';

const YAML = `
  version: 1
  clients: [{ name: ci-1, match: ["127.0.0.1/32"], role: coding }]
  roles: { coding: { allow: [github.com] } }
`;
const FLOOD_CONNECTIONS = 300;
const FLOOD_MS = 5000;
const PROBES = 8;
/** What a kubelet waits for a probe by default (timeoutSeconds: 1). */
const PROBE_TIMEOUT_MS = 1000;

let proxy: Proxy | null = null;
afterEach(async () => {
  await proxy?.close();
  proxy = null;
});

/**
 * Opens `count` connections from the given loopback sources (round robin),
 * each sending a request line and then one header byte every 400 ms, never the
 * blank line; a connection the server closes is opened again, as an attacker
 * would. Runs until `stop()`; every socket is destroyed then.
 */
function drip(port: number, sources: readonly string[], count: number): { stop(): Promise<void>; opened(): number } {
  const sockets = new Set<Socket>();
  let stopped = false;
  let opened = 0;
  const open = (i: number): void => {
    if (stopped) return;
    const socket = connect({ port, host: '127.0.0.1', localAddress: sources[i % sources.length]! });
    opened++;
    sockets.add(socket);
    let timer: NodeJS.Timeout | undefined;
    socket.on('error', () => {});
    socket.on('connect', () => {
      socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Drip: ');
      timer = setInterval(() => socket.write('a'), 400);
    });
    socket.on('close', () => {
      clearInterval(timer);
      sockets.delete(socket);
      // Reconnect after a moment, so a server that cuts connections still sees the whole flood.
      if (!stopped) setTimeout(() => open(i), 200);
    });
  };
  for (let i = 0; i < count; i++) open(i);
  return {
    opened: () => opened,
    async stop() {
      stopped = true;
      for (const s of sockets) s.destroy();
      await delay(20);
    },
  };
}

/** One /healthz probe on its own connection, as a kubelet makes it: 200 within the timeout, or a failure. */
function probe(port: number): Promise<number | 'timeout' | 'error'> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', agent: false, timeout: PROBE_TIMEOUT_MS }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => {
      req.destroy();
      resolve('timeout');
    });
    req.on('error', () => resolve('error'));
    req.end();
  });
}

async function probesDuringFlood(sources: readonly string[]): Promise<Array<number | string>> {
  proxy = await startProxy({ yaml: YAML, http: true });
  const { port } = proxy.server.httpAddress()!;
  const flood = drip(port, sources, FLOOD_CONNECTIONS);
  const results: Array<number | string> = [];
  try {
    await delay(500); // let the flood fill the slots
    const spacing = (FLOOD_MS - 500) / PROBES;
    for (let i = 0; i < PROBES; i++) {
      const started = Date.now();
      results.push(await probe(port));
      await delay(Math.max(0, spacing - (Date.now() - started)));
    }
  } finally {
    await flood.stop();
  }
  // eslint-disable-next-line no-console
  console.log(`healthz under a ${FLOOD_CONNECTIONS}-connection drip from ${sources.length} source(s): ${results.join(' ')}`);
  return results;
}

describe('listen.http under a slowloris flood', () => {
  it('300 dripping connections from 30 loopback sources: every /healthz probe answers 200', async () => {
    const sources = Array.from({ length: 30 }, (_, i) => `127.0.0.${i + 2}`);
    expect(await probesDuringFlood(sources)).toEqual(Array(PROBES).fill(200));
  }, 15_000);

  it('300 dripping connections from one source: every /healthz probe answers 200', async () => {
    expect(await probesDuringFlood(['127.0.0.2'])).toEqual(Array(PROBES).fill(200));
  }, 15_000);
});
