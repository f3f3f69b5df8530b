/**
 * The console in a real browser: Debian's chromium, driven by playwright-core
 * (which ships no browser), against the whole proxy on loopback with an admin
 * token, a fake approval service and a real upstream, queried with dig.
 *
 * It logs in through the form, then checks what an operator relies on: a dig
 * shows up live, the filters hide what does not match, the top panels name the
 * blocked name with the allow item `intentdns suggest` writes for it, a pending
 * hold and a grant (command, reviewer) are listed, and quarantine switched on
 * from the page answers the agent's next dig with the quarantine answer, and
 * off again. A hostile query name is shown as text and runs nothing.
 *
 * INTENTDNS_SCREENSHOT=path writes a PNG of the page with live rows.
 * Without /usr/bin/chromium it skips, except under CI=true, where it fails.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeApprovalService } from '../helpers/approval-service.js';
import { startAuthority, type Authority } from '../helpers/authority.js';
import { cli } from '../helpers/cli.js';
import { startProxy, type Proxy } from '../helpers/proxy.js';
import { spawnServe, type ServeProcess } from '../helpers/serve-process.js';
import { waitFor } from '../helpers/wait-for.js';

const CHROMIUM = '/usr/bin/chromium';
const DIG = '/usr/bin/dig';
const ADMIN_TOKEN = 'console-e2e-admin-token-0123456789';
const APPROVAL_TOKEN = 'console-e2e-approval-token';
/** A query name an attacker would pick: markup that runs script if ever written as HTML. */
const HOSTILE = '<img/src=x/onerror=document.title=1>.example';

/** Flags that keep Chromium from calling home on a closed network (and from needing a GPU or a sandbox). */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const haveChromium = existsSync(CHROMIUM);
const inCi = process.env.CI === 'true';
if (!haveChromium && !inCi) console.warn(`test/e2e/console.test.ts skipped: no ${CHROMIUM} (apt-get install chromium)`);

const ZONE = {
  'api.github.com': [{ type: 'A' as const, data: '140.82.121.6', ttl: 300 }],
  'evil.example.com': [{ type: 'A' as const, data: '203.0.113.66', ttl: 300 }],
  'held.example.com': [{ type: 'A' as const, data: '203.0.113.77', ttl: 300 }],
  'granted.example.com': [{ type: 'A' as const, data: '203.0.113.88', ttl: 300 }],
};

/** dig from `from` (a loopback address the config names as a client); resolves with its output. */
function dig(proxy: Proxy, name: string, from = '127.0.0.1', time = 2): Promise<string> {
  const { host, port } = proxy.target(4);
  return digAt(host, port, name, from, time);
}

