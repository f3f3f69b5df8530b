import { createServer, type AddressInfo, type Socket } from 'node:net';

import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';

import type { ApprovalEvent } from '../../src/approval/events.js';
import {
  ApprovalLink,
  type ApprovalLinkOptions,
  type LinkState,
  type LinkStateChange,
} from '../../src/approval/link.js';
import { FakeApprovalService, type ApprovalServiceOptions } from '../helpers/approval-service.js';
import { delay, waitFor } from '../helpers/wait-for.js';

const TOKEN = 'sekret-token-9f8e7d';
const GRANT_TTL_MS = 10 * 60_000;

const approved = (id: string) => ({
  id,
  agent: 'ci-runner-1',
  command: `curl https://${id}.example.com/`,
  approved_at: '2026-11-24T10:00:00Z',
});

interface Harness {
  service: FakeApprovalService;
  link: ApprovalLink;
  events: ApprovalEvent[];
  states: Array<{ state: LinkState; change: LinkStateChange }>;
  logs: string[];
}

let harness: Harness | null = null;

async function setup(
  opts: { service?: ApprovalServiceOptions; link?: Partial<ApprovalLinkOptions> } = {},
): Promise<Harness> {
  const service = await FakeApprovalService.start(opts.service);
  const events: ApprovalEvent[] = [];
  const states: Harness['states'] = [];
  const logs: string[] = [];
  const link = new ApprovalLink({
    url: service.url,
    token: TOKEN,
    grantTtlMs: GRANT_TTL_MS,
    log: pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) }),
    onEvent: (e) => events.push(e),
    onStateChange: (state, change) => states.push({ state, change }),
    backoff: { initialMs: 20, maxMs: 160 },
    heartbeatTimeoutMs: 1000,
    ...opts.link,
  });
  harness = { service, link, events, states, logs };
  return harness;
}

afterEach(async () => {
  if (harness === null) return;
  await harness.link.stop();
  await harness.service.close();
  harness = null;
});

const stateNames = (h: Harness) => h.states.map((s) => s.state);
const downs = (h: Harness) => h.states.filter((s) => s.state === 'down').map((s) => s.change);

describe('ApprovalLink: connecting', () => {
  it('cold start: bearer token, Accept, and since = now - grantTtl', async () => {
    const now = Date.UTC(2026, 10, 24, 10, 30);
    const h = await setup({ link: { now: () => now } });
    expect(h.link.state).toBe('stopped');
    h.link.start();
    await waitFor(() => h.link.state === 'up', { what: 'link up' });

    expect(h.service.eventsRequests).toHaveLength(1);
    const req = h.service.eventsRequests[0];
    expect(req).toMatchObject({
      authorization: `Bearer ${TOKEN}`,
      accept: 'text/event-stream',
      lastEventId: null,
      since: '2026-11-24T10:20:00.000Z',
    });
    expect(stateNames(h)).toEqual(['connecting', 'up']);
    expect(h.states[0]?.change.previous).toBe('stopped');
  });

  it('uses the real clock by default: since is about now - grantTtl', async () => {
    const h = await setup();
    const before = Date.now();
    h.link.start();
    const req = await waitFor(() => h.service.eventsRequests[0], { what: 'events request' });
    const since = Date.parse(req.since ?? '');
    expect(since).toBeGreaterThanOrEqual(before - GRANT_TTL_MS);
    expect(since).toBeLessThanOrEqual(Date.now() - GRANT_TTL_MS);
  });

  it('sends no Authorization header without a token', async () => {
    const h = await setup({ link: { token: null } });
    h.link.start();
    const req = await waitFor(() => h.service.eventsRequests[0], { what: 'events request' });
    expect(req.authorization).toBeNull();
  });

  it('start() twice opens one stream', async () => {
    const h = await setup();
    h.link.start();
    h.link.start();
    await waitFor(() => h.link.state === 'up', { what: 'link up' });
    h.service.ping();
    await delay(50);
    expect(h.service.eventsRequests).toHaveLength(1);
  });
});

