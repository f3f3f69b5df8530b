/**
 * The whole proxy with an approval service: a FakeApprovalService, a token
 * file, and startProxy with an `approval` section pointing at both. Three
 * clients share role `coding`: ci-1 on 127.0.0.1, ci-2 on 127.0.0.2, ci-3 on
 * 127.0.0.3 (send with `from` to be one of the others).
 *
 *   const ap = await startApprovalProxy({ zone, approval: { hold_timeout: '400ms' } });
 *   ap.service.send('command.approved', { … });
 *   const reply = await ap.proxy.query('api.example.com');
 *   await ap.close();
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Zone } from './authority.js';
import { FakeApprovalService, type HoldPost } from './approval-service.js';
import { startProxy, type Proxy } from './proxy.js';
import type { ServerOptions } from '../../src/server.js';
import { waitFor } from './wait-for.js';

export const APPROVAL_TOKEN = 'e2e-approval-token';

export interface ApprovalProxyOptions {
  readonly zone: Zone;
  /** Keys of the approval section that differ from the defaults below (values as YAML text). */
  readonly approval?: Readonly<Record<string, string>>;
  /** The `coding` role, as a YAML flow map. Default: github.com allowed, unlisted held. */
  readonly role?: string;
  /** Called with the service before the proxy starts (e.g. to put events in its history). */
  readonly before?: (service: FakeApprovalService) => void;
  /** Wait for the event link to be up before returning. Default true. */
  readonly waitForLink?: boolean;
  /** Also serve the HTTP API on 127.0.0.1, port 0 (see startProxy). Default false. */
  readonly http?: boolean;
  /** The global `mode`. Default enforce. */
  readonly mode?: 'enforce' | 'audit';
  /** The `answers` section as a YAML flow map. Default: max_ttl 60s, block_private off. */
  readonly answers?: string;
  /** The `clients` entries as YAML flow maps, one per item, role `coding`. Default: ci-1, ci-2, ci-3 above. */
  readonly clients?: readonly string[];
  /** More roles beside `coding`, name → YAML flow map. */
  readonly roles?: Readonly<Record<string, string>>;
  /** A `firewall` section as a YAML flow map. Default: none. */
  readonly firewall?: string;
  /** What only tests set on the Server (e.g. the nft command of a test's network namespace). */
  readonly server?: ServerOptions;
}

export interface ApprovalProxy {
  readonly proxy: Proxy;
  readonly service: FakeApprovalService;
  /** The hold POSTs the service received, as parsed bodies. */
  holds(): HoldBody[];
  /** Waits for the POST of the hold for `qname` (the first one, or the `nth`), and returns its body. */
  holdFor(qname: string, nth?: number): Promise<HoldBody>;
  linkState(): string;
  /** The config YAML the proxy started with, optionally with another `coding` role: what a reload would read. */
  configYaml(role?: string): string;
  close(): Promise<void>;
}

export interface HoldBody {
  readonly hold_id: string;
  readonly agent: string;
  readonly role: string;
  readonly client: string;
  readonly qname: string;
  readonly qtype: string;
  readonly at: string;
  readonly recent_commands: string[];
}

const DEFAULT_CLIENTS = [
  '{ name: ci-1, match: ["127.0.0.1/32"], role: coding }',
  '{ name: ci-2, match: ["127.0.0.2/32"], role: coding }',
  '{ name: ci-3, match: ["127.0.0.3/32"], role: coding }',
];

const DEFAULT_APPROVAL: Readonly<Record<string, string>> = {
  grant_ttl: '10m',
  hold_timeout: '400ms',
  on_hold_timeout: 'sinkhole',
  on_link_down: 'sinkhole',
  max_pending_holds: '100',
};

export async function startApprovalProxy(opts: ApprovalProxyOptions): Promise<ApprovalProxy> {
  const service = await FakeApprovalService.start({ token: APPROVAL_TOKEN });
  const dir = mkdtempSync(join(tmpdir(), 'intentdns-e2e-'));
  const tokenFile = join(dir, 'approval-token');
  writeFileSync(tokenFile, `${APPROVAL_TOKEN}\n`);
  opts.before?.(service);
  const approval = { url: `"${service.url}"`, token_file: `"${tokenFile}"`, ...DEFAULT_APPROVAL, ...opts.approval };
  const configYaml = (role = opts.role ?? '{ allow: [github.com], unlisted: hold }'): string => `
    version: 1
    mode: ${opts.mode ?? 'enforce'}
    upstreams: { servers: UPSTREAMS, timeout: 500ms }
    answers: ${opts.answers ?? '{ max_ttl: 60s, block_private: false }'}
    sinkhole: { response: nxdomain, ttl: 5s }
    clients:
${(opts.clients ?? DEFAULT_CLIENTS).map((c) => `      - ${c}`).join('\n')}
    roles:
      coding: ${role}
${Object.entries(opts.roles ?? {}).map(([name, r]) => `      ${name}: ${r}`).join('\n')}
    approval: { ${Object.entries(approval).map(([k, v]) => `${k}: ${v}`).join(', ')} }
${opts.firewall ? `    firewall: ${opts.firewall}` : ''}
  `;
  let proxy: Proxy;
  try {
    proxy = await startProxy({ zone: opts.zone, http: opts.http ?? false, yaml: configYaml(), ...(opts.server ? { server: opts.server } : {}) });
  } catch (err) {
    await service.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const bodies = (): HoldBody[] => service.holds.map((h: HoldPost) => h.body as HoldBody);
  const ap: ApprovalProxy = {
    proxy,
    service,
    holds: bodies,
    holdFor: (qname, nth = 0) => waitFor(() => bodies().filter((b) => b.qname === qname)[nth], { what: `hold POST for ${qname}`, timeoutMs: 2000 }),
    linkState: () => proxy.server.approvals.linkState,
    configYaml,
    async close() {
      await proxy.close();
      await service.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (opts.waitForLink ?? true) await waitFor(() => ap.linkState() === 'up', { what: 'approval link up', timeoutMs: 2000 });
  return ap;
}

/** An RFC 3339 time `ms` from now. */
export function fromNow(ms: number): string {
  return new Date(Date.now() + ms).toISOString();
}
