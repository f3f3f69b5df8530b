/**
 * The example approval service (examples/approval-service/server.mjs), run
 * for real as a child process: its HTTP side against the protocol in
 * approval-link.md, its terminal UI through stdin and stdout.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { createParser } from 'eventsource-parser';
import { afterEach, describe, expect, it } from 'vitest';

import { delay, waitFor } from '../helpers/wait-for.js';

const SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../../examples/approval-service/server.mjs');
const TOKEN = 'example-service-t0ken';
const tokenFile = join(mkdtempSync(join(tmpdir(), 'intentdns-example-')), 'token');
writeFileSync(tokenFile, `${TOKEN}\n`);
const auth = { authorization: `Bearer ${TOKEN}` };
const OPERATOR = userInfo().username;
const WAIT = { timeoutMs: 5000 };

interface Service {
  url: string;
  child: ChildProcessWithoutNullStreams;
  lines: string[];
  type(line: string): void;
  exited: Promise<number | null>;
}

interface Stream {
  status: number;
  contentType: string | null;
  events: Array<{ id: string | undefined; event: string | undefined; data: unknown }>;
  comments: string[];
  ended: boolean;
  close(): void;
}

const children: ChildProcessWithoutNullStreams[] = [];
const streams: Stream[] = [];

afterEach(async () => {
  for (const s of streams.splice(0)) s.close();
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
  }
});

async function startService(args: string[] = ['--token-file', tokenFile]): Promise<Service> {
  const child = spawn(process.execPath, [SCRIPT, '--port', '0', ...args], { stdio: 'pipe' });
  children.push(child);
  const lines: string[] = [];
  const stderr: string[] = [];
  child.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const first = await waitFor(() => lines[0], { ...WAIT, what: `the first line (stderr: ${stderr.join('')})` });
  const url = /(http:\/\/\S+)/.exec(first)?.[1];
  if (url === undefined) throw new Error(`no URL in the first line: ${first}`);
  return { url, child, lines, exited, type: (line) => void child.stdin.write(`${line}\n`) };
}

/** Opens `GET /v1/dns/events` and collects what arrives, parsed as SSE. */
async function openStream(url: string, headers: Record<string, string> = auth, query = ''): Promise<Stream> {
  const abort = new AbortController();
  const res = await fetch(`${url}/v1/dns/events${query}`, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const stream: Stream = {
    status: res.status,
    contentType: res.headers.get('content-type'),
    events: [],
    comments: [],
    ended: false,
    close: () => abort.abort(),
  };
  streams.push(stream);
  const parser = createParser({
    onEvent: (e) => stream.events.push({ id: e.id, event: e.event, data: JSON.parse(e.data) }),
    onComment: (c) => stream.comments.push(c.trim()),
  });
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch {
      // aborted by close()
    }
    stream.ended = true;
  })();
  return stream;
}

/** The v1.1 question fields every hold.decided carries, for hold(). */
const question = { agent: 'ci-runner-1', qname: 'uploads.untrusted.example', qtype: 'A' };

const hold = (id: string, extra: Record<string, unknown> = {}) => ({
  hold_id: id,
  agent: 'ci-runner-1',
  role: 'coding',
  client: '10.20.0.11',
  qname: 'uploads.untrusted.example',
  qtype: 'A',
  at: '2026-11-24T10:01:02.345Z',
  recent_commands: ['cmd_812'],
  ...extra,
});