describe('ApprovalLink: events', () => {
  it('delivers typed events in stream order and counts them', async () => {
    const h = await setup();
    h.link.start();
    await waitFor(() => h.link.state === 'up', { what: 'link up' });

    h.service.send('command.approved', { ...approved('cmd_1'), domains: ['api.example.com'] });
    h.service.send('hold.decided', { hold_id: 'h_1', decision: 'allow', ttl_seconds: 60 });
    h.service.send('command.revoked', { id: 'cmd_1' });
    await waitFor(() => h.events.length === 3, { what: '3 events' });

    expect(h.events).toEqual([
      {
        type: 'command.approved',
        id: 'cmd_1',
        agent: 'ci-runner-1',
        command: 'curl https://cmd_1.example.com/',
        approvedAt: Date.UTC(2026, 10, 24, 10),
        domains: ['api.example.com'],
      },
      { type: 'hold.decided', holdId: 'h_1', decision: 'allow', scope: 'name', ttlSeconds: 60 },
      { type: 'command.revoked', id: 'cmd_1' },
    ]);
    expect(h.link.lastEventId).toBe('e3');
    expect(h.link.stats).toEqual({
      received: { 'command.approved': 1, 'command.revoked': 1, 'hold.decided': 1, 'agent.quarantined': 0, 'agent.released': 0 },
      malformed: 0,
      unknown: 0,
    });
  });

  it('skips and counts malformed and unknown events; later events still arrive; the id moves past them', async () => {
    const h = await setup();
    h.link.start();
    await waitFor(() => h.link.state === 'up', { what: 'link up' });

    h.service.send('command.approved', '{"id": "cmd_1", oops', 'bad-json');
    h.service.send('command.exploded', { id: 'x' }, 'unknown-type');
    h.service.send('command.approved', { ...approved('cmd_2'), approved_at: 'soon' }, 'bad-field');
    h.service.send('command.approved', approved('cmd_3'), 'good');
    await waitFor(() => h.events.length === 1, { what: 'the good event' });
    expect(h.events.map((e) => e.type === 'command.approved' && e.id)).toEqual(['cmd_3']);

    // A poison event last: the resume point must still move past it.
    h.service.send('hold.decided', { hold_id: 'h_9', decision: 'perhaps' }, 'poison');
    await waitFor(() => h.link.stats.malformed === 3, { what: 'third malformed event' });
    expect(h.link.lastEventId).toBe('poison');
    expect(h.link.stats).toEqual({
      received: { 'command.approved': 1, 'command.revoked': 0, 'hold.decided': 0, 'agent.quarantined': 0, 'agent.released': 0 },
      malformed: 3,
      unknown: 1,
    });

    // The warning names the event and the field, never the body.
    const warns = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 40);
    expect(warns).toContainEqual(
      expect.objectContaining({ event_id: 'bad-field', event_type: 'command.approved', reason: 'approved_at: expected an RFC 3339 date-time' }),
    );
    expect(h.logs.join('')).not.toContain('cmd_2.example.com');

    // Reconnect resumes after the poison event: nothing is replayed.
    h.service.dropConnections();
    await waitFor(() => h.service.eventsRequests.length === 2 && h.link.state === 'up', { what: 'reconnect' });
    expect(h.service.eventsRequests[1]?.lastEventId).toBe('poison');
    h.service.send('command.revoked', { id: 'cmd_3' });
    await waitFor(() => h.events.length === 2, { what: 'event after reconnect' });
    expect(h.link.stats.malformed).toBe(3);
  });

  it('a throwing onEvent is logged and does not break the stream', async () => {
    let calls = 0;
    const h = await setup({
      link: {
        onEvent: () => {
          calls += 1;
          if (calls === 1) throw new Error('consumer bug');
        },
      },
    });
    h.link.start();
    await waitFor(() => h.link.state === 'up', { what: 'link up' });
    h.service.send('command.revoked', { id: 'a' });
    h.service.send('command.revoked', { id: 'b' });
    await waitFor(() => calls === 2, { what: 'both events' });
    expect(h.link.state).toBe('up');
    expect(h.service.eventsRequests).toHaveLength(1);
    expect(h.logs.some((l) => l.includes('consumer bug'))).toBe(true);
  });
});

