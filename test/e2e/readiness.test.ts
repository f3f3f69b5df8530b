/**
 * /readyz over real HTTP (spec "HTTP"): 503 until the listeners are bound and
 * the config is loaded, 200 while serving (reloads, good or bad, do not touch
 * it), 503 again from the moment shutdown begins while /healthz still answers,
 * and nothing listening once closed.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { parseConfig } from '../../src/config/load.js';
import { Server } from '../../src/server.js';
import { createLogger } from '../../src/telemetry/log.js';
import type { Zone } from '../helpers/authority.js';
import { dedent, poll, startProxy, type Proxy } from '../helpers/proxy.js';
import { waitFor } from '../helpers/wait-for.js';

const ZONE: Zone = { 'slow.example.com': [{ type: 'A', data: '198.51.100.8', ttl: 300 }] };
const YAML = `
  version: 1
  upstreams: { servers: UPSTREAMS, timeout: 3s }
  clients: [{ name: ci-1, match: ["127.0.0.1/32"], role: coding }]
  roles: { coding: { allow: [slow.example.com] } }
`;

let proxy: Proxy | null = null;
afterEach(async () => {
  await proxy?.close();
  proxy = null;
});

async function get(port: number, path: string): Promise<{ status: number; body: string } | 'refused'> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return 'refused';
  }
}

describe('/readyz', () => {
  it('not ready before listen() has bound everything, ready after, not ready again after close()', async () => {
    const parsed = parseConfig(dedent(YAML).replace('UPSTREAMS', '["127.0.0.1:53"]'), 'readiness.yaml');
    const server = new Server({ ...parsed, listen: { dns: [{ host: '127.0.0.1', port: 0, family: 4, text: '127.0.0.1:0' }], http: null, workers: 1 } }, createLogger('silent'));
    expect(server.ready).toBe(false);
    const listening = server.listen();
    expect(server.ready).toBe(false);
    await listening;
    expect(server.ready).toBe(true);
    await server.close();
    expect(server.ready).toBe(false);
  });

  it('200 once listening, and through reloads that work and reloads that fail', async () => {
    proxy = await startProxy({ zone: ZONE, yaml: YAML, http: true });
    const port = proxy.server.httpAddress()!.port;
    expect(await get(port, '/readyz')).toEqual({ status: 200, body: 'ready\n' });

    await proxy.reload(YAML.replace('[slow.example.com]', '[slow.example.com, other.example.com]'));
    await waitFor(() => proxy!.server.config.roles.get('coding')!.allow.length === 2, { what: 'reload applied' });
    expect(await get(port, '/readyz')).toMatchObject({ status: 200 });

    // A reload the server refuses (the token file is missing) keeps it ready.
    const refused = proxy.server.reload({ ...proxy.server.config, admin: { tokenFile: '/nonexistent/intentdns-admin-token' } });
    await expect(refused).rejects.toThrow(/token file \/nonexistent\/intentdns-admin-token/);
    expect(await get(port, '/readyz')).toMatchObject({ status: 200 });
  });

  it('503 from the moment shutdown begins, while a query in flight drains; /healthz still 200; then nothing listens', async () => {
    proxy = await startProxy({ zone: ZONE, yaml: YAML, http: true });
    const port = proxy.server.httpAddress()!.port;
    proxy.authority.behave({ mode: 'delay', delayMs: 1000 });
    const slow = proxy.query('slow.example.com', 'A', { timeoutMs: 4000 });
    await waitFor(() => proxy!.authority.queries.length === 1, { what: 'query upstream' });

    const closing = proxy.server.close();
    expect(proxy.server.ready).toBe(false);
    expect(await get(port, '/readyz')).toEqual({ status: 503, body: 'not ready\n' });
    expect(await get(port, '/healthz')).toMatchObject({ status: 200 });

    // The query in flight is still answered, and only then does HTTP close.
    expect((await slow).packet.rcode).toBe('NOERROR');
    await closing;
    expect(await get(port, '/readyz')).toBe('refused');
  });

  it('a listen.http added by a reload serves /readyz too', async () => {
    proxy = await startProxy({ zone: ZONE, yaml: YAML });
    expect(proxy.server.httpAddress()).toBeNull();
    const http = { host: '127.0.0.1', port: 0, family: 4 as const, text: '127.0.0.1:0' };
    await proxy.server.reload({ ...proxy.server.config, listen: { ...proxy.server.config.listen, http } });
    const port = proxy.server.httpAddress()!.port;
    await poll(async () => (await get(port, '/readyz')) !== 'refused', { what: 'http listener' });
    expect(await get(port, '/readyz')).toEqual({ status: 200, body: 'ready\n' });
  });
});