function postHold(url: string, body: unknown, headers: Record<string, string> = auth): Promise<Response> {
  return fetch(`${url}/v1/dns/holds`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Types `run` commands cmd_<from>…cmd_<to> and waits until the service has confirmed each one. */
async function approveCommands(s: Service, from: number, to = from): Promise<void> {
  for (let i = from; i <= to; i++) {
    s.type(`run ci-runner-1 curl https://api${i}.example.com/x`);
    await waitFor(() => s.lines.some((l) => l.startsWith(`cmd_${i} approved`)), { ...WAIT, what: `cmd_${i}` });
  }
}

describe('example approval service: HTTP', () => {
  it('prints its URL first, and wants the bearer token on both endpoints', async () => {
    const s = await startService();
    expect(s.lines[0]).toMatch(/^approval service listening on http:\/\/127\.0\.0\.1:\d+$/);
    expect((await openStream(s.url, {})).status).toBe(401);
    expect((await openStream(s.url, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await postHold(s.url, hold('h_1'), {})).status).toBe(401);
    expect((await fetch(`${s.url}/elsewhere`, { headers: auth })).status).toBe(404);
  });

  it('POST /v1/dns/holds: 201, then 202 for the same hold_id, shown once in the terminal', async () => {
    const s = await startService();
    expect((await postHold(s.url, hold('h_4b1f0c'))).status).toBe(201);
    expect((await postHold(s.url, hold('h_4b1f0c'))).status).toBe(202);
    const line = '[h_4b1f0c] ci-runner-1 (coding) wants uploads.untrusted.example A — recent: cmd_812';
    await waitFor(() => s.lines.includes(line), { ...WAIT, what: 'the hold line' });
    await delay(50);
    expect(s.lines.filter((l) => l === line)).toHaveLength(1);
  });

  it('rejects a hold that is not JSON or lacks fields, and keeps control characters off the terminal', async () => {
    const s = await startService();
    expect((await postHold(s.url, 'not json')).status).toBe(400);
    const res = await postHold(s.url, { hold_id: 'h_2', agent: 'ci-runner-1' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'missing or empty: qname, qtype' });
    expect((await postHold(s.url, hold('h_3', { agent: 'evil\u001b[2Jagent', recent_commands: [] }))).status).toBe(201);
    await waitFor(() => s.lines.some((l) => l.startsWith('[h_3] evil?[2Jagent (coding) wants uploads.untrusted.example A')), WAIT);
    expect(s.lines.join('\n')).not.toContain('\u001b');
  });

  it('streams events with ids, starting at `since` on a cold start', async () => {
    const s = await startService();
    await approveCommands(s, 1, 2);
    const all = await openStream(s.url, auth, `?since=${encodeURIComponent(new Date(Date.now() - 60_000).toISOString())}`);
    expect(all.status).toBe(200);
    expect(all.contentType).toBe('text/event-stream');
    await waitFor(() => all.events.length === 2, { ...WAIT, what: 'two replayed events' });
    expect(all.events.map((e) => e.event)).toEqual(['command.approved', 'command.approved']);
    expect(all.events.every((e) => typeof e.id === 'string' && e.id !== '')).toBe(true);
    expect(new Set(all.events.map((e) => e.id)).size).toBe(2);

    const future = await openStream(s.url, auth, `?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
    const live = await openStream(s.url, auth); // neither since nor Last-Event-ID: live events only
    await waitFor(() => future.comments.includes('connected') && live.comments.includes('connected'), WAIT);
    await approveCommands(s, 3);
    await waitFor(() => live.events.length === 1 && future.events.length === 1, { ...WAIT, what: 'the live event' });
    expect(live.events[0]?.data).toMatchObject({ id: 'cmd_3' });

    expect((await openStream(s.url, auth, '?since=yesterday')).status).toBe(400);
  });

  it('resumes after Last-Event-ID, and replays everything for an id it never issued', async () => {
    const s = await startService();
    await approveCommands(s, 1, 3);
    const first = await openStream(s.url, auth, '?since=2000-01-01T00:00:00Z');
    await waitFor(() => first.events.length === 3, WAIT);
    const resumeAfter = first.events[0]?.id ?? '';

    const resumed = await openStream(s.url, { ...auth, 'last-event-id': resumeAfter });
    await waitFor(() => resumed.events.length === 2, { ...WAIT, what: 'events after the first' });
    expect(resumed.events.map((e) => (e.data as { id: string }).id)).toEqual(['cmd_2', 'cmd_3']);
    expect(resumed.events.map((e) => e.id)).toEqual(first.events.slice(1).map((e) => e.id));

    const stranger = await openStream(s.url, { ...auth, 'last-event-id': 'from-an-earlier-run-42' });
    await waitFor(() => stranger.events.length === 3, { ...WAIT, what: 'the whole history' });
  });

  it('pings open streams', async () => {
    const s = await startService(['--token-file', tokenFile, '--ping', '100ms']);
    const stream = await openStream(s.url);
    await waitFor(() => stream.comments.filter((c) => c === 'ping').length >= 2, { ...WAIT, what: 'two pings' });
  });
});

describe('example approval service: terminal UI', () => {
  it('"a h_x" sends hold.decided allow/name from the operator', async () => {
    const s = await startService();
    const stream = await openStream(s.url);
    await postHold(s.url, hold('h_x'));
    await waitFor(() => s.lines.some((l) => l.startsWith('[h_x]')), WAIT);
    s.type('a h_x');
    await waitFor(() => stream.events.length === 1, { ...WAIT, what: 'hold.decided' });
    expect(stream.events[0]).toMatchObject({
      event: 'hold.decided',
      data: { hold_id: 'h_x', decision: 'allow', scope: 'name', decided_by: OPERATOR, ...question },
    });
    expect(stream.events[0]?.data).not.toHaveProperty('ttl_seconds');
    await waitFor(() => s.lines.includes('allowed uploads.untrusted.example for ci-runner-1 (h_x)'), WAIT);

    s.type('d h_x'); // decided already: nothing is sent
    await waitFor(() => s.lines.includes('h_x was already decided: allow'), WAIT);
    expect(stream.events).toHaveLength(1);
  });

  it('"ad" and "dd" decide the whole domain, and a unique prefix of a pending hold names it', async () => {
    const s = await startService(['--token-file', tokenFile, '--grant-ttl', '10m']);
    const stream = await openStream(s.url);
    await postHold(s.url, hold('h_aaa111'));
    await postHold(s.url, hold('h_bbb222', { qname: 'other.untrusted.example' }));
    await waitFor(() => s.lines.some((l) => l.startsWith('[h_bbb222]')), WAIT);
    s.type('a h_'); // both pending holds start with h_: ambiguous, nothing sent
    await waitFor(() => s.lines.includes('"h_" matches 2 pending holds; type more of the id'), WAIT);
    s.type('ad h_a');
    s.type('dd h_'); // h_aaa111 is decided now: h_bbb222 is the only pending match
    await waitFor(() => stream.events.length === 2, WAIT);
    expect(stream.events.map((e) => e.data)).toEqual([
      { hold_id: 'h_aaa111', decision: 'allow', scope: 'domain', decided_by: OPERATOR, ttl_seconds: 600, ...question },
      { hold_id: 'h_bbb222', decision: 'deny', scope: 'domain', decided_by: OPERATOR, ttl_seconds: 600, ...question, qname: 'other.untrusted.example' },
    ]);
    s.type('a h_');
    await waitFor(() => s.lines.includes('no pending hold h_'), WAIT);
    expect(stream.events).toHaveLength(2);
  });

  it('"run" approves a command (names left to intentdns) and "revoke" ends it', async () => {
    const s = await startService(['--token-file', tokenFile, '--grant-ttl', '10m']);
    const stream = await openStream(s.url);
    s.type('run ci-runner-1 curl -sSL https://api.example.com/v2/items -o items.json');
    await waitFor(() => stream.events.length === 1, WAIT);
    const approved = stream.events[0];
    expect(approved?.event).toBe('command.approved');
    const data = approved?.data as Record<string, string>;
    expect(data).toMatchObject({
      id: 'cmd_1',
      agent: 'ci-runner-1',
      command: 'curl -sSL https://api.example.com/v2/items -o items.json',
      approved_by: OPERATOR,
    });
    expect(data).not.toHaveProperty('domains');
    expect(Date.parse(data.expires_at ?? '') - Date.parse(data.approved_at ?? '')).toBe(600_000);

    s.type('revoke cmd_1');
    await waitFor(() => stream.events.length === 2, WAIT);
    expect(stream.events[1]).toMatchObject({ event: 'command.revoked', data: { id: 'cmd_1' } });
  });

  it('"list" shows pending holds and live commands; "help" and unknown commands answer', async () => {
    const s = await startService();
    await postHold(s.url, hold('h_list'));
    await approveCommands(s, 1);
    s.type('list');
    await waitFor(() => s.lines.includes('  cmd_1 ci-runner-1: curl https://api1.example.com/x'), WAIT);
    expect(s.lines).toContain('  [h_list] ci-runner-1 wants uploads.untrusted.example A');
    s.type('help');
    s.type('frobnicate');
    await waitFor(() => s.lines.includes('unknown command "frobnicate"; type "help"'), WAIT);
    expect(s.lines.some((l) => l.startsWith('  run <agent> <command…>'))).toBe(true);
  });

  it('a hold for an agent and name already pending joins it: one decision, with the question, answers both', async () => {
    const s = await startService();
    const stream = await openStream(s.url);
    expect((await postHold(s.url, hold('h_replicaA'))).status).toBe(201);
    // Another replica holds the same question, asking another type: the same hold.
    expect((await postHold(s.url, hold('h_replicaB', { client: '10.20.0.12', qtype: 'AAAA' }))).status).toBe(201);
    await waitFor(() => s.lines.includes('[h_replicaB] joins [h_replicaA]: ci-runner-1 wants uploads.untrusted.example AAAA (from 10.20.0.12)'), WAIT);
    // Another agent, or another name, is another hold.
    await postHold(s.url, hold('h_other', { agent: 'ci-runner-2' }));
    await waitFor(() => s.lines.some((l) => l.startsWith('[h_other] ci-runner-2')), WAIT);
    s.type('list');
    await waitFor(() => s.lines.includes('  [h_replicaB] ci-runner-1 wants uploads.untrusted.example AAAA (joins [h_replicaA])'), WAIT);
    s.type('d h_replicaB'); // the joined id names its hold too
    await waitFor(() => stream.events.length === 1, WAIT);
    expect(stream.events[0]).toMatchObject({
      event: 'hold.decided', data: { hold_id: 'h_replicaA', decision: 'deny', scope: 'name', ...question },
    });
    await waitFor(() => s.lines.includes('denied uploads.untrusted.example for ci-runner-1 (h_replicaA and 1 joined)'), WAIT);
    s.type('a h_replicaA');
    await waitFor(() => s.lines.includes('h_replicaA was already decided: deny'), WAIT);
    // Decided: the next hold for the question is a new one.
    expect((await postHold(s.url, hold('h_again'))).status).toBe(201);
    await waitFor(() => s.lines.some((l) => l.startsWith('[h_again] ci-runner-1 (coding) wants')), WAIT);
  });

  it('an undecided hold leaves the pending list after --hold-ttl, with what joined it; the next query for the name is a new hold', async () => {
    const s = await startService(['--token-file', tokenFile, '--hold-ttl', '1s']);
    const stream = await openStream(s.url);
    await postHold(s.url, hold('h_stale'));
    await postHold(s.url, hold('h_stale_aaaa', { qtype: 'AAAA' }));
    await waitFor(() => s.lines.some((l) => l.startsWith('[h_stale_aaaa] joins [h_stale]')), WAIT);
    await waitFor(() => s.lines.includes('[h_stale] expired undecided: ci-runner-1 wanted uploads.untrusted.example A'), WAIT);
    s.type('list');
    await waitFor(() => s.lines.includes('no pending holds'), WAIT);
    s.type('a h_stale');
    await waitFor(() => s.lines.includes('h_stale was already expired'), WAIT);
    s.type('a h_stale_aaaa');
    await waitFor(() => s.lines.includes('h_stale_aaaa was already expired'), WAIT);
    // Nothing was sent for the expired hold, and a new query for the name is a hold of its own, not a join.
    expect((await postHold(s.url, hold('h_fresh'))).status).toBe(201);
    await waitFor(() => s.lines.some((l) => l.startsWith('[h_fresh] ci-runner-1 (coding) wants')), WAIT);
    expect(stream.events).toEqual([]);
  });

  it('"quarantine" and "release" send agent.quarantined / agent.released from the operator', async () => {
    const s = await startService();
    const stream = await openStream(s.url);
    s.type('quarantine ci-runner-1 risk score too high');
    s.type('list');
    await waitFor(() => s.lines.includes('  ci-runner-1: risk score too high'), WAIT);
    s.type('release ci-runner-1');
    s.type('quarantine');
    await waitFor(() => stream.events.length === 2, WAIT);
    expect(stream.events.map((e) => [e.event, e.data])).toEqual([
      ['agent.quarantined', { agent: 'ci-runner-1', reason: 'risk score too high', by: OPERATOR }],
      ['agent.released', { agent: 'ci-runner-1', by: OPERATOR }],
    ]);
    await waitFor(() => s.lines.includes('usage: quarantine <agent> [reason…]'), WAIT);
  });

  it('"quit" ends the open streams and exits 0', async () => {
    const s = await startService();
    const stream = await openStream(s.url);
    await waitFor(() => stream.comments.includes('connected'), WAIT);
    s.type('quit');
    expect(await s.exited).toBe(0);
    await waitFor(() => stream.ended, { ...WAIT, what: 'the stream to end' });
  });
});