describe('ApprovalLink: reconnecting', () => {
  it('server drops the connection: down, then resumes with Last-Event-ID and no since', async () => {
    const h = await setup();
    h.link.start();
    await waitFor(() => h.link.state === 'up', { what: 'link up' });
    h.service.send('command.revoked', { id: 'cmd_1' });
    await waitFor(() => h.events.length === 1, { what: 'first event' });

    h.service.dropConnections();
    // An approval made while the link is down arrives after the reconnect.
    h.service.send('command.revoked', { id: 'cmd_2' });
    await waitFor(() => h.events.length === 2, { what: 'replayed event' });

    expect(stateNames(h)).toEqual(['connecting', 'up', 'down', 'connecting', 'up']);
    expect(downs(h)).toEqual([{ previous: 'up', reason: 'network' }]);
    const resumed = h.service.eventsRequests[1];
    expect(resumed).toMatchObject({ lastEventId: 'e1', since: null, authorization: `Bearer ${TOKEN}` });
    expect(h.events.map((e) => e.type === 'command.revoked' && e.id)).toEqual(['cmd_1', 'cmd_2']);
    expect(h.link.lastEventId).toBe('e2');
  });

  it('a cleanly closed stream is down with reason closed', async () => {
    const h = await setup();
    h.link.start();
    await waitFor(() => h.link.state === 'up', { what: 'link up' });
    h.service.dropConnections({ graceful: true });
    await waitFor(() => h.service.eventsRequests.length === 2, { what: 'reconnect' });
    expect(downs(h)[0]).toEqual({ previous: 'up', reason: 'closed' });
    // No event seen yet: still a cold start.
    expect(h.service.eventsRequests[1]?.since).not.toBeNull();
  });

  it('non-2xx: down with the status, backs off with growing delays, reconnects when the service is back', async () => {
    const h = await setup();
    h.service.setStatus(503);
    h.link.start();
    await waitFor(() => h.service.eventsRequests.length >= 4, { what: '4 attempts' });
    expect(h.link.state).not.toBe('up');
    expect(downs(h)[0]).toEqual({ previous: 'connecting', reason: 'status', status: 503 });

    // Equal jitter: the gap before retry n is at least step(n)/2 = 10, 20, 40 ms.
    const at = h.service.eventsRequests.map((r) => r.at);
    const gaps = at.slice(1).map((t, i) => t - (at[i] ?? 0));
    [10, 20, 40].forEach((floor, i) => expect(gaps[i]).toBeGreaterThanOrEqual(floor - 2));

    h.service.setStatus(null);
    await waitFor(() => h.link.state === 'up', { what: 'link up' });
    expect(h.service.eventsRequests.at(-1)?.status).toBe(200);
  });

  it('a 200 that is not an event stream counts as down', async () => {
    const h = await setup();
    h.service.setContentType('application/json');
    h.link.start();
    await waitFor(() => downs(h).length >= 1, { what: 'down' });
    expect(downs(h)[0]).toEqual({ previous: 'connecting', reason: 'content_type' });
    h.service.setContentType('text/event-stream; charset=utf-8');
    await waitFor(() => h.link.state === 'up', { what: 'link up' });
  });

  it('an unreachable service is down with reason network and keeps retrying', async () => {
    const dead = await FakeApprovalService.start();
    const url = dead.url;
    await dead.close();
    const h = await setup({ link: { url } });
    h.link.start();
    await waitFor(() => downs(h).length >= 2, { what: 'two failed attempts' });
    expect(downs(h)[0]).toEqual({ previous: 'connecting', reason: 'network' });
  });

  it('pings keep the link up; silence longer than heartbeatTimeoutMs reconnects', async () => {
    const h = await setup({ service: { pingIntervalMs: 60 }, link: { heartbeatTimeoutMs: 300 } });
    h.link.start();
    await waitFor(() => h.link.state === 'up', { what: 'link up' });
    await delay(700); // more than two heartbeat windows, bridged by pings only
    expect(h.service.eventsRequests).toHaveLength(1);
    expect(h.link.state).toBe('up');

    h.service.pause();
    await waitFor(() => downs(h).length === 1, { what: 'watchdog', timeoutMs: 1000 });
    expect(downs(h)[0]).toEqual({ previous: 'up', reason: 'silence' });
    h.service.resume();
    await waitFor(() => h.service.eventsRequests.length === 2 && h.link.state === 'up', { what: 'reconnect' });
  });

  it('a service that never answers the request is caught by the same watchdog', async () => {
    // A bare TCP server: accepts the connection, never sends a byte.
    const sockets = new Set<Socket>();
    const mute = createServer((socket) => void sockets.add(socket));
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', () => resolve()));
    const { port } = mute.address() as AddressInfo;
    const states: LinkStateChange[] = [];
    const link = new ApprovalLink({
      url: `http://127.0.0.1:${port}`,
      token: TOKEN,
      grantTtlMs: GRANT_TTL_MS,
      log: pino({ level: 'silent' }),
      onEvent: () => undefined,
      onStateChange: (state, change) => void (state === 'down' && states.push(change)),
      backoff: { initialMs: 20, maxMs: 40 },
      heartbeatTimeoutMs: 150,
    });
    try {
      link.start();
      await waitFor(() => states.length >= 1, { what: 'watchdog on a mute server' });
      expect(states[0]).toEqual({ previous: 'connecting', reason: 'silence' });
    } finally {
      await link.stop();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => mute.close(() => resolve()));
    }
  });

  it('an event over 1 MiB cannot hide behind comments: it is skipped and counted malformed, the link stays up', async () => {
    // The attack: the bound counted characters since the last event *or comment*, so a service
    // that put a comment line after each data line grew one event without limit (here 2.6 MB,
    // leading JSON whitespace in front of a valid approval, so the unbounded parser delivered it).
    const h = await setup();
    h.link.start();
    await waitFor(() => h.link.state === 'up', { what: 'link up' });
    const filler = `data: ${' '.repeat(64 * 1024)}\n:\n`.repeat(40);
    h.service.sendRaw(`id: big\nevent: command.approved\n${filler}data: ${JSON.stringify(approved('cmd_big'))}\n\n`);
    h.service.send('command.approved', approved('cmd_after'), 'after');
    await waitFor(() => h.events.some((e) => (e as { id: string }).id === 'cmd_after'), { what: 'the event after the big one' });
    expect(h.events.map((e) => (e as { id: string }).id)).toEqual(['cmd_after']);
    expect(h.link.stats.malformed).toBe(1);
    expect(downs(h)).toEqual([]);
    expect(h.link.lastEventId).toBe('after');
    expect(h.logs.some((l) => l.includes('skipping approval event longer than 1048576 characters') && l.includes('"event_id":"big"'))).toBe(true);
  });

  it('an endless line is skipped up to its end; the link stays up and the next event arrives', async () => {
    const h = await setup();
    h.link.start();
    await waitFor(() => h.link.state === 'up', { what: 'link up' });
    for (let i = 0; i < 3; i++) h.service.sendRaw(`${i === 0 ? 'event: command.approved\ndata: ' : ''}${'x'.repeat(512 * 1024)}`);
    h.service.sendRaw('\r\n\r\n');
    h.service.send('command.approved', approved('cmd_next'), 'next');
    await waitFor(() => h.events.some((e) => (e as { id: string }).id === 'cmd_next'), { what: 'the next event' });
    expect(h.link.stats.malformed).toBe(1);
    expect(downs(h)).toEqual([]);
  });

  it('resets the backoff after a connection that delivered traffic', async () => {
    // initialMs 20 / max 1000: after 4 failures the floor is 80 ms; a healthy
    // connection brings the next delay back to 10–20 ms.
    const h = await setup({ link: { backoff: { initialMs: 20, maxMs: 1000 } } });
    h.service.setStatus(503);
    h.link.start();
    await waitFor(() => h.service.eventsRequests.length >= 4, { what: '4 failed attempts' });
    h.service.setStatus(null);
    await waitFor(() => h.link.state === 'up', { what: 'link up' });
    h.service.ping();
    await delay(30);
    const before = h.service.eventsRequests.length;
    const droppedAt = Date.now();
    h.service.dropConnections();
    await waitFor(() => h.service.eventsRequests.length === before + 1, { what: 'quick reconnect' });
    expect((h.service.eventsRequests.at(-1)?.at ?? 0) - droppedAt).toBeLessThan(80);
  });
});

