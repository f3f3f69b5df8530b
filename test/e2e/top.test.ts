/**
 * GET /v1/top against the running proxy: every decision counts, whatever
 * log.queries writes, and a reload keeps the counts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startProxy, type Proxy } from '../helpers/proxy.js';

const YAML = (log: string): string => `
  version: 1
  log: { queries: ${log} }
  sinkhole: { response: nxdomain, ttl: 5s }
  clients:
    - { name: ci-1, match: ["127.0.0.1/32"], role: coding }
  roles:
    coding: { allow: [github.com] }
`;

let proxy: Proxy | null = null;
afterEach(async () => {
  await proxy?.close();
  proxy = null;
});

async function top(p: Proxy): Promise<{ queries: number; blocked: number; top_blocked: Array<{ name: string; count: number; allow: string }>; top_agents: Array<{ agent: string; count: number }> }> {
  const res = await fetch(`http://127.0.0.1:${p.server.httpAddress()!.port}/v1/top`);
  expect(res.status).toBe(200);
  return res.json() as never;
}

describe('GET /v1/top', () => {
  it('counts every decision with log.queries none, and keeps the counts through a reload', async () => {
    proxy = await startProxy({ zone: { 'github.com': [{ type: 'A', data: '140.82.121.3', ttl: 300 }] }, http: true, yaml: YAML('none') });
    await proxy.query('github.com');
    await proxy.query('evil.example.com');
    await proxy.query('evil.example.com');
    expect(proxy.decisions()).toEqual([]);
    await proxy.reload(YAML('blocked'));
    await proxy.query('other.example.com');
    const body = await top(proxy);
    expect(body).toMatchObject({ queries: 4, blocked: 3 });
    expect(body.top_blocked).toEqual([
      { name: 'evil.example.com', count: 2, allow: '- evil.example.com  # 2 queries' },
      { name: 'other.example.com', count: 1, allow: '- other.example.com  # 1 query' },
    ]);
    expect(body.top_agents).toEqual([{ agent: 'ci-1', count: 4 }]);
  });
});
