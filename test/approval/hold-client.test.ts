import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { ApprovalRequestError, MAX_ANSWER_BYTES, postHold } from '../../src/approval/hold-client.js';
import type { HoldRequest } from '../../src/hold/registry.js';
import { IntentdnsError } from '../../src/errors.js';
import { FakeApprovalService } from '../helpers/approval-service.js';
import { waitFor } from '../helpers/wait-for.js';

const TOKEN = 'hold-token-1a2b3c';

const hold: HoldRequest = {
  holdId: 'h_4b1f0c',
  agent: 'ci-runner-1',
  role: 'coding',
  client: '10.20.0.11',
  qname: 'uploads.untrusted.example',
  qtype: 'A',
  at: Date.UTC(2026, 10, 24, 10, 1, 2, 345),
  recentCommands: ['cmd_812'],
};

let service: FakeApprovalService;

beforeEach(async () => {
  service = await FakeApprovalService.start({ token: TOKEN });
});

afterEach(async () => {
  await service.close();
});

/**
 * A bare server on loopback whose hold answer the test writes itself (what
 * FakeApprovalService cannot: a lying content-length, a body that stalls).
 * Counts connections and how many have closed.
 */
async function rawService(answer: (res: ServerResponse) => void): Promise<{ url: string; connections: () => number; closed: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  let closed = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(res));
  });
  server.on('connection', (s) => {
    connections += 1;
    sockets.add(s);
    s.on('close', () => {
      closed += 1;
      sockets.delete(s);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    closed: () => closed,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The rejection of `p`, which must reject with an ApprovalRequestError. */
async function rejection(p: Promise<void>): Promise<ApprovalRequestError> {
  const err: unknown = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApprovalRequestError);
  return err as ApprovalRequestError;
}

describe('postHold', () => {
  it('posts the spec body with the bearer token and resolves on 202', async () => {
    await postHold(service.url, TOKEN, hold, 1000);
    expect(service.holds).toHaveLength(1);
    expect(service.holds[0]).toEqual({
      body: {
        hold_id: 'h_4b1f0c',
        agent: 'ci-runner-1',
        role: 'coding',
        client: '10.20.0.11',
        qname: 'uploads.untrusted.example',
        qtype: 'A',
        at: '2026-11-24T10:01:02.345Z',
        recent_commands: ['cmd_812'],
      },
      authorization: `Bearer ${TOKEN}`,
      contentType: 'application/json',
      status: 202,
    });
  });

  it.each([200, 201])('accepts %i too', async (status) => {
    service.setHoldStatus(status);
    await expect(postHold(`${service.url}/`, TOKEN, hold, 1000)).resolves.toBeUndefined();
  });

  it.each([204, 400, 404, 409, 500, 503])('maps %i to ApprovalRequestError with the status', async (status) => {
    service.setHoldStatus(status);
    const err = await rejection(postHold(service.url, TOKEN, hold, 1000));
    expect(err).toBeInstanceOf(IntentdnsError);
    expect(err.code).toBe('IDNS_ERR_APPROVAL_REQUEST');
    expect(err.status).toBe(status);
    expect(err.problem).toBe('refused');
    expect(err.message).toContain('h_4b1f0c');
    expect(err.message).not.toContain(TOKEN);
  });

  it('sends no Authorization header without a token (and the service refuses it)', async () => {
    const err = await rejection(postHold(service.url, null, hold, 1000));
    expect(err.status).toBe(401);
    expect(service.holds[0]?.authorization).toBeNull();
  });

  it('gives up after timeoutMs with status null and the timeout as cause', async () => {
    service.setHoldDelay(1000);
    const t0 = Date.now();
    const err = await rejection(postHold(service.url, TOKEN, hold, 50));
    expect(Date.now() - t0).toBeLessThan(500);
    expect(err.status).toBeNull();
    expect(err.problem).toBe('no_answer');
    expect(err.message).toContain('timed out after 50 ms');
    expect((err.cause as Error | undefined)?.name).toBe('TimeoutError');
  });

  it('maps a network failure to status null with the cause', async () => {
    const dead = await FakeApprovalService.start();
    const url = dead.url;
    await dead.close();
    const err = await rejection(postHold(url, TOKEN, hold, 1000));
    expect(err.status).toBeNull();
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('an accepted answer with an endless body fails as oversize, soon, having read a bounded part of it', async () => {
    service.setHoldBody('endless');
    const t0 = Date.now();
    const err = await rejection(postHold(service.url, TOKEN, hold, 2000));
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(err).toMatchObject({ problem: 'oversize', status: 202 });
    expect(err.message).toContain(`over ${MAX_ANSWER_BYTES} bytes`);
    // The connection is closed: the service stops writing after little more than we read.
    await waitFor(() => service.holdsInFlight === 0, { what: 'the answer to end' });
    expect(service.holdBodyBytes).toBeLessThan(1 << 20);
  });

  it('a refusal with an endless body is still a refusal with its status', async () => {
    service.setHoldBody('endless');
    service.setHoldStatus(503);
    const err = await rejection(postHold(service.url, TOKEN, hold, 2000));
    expect(err).toMatchObject({ problem: 'refused', status: 503 });
  });

  it('reuses one kept-alive connection for POSTs one after another, refusals with a small body included', async () => {
    for (let i = 0; i < 3; i++) await postHold(service.url, TOKEN, hold, 1000);
    service.setHoldStatus(503);
    await rejection(postHold(service.url, TOKEN, hold, 1000));
    service.setHoldStatus(202);
    await postHold(service.url, TOKEN, hold, 1000);
    expect(service.holds).toHaveLength(5);
    expect(service.openSockets).toBe(1);
  });

  // The timer is a ref'd setTimeout, so it is listed while armed; 60 s would outlive the test if left.
  it('leaves no timer behind once the answer is read', async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await postHold(service.url, TOKEN, hold, 1000);
    const before = timers();
    for (let i = 0; i < 5; i++) await postHold(service.url, TOKEN, hold, 60_000);
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('an accepted answer declaring a body over the bound fails as oversize at once and closes the connection', async () => {
    const raw = await rawService((res) => {
      res.writeHead(202, { 'content-length': String(MAX_ANSWER_BYTES + 1) });
      res.write('{');                      // and never the rest
    });
    try {
      const t0 = Date.now();
      const err = await rejection(postHold(raw.url, TOKEN, hold, 2000));
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(err).toMatchObject({ problem: 'oversize', status: 202 });
      await waitFor(() => raw.closed() === 1, { what: 'the connection to close' });
    } finally {
      await raw.close();
    }
  });

  it('a body of exactly MAX_ANSWER_BYTES is still an answer', async () => {
    const raw = await rawService((res) => res.writeHead(202).end(Buffer.alloc(MAX_ANSWER_BYTES, 0x20)));
    try {
      await postHold(raw.url, TOKEN, hold, 2000);
      await postHold(raw.url, TOKEN, hold, 2000);
      expect(raw.connections()).toBe(1);
    } finally {
      await raw.close();
    }
  });

  it('the timeout covers the body too: headers then silence is no answer', async () => {
    const raw = await rawService((res) => {
      res.writeHead(202, { 'content-length': '2' });
      res.write('{');
    });
    try {
      const err = await rejection(postHold(raw.url, TOKEN, hold, 100));
      expect(err).toMatchObject({ problem: 'no_answer', status: null });
      expect(err.message).toContain('timed out after 100 ms');
      await waitFor(() => raw.closed() === 1, { what: 'the connection to close' });
    } finally {
      await raw.close();
    }
  });

  it('an answer cut off mid-body is no answer', async () => {
    const raw = await rawService((res) => {
      res.writeHead(202, { 'content-length': '100' });
      res.write('{', () => res.socket?.destroy());
    });
    try {
      const err = await rejection(postHold(raw.url, TOKEN, hold, 2000));
      expect(err).toMatchObject({ problem: 'no_answer', status: null });
      expect(err.message).toContain('failed');
    } finally {
      await raw.close();
    }
  });
});