describe('ApprovalLink: stop()', () => {
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

  it('while up: state stopped, stream socket closed, no timer left, no reconnect', async () => {
    const h = await setup();
    const baseline = timers();
    h.link.start();
    await waitFor(() => h.link.state === 'up', { what: 'link up' });
    await h.link.stop();

    expect(h.link.state).toBe('stopped');
    expect(h.states.at(-1)).toEqual({ state: 'stopped', change: { previous: 'up' } });
    expect(timers()).toBeLessThanOrEqual(baseline);
    // The service sees the stream's socket go away. (undici may keep one
    // unref'd, never-used spare connection: see the note in link.ts.)
    await waitFor(() => h.service.openStreams === 0, { what: 'stream closed' });
    await delay(60); // > the largest backoff step: a stray reconnect would show
    expect(h.service.eventsRequests).toHaveLength(1);
  });

  it('while waiting to reconnect: resolves at once and cancels the timer', async () => {
    const h = await setup({ link: { backoff: { initialMs: 10_000, maxMs: 10_000 } } });
    h.service.setStatus(503);
    const baseline = timers();
    h.link.start();
    await waitFor(() => h.link.state === 'down', { what: 'down' });
    const t0 = Date.now();
    await h.link.stop();
    expect(Date.now() - t0).toBeLessThan(100);
    expect(h.link.state).toBe('stopped');
    expect(timers()).toBeLessThanOrEqual(baseline);
  });

  it('can start again after stop, resuming from the last event id', async () => {
    const h = await setup();
    h.link.start();
    await waitFor(() => h.link.state === 'up', { what: 'link up' });
    h.service.send('command.revoked', { id: 'x' });
    await waitFor(() => h.events.length === 1, { what: 'event' });
    await h.link.stop();
    h.link.start();
    await waitFor(() => h.service.eventsRequests.length === 2 && h.link.state === 'up', { what: 'restart' });
    expect(h.service.eventsRequests[1]?.lastEventId).toBe('e1');
  });

  it('stop() before start() is harmless', async () => {
    const h = await setup();
    await h.link.stop();
    expect(h.link.state).toBe('stopped');
    expect(h.states).toEqual([]);
  });
});

describe('ApprovalLink: secrets', () => {
  it('never writes the bearer token to the log, whatever goes wrong', async () => {
    const h = await setup({ service: { token: 'another-token' }, link: { heartbeatTimeoutMs: 200 } });
    h.link.start(); // 401s
    await waitFor(() => downs(h).length >= 2, { what: '401s' });
    expect(downs(h)[0]).toEqual({ previous: 'connecting', reason: 'status', status: 401 });
    expect(h.logs.length).toBeGreaterThan(0);
    expect(h.logs.join('\n')).not.toContain(TOKEN);
  });

  it('refuses a URL that is not http(s) with a typed error', () => {
    expect(
      () =>
        new ApprovalLink({
          url: 'ftp://approvals.example.org',
          token: TOKEN,
          grantTtlMs: 1,
          log: pino({ level: 'silent' }),
          onEvent: () => undefined,
        }),
    ).toThrow(expect.objectContaining({ code: 'IDNS_ERR_APPROVAL_URL' }));
  });
});