function digAt(host: string, port: number, name: string, from = '127.0.0.1', time = 2): Promise<string> {
  const argv = [`@${host}`, '-p', String(port), '-b', from, name, 'A', '+tries=1', `+time=${time}`];
  return new Promise((resolve, reject) => {
    execFile(DIG, argv, { timeout: (time + 8) * 1000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`dig ${argv.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

const status = (out: string): string | undefined => /status: ([A-Z]+)/.exec(out)?.[1];

/** Debian's chromium, headless, with a fresh profile in `profile` (removed with the test's folder). */
async function openBrowser(profile: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 900 },
  });
  return { context, page: context.pages()[0] ?? await context.newPage() };
}

describe.skipIf(!haveChromium && !inCi)('the console in a real browser', { timeout: 30_000 }, () => {
  let dir: string;
  let service: FakeApprovalService;
  let proxy: Proxy;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`${CHROMIUM} not found: the console test needs Debian's chromium (apt-get install --no-install-recommends chromium)`);
    dir = mkdtempSync(join(tmpdir(), 'intentdns-console-'));
    writeFileSync(join(dir, 'admin-token'), `${ADMIN_TOKEN}\n`);
    writeFileSync(join(dir, 'approval-token'), `${APPROVAL_TOKEN}\n`);
    service = await FakeApprovalService.start({ token: APPROVAL_TOKEN });
    proxy = await startProxy({
      zone: ZONE,
      http: true,
      yaml: `
        version: 1
        log: { queries: all }
        admin: { token_file: "${join(dir, 'admin-token')}" }
        upstreams: { servers: UPSTREAMS, timeout: 500ms }
        sinkhole: { response: nxdomain, ttl: 5s }
        clients:
          - { name: ci-1, match: ["127.0.0.1/32"], role: coding }
          - { name: ci-2, match: ["127.0.0.2/32"], role: builder }
        roles:
          coding: { allow: [github.com, "*.github.com"], deny: [gist.github.com], unlisted: sinkhole }
          builder: { allow: [github.com, "*.github.com"], unlisted: hold }
        approval: { url: "${service.url}", token_file: "${join(dir, 'approval-token')}", grant_ttl: 10m, hold_timeout: 20s, on_hold_timeout: sinkhole, on_link_down: sinkhole, max_pending_holds: 10 }
      `,
    });
    await waitFor(() => proxy.server.approvals.linkState === 'up', { what: 'approval link up', timeoutMs: 3000 });
    ({ context, page } = await openBrowser(join(dir, 'profile')));
  }, 60_000);

  afterAll(async () => {
    await context?.close().catch(() => {});
    await proxy?.close();
    await service?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const base = (): string => `http://127.0.0.1:${proxy.server.httpAddress()!.port}`;
  /** The texts of the visible live rows' name cells, newest first. */
  const visibleNames = (): Promise<string[]> => page.locator('#rows tr:not([hidden]) td.name').allTextContents();
  const rowFor = (name: string) => page.locator('#rows tr', { has: page.locator('td.name', { hasText: name }) });

  it('sends a browser without a session to the login form, and the token logs it in with an HttpOnly, SameSite=Strict cookie', async () => {
    await page.goto(`${base()}/ui`);
    expect(new URL(page.url()).pathname).toBe('/ui/login');
    if (process.env.INTENTDNS_LOGIN_SCREENSHOT) await page.screenshot({ path: process.env.INTENTDNS_LOGIN_SCREENSHOT });
    await page.fill('#token', 'a wrong token');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('.error')).toContain('not the admin token');
    await page.fill('#token', ADMIN_TOKEN);
    await page.click('button[type=submit]');
    await page.waitForURL(`${base()}/ui`);
    const [cookie] = await context.cookies(base());
    expect(cookie).toMatchObject({ name: 'intentdns_session', httpOnly: true, sameSite: 'Strict', path: '/' });
    await expect.poll(() => page.textContent('#stream-state'), { timeout: 5000 }).toBe('live');
  });

  it('shows a dig live in the decisions table, newest first', async () => {
    expect(status(await dig(proxy, 'api.github.com'))).toBe('NOERROR');
    await rowFor('api.github.com').first().waitFor();
    expect(status(await dig(proxy, 'evil.example.com'))).toBe('NXDOMAIN');
    await rowFor('evil.example.com').first().waitFor();
    expect(status(await dig(proxy, 'api.github.com', '127.0.0.2'))).toBe('NOERROR');
    await expect.poll(() => page.locator('#rows tr').count()).toBe(3);
    const first = await page.locator('#rows tr').first().locator('td').allTextContents();
    expect(first.slice(1, 7)).toEqual(['ci-2', 'builder', 'api.github.com', 'A', 'forward', 'allowlist']);
    const evil = await rowFor('evil.example.com').locator('td').allTextContents();
    expect(evil.slice(1, 7)).toEqual(['ci-1', 'coding', 'evil.example.com', 'A', 'sinkhole', 'unlisted']);
  });

  it('shows a hostile query name as text: nothing in it runs', async () => {
    const title = await page.title();
    expect(status(await dig(proxy, HOSTILE))).toBe('NXDOMAIN');
    const lowered = HOSTILE.toLowerCase();
    await rowFor(lowered).first().waitFor();
    expect(await rowFor(lowered).locator('td.name').textContent()).toBe(lowered);
    expect(await page.locator('#rows img').count()).toBe(0);
    await page.waitForTimeout(200);
    expect(await page.title()).toBe(title);
  });

  it('filters by action, agent, role, reason and part of the name', async () => {
    await page.selectOption('#f-action', 'sinkhole');
    expect(await visibleNames()).toEqual([HOSTILE.toLowerCase(), 'evil.example.com']);
    await page.selectOption('#f-action', '');
    await page.fill('#f-agent', 'ci-2');
    expect(await visibleNames()).toEqual(['api.github.com']);
    await page.fill('#f-agent', '');
    await page.fill('#f-role', 'coding');
    await page.selectOption('#f-reason', 'allowlist');
    expect(await visibleNames()).toEqual(['api.github.com']);
    await page.fill('#f-role', '');
    await page.selectOption('#f-reason', '');
    await page.fill('#f-name', 'evil');
    expect(await visibleNames()).toEqual(['evil.example.com']);
    expect(await page.textContent('#row-count')).toBe('1 of 4 shown');
    await page.fill('#f-name', '');
    expect(await visibleNames()).toHaveLength(4);
  });

  it('the top panels name the blocked name and the agents, with the allow item suggest writes for that name', async () => {
    const blockedRow = page.locator('#top-blocked tbody tr', { has: page.locator('div.name', { hasText: 'evil.example.com' }) });
    await blockedRow.waitFor({ timeout: 8000 });
    expect(await blockedRow.locator('td.num').textContent()).toBe('1');
    const shown = await blockedRow.locator('div.allow code').textContent();
    // What suggest writes, from the proxy's own decision log.
    const log = proxy.decisions().map((l) => JSON.stringify(l)).join('\n');
    const suggested = await cli(['suggest', '--log', '-'], {}, `${log}\n`);
    expect(suggested.code, suggested.err).toBe(0);
    const item = suggested.out.split('\n').find((l) => l.includes('evil.example.com'))!.trim();
    expect(shown).toBe(item);
    expect(shown).toBe('- evil.example.com  # 1 query');
    // A name a deny rule blocks gets no allow line (suggest proposes none: deny wins over allow).
    expect(status(await dig(proxy, 'gist.github.com'))).toBe('NXDOMAIN');
    const deniedRow = page.locator('#top-blocked tbody tr', { has: page.locator('div.name', { hasText: 'gist.github.com' }) });
    await deniedRow.waitFor({ timeout: 8000 });
    expect(await deniedRow.locator('code').count()).toBe(0);
    expect(await deniedRow.locator('div.allow').textContent()).toBe('suggest proposes no allow line for it');
    const again = await cli(['suggest', '--log', '-'], {}, `${proxy.decisions().map((l) => JSON.stringify(l)).join('\n')}\n`);
    expect(again.out).not.toContain('gist.github.com');
    expect(proxy.decisions().some((l) => l.qname === 'gist.github.com' && l.reason === 'denylist')).toBe(true);
    // Nor does the hostile name, which no role's list could hold.
    const hostileRow = page.locator('#top-blocked tbody tr', { has: page.locator('div.name', { hasText: HOSTILE.toLowerCase() }) });
    expect(await hostileRow.locator('code').count()).toBe(0);
    await expect.poll(() => page.locator('#top-agents tbody td:first-child').allTextContents()).toEqual(['ci-1', 'ci-2']);
  }, 30_000);

  it('a blocked row offers its allow line (the same suggest writes); a row blocked by a deny rule offers none', async () => {
    const evil = rowFor('evil.example.com').first();
    await evil.getByRole('button', { name: 'Allow line' }).click();
    const code = evil.locator('td.rule code');
    await code.waitFor();
    const topLine = await page.locator('#top-blocked tbody tr', { has: page.locator('div.name', { hasText: 'evil.example.com' }) }).locator('div.allow code').textContent();
    expect(await code.textContent()).toBe(topLine);
    expect(await rowFor('gist.github.com').first().getByRole('button', { name: 'Allow line' }).count()).toBe(0);
    expect(await rowFor('api.github.com').first().getByRole('button', { name: 'Allow line' }).count()).toBe(0);
  });

  it('lists a pending hold, and a grant with its command and reviewer', async () => {
    const held = dig(proxy, 'held.example.com', '127.0.0.2', 25);
    const holdRow = page.locator('#holds tbody tr', { has: page.locator('td.name', { hasText: 'held.example.com' }) });
    await holdRow.waitFor({ timeout: 8000 });
    expect(await holdRow.locator('td').allTextContents()).toEqual(expect.arrayContaining(['ci-2', 'held.example.com', 'A', 'pending']));

    const command = 'curl -fsS https://granted.example.com/v1/artifacts -o out.tgz';
    service.send('command.approved', {
      id: 'cmd_console_1', agent: 'ci-1', approved_by: 'alice', approved_at: new Date().toISOString(), risk_score: 0.1,
      command, domains: ['granted.example.com'],
    });
    const grantRow = page.locator('#grants tbody tr', { has: page.locator('td.command', { hasText: command }) });
    await grantRow.waitFor({ timeout: 8000 });
    const cells = await grantRow.locator('td').allTextContents();
    expect(cells.slice(0, 4)).toEqual(['ci-1', 'granted.example.com', command, 'alice']);

    if (process.env.INTENTDNS_SCREENSHOT) {
      await dig(proxy, 'granted.example.com');
      await dig(proxy, 'evil.example.com');
      await rowFor('granted.example.com').first().waitFor();
      await page.waitForTimeout(5500);   // one panel refresh: the top counts include the last digs
      await page.locator('h2').first().click();   // no focus ring on the last filter typed into
      await page.screenshot({ path: process.env.INTENTDNS_SCREENSHOT });
    }

    const hold = service.holds.map((h) => h.body as { hold_id: string; qname: string }).find((b) => b.qname === 'held.example.com')!;
    service.decide(hold.hold_id, 'allow', { approved_by: 'bob' });
    expect(status(await held)).toBe('NOERROR');
    await expect.poll(() => holdRow.count(), { timeout: 8000 }).toBe(0);
  }, 60_000);

  it('quarantine switched on from the page answers the agent\'s next dig with the quarantine answer, and off again', async () => {
    const agentRow = page.locator('#quarantine tbody tr', { has: page.locator('td:first-child', { hasText: /^ci-1$/ }) });
    await agentRow.getByRole('button', { name: 'Quarantine' }).click();
    await expect.poll(() => agentRow.locator('.tag').textContent()).toBe('quarantined (admin)');
    const out = await dig(proxy, 'api.github.com');
    expect(status(out)).toBe('NXDOMAIN');
    await rowFor('api.github.com').filter({ hasText: 'quarantine' }).first().waitFor();
    expect(proxy.decisions().at(-1)).toMatchObject({ agent: 'ci-1', qname: 'api.github.com', reason: 'quarantine' });
    // The other agent is not touched.
    expect(status(await dig(proxy, 'api.github.com', '127.0.0.2'))).toBe('NOERROR');

    await agentRow.getByRole('button', { name: 'Release' }).click();
    await expect.poll(() => agentRow.locator('.tag').textContent()).toBe('off');
    expect(status(await dig(proxy, 'api.github.com'))).toBe('NOERROR');
  });

  it('logs out: the session ends and the page goes back to the form', async () => {
    await page.click('#logout');
    await page.waitForURL(`${base()}/ui/login`);
    const res = await page.request.get(`${base()}/v1/grants`);
    expect(res.status()).toBe(401);
  });
});

/**
 * The same console in front of `listen.workers: 2` (a real `intentdns serve`): the page talks to the
 * primary, the queries are answered by whichever worker the kernel wakes, and what the operator
 * sees must be the whole proxy's: every dig live, the top counts summed over the workers, and a
 * quarantine from the page in force in both.
 */
describe.skipIf(!haveChromium && !inCi)('the console of a proxy with two workers', { timeout: 30_000 }, () => {
  let dir: string;
  let authority: Authority;
  let serve: { proc: ServeProcess; ports: { dns: number; http: number } };
  let context: BrowserContext;
  let page: Page;
  const DIGS = 12;

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`${CHROMIUM} not found: the console test needs Debian's chromium (apt-get install --no-install-recommends chromium)`);
    dir = mkdtempSync(join(tmpdir(), 'intentdns-console-workers-'));
    writeFileSync(join(dir, 'admin-token'), `${ADMIN_TOKEN}\n`);
    authority = await startAuthority({ zone: ZONE });
    serve = await spawnServe((ports) => {
      const file = join(dir, 'intentdns.yaml');
      writeFileSync(file, [
        'version: 1',
        `listen: { dns: ["127.0.0.1:${ports.dns}"], http: "127.0.0.1:${ports.http}", workers: 2 }`,
        `upstreams: { servers: ["${authority.hostPort.text}"], timeout: 500ms }`,
        'sinkhole: { response: nxdomain, ttl: 5s }',
        `admin: { token_file: "${join(dir, 'admin-token')}" }`,
        'log: { queries: all }',
        'clients: [{ name: ci-1, match: ["127.0.0.1/32"], role: coding }]',
        'roles: { coding: { allow: ["*.github.com"], unlisted: sinkhole } }',
      ].join('\n'));
      return file;
    }, 20_000);
    ({ context, page } = await openBrowser(join(dir, 'profile')));
  }, 60_000);

  afterAll(async () => {
    await context?.close().catch(() => {});
    await serve?.proc.kill();
    await authority?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const base = (): string => `http://127.0.0.1:${serve.ports.http}`;
  const digHere = (name: string): Promise<string> => digAt('127.0.0.1', serve.ports.dns, name);

  it('logs in on the primary; every dig shows live, and the top counts are the workers\' summed', async () => {
    await page.goto(`${base()}/ui`);
    await page.fill('#token', ADMIN_TOKEN);
    await page.click('button[type=submit]');
    await page.waitForURL(`${base()}/ui`);
    await expect.poll(() => page.textContent('#stream-state'), { timeout: 5000 }).toBe('live');

    // Each dig is a fresh socket, so the kernel hands the queries to either worker.
    for (let i = 0; i < DIGS; i += 1) expect(status(await digHere('evil.example.com'))).toBe('NXDOMAIN');
    expect(status(await digHere('api.github.com'))).toBe('NOERROR');
    await expect.poll(() => page.locator('#rows tr').count(), { timeout: 5000 }).toBe(DIGS + 1);
    const answeredBy = new Set(serve.proc.lines.filter((l) => l.msg === 'query').map((l) => l.worker));
    console.log(`console with workers: the ${DIGS + 1} digs were answered by worker(s) ${[...answeredBy].join(', ')}`);

    const blockedRow = page.locator('#top-blocked tbody tr', { has: page.locator('div.name', { hasText: 'evil.example.com' }) });
    await expect.poll(() => blockedRow.locator('td.num').textContent(), { timeout: 8000 }).toBe(String(DIGS));
    await expect.poll(() => page.locator('#top-agents tbody td.num').allTextContents(), { timeout: 8000 }).toEqual([String(DIGS + 1)]);
  });

  it('quarantine from the page is in force in every worker, and lifted in every worker', async () => {
    const agentRow = page.locator('#quarantine tbody tr', { has: page.locator('td:first-child', { hasText: /^ci-1$/ }) });
    await agentRow.getByRole('button', { name: 'Quarantine' }).click();
    await expect.poll(() => agentRow.locator('.tag').textContent()).toBe('quarantined (admin)');
    for (let i = 0; i < 6; i += 1) expect(status(await digHere('api.github.com'))).toBe('NXDOMAIN');
    await agentRow.getByRole('button', { name: 'Release' }).click();
    await expect.poll(() => agentRow.locator('.tag').textContent()).toBe('off');
    for (let i = 0; i < 6; i += 1) expect(status(await digHere('api.github.com'))).toBe('NOERROR');
  });
});
