import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config/load.js';

const FILE = resolve(dirname(fileURLToPath(import.meta.url)), '../../examples/approval-service/intentdns.yaml');

describe('examples/approval-service/intentdns.yaml', () => {
  it('is a valid config that holds unlisted names and talks to the example service', () => {
    const config = loadConfig(FILE);
    expect(config.approval).toMatchObject({ url: 'http://127.0.0.1:8080', tokenFile: null, grantTtlMs: 600_000 });
    expect(config.roles.get('coding')?.unlisted).toBe('hold');
    expect(config.clients.map((c) => c.name)).toEqual(['local-agent']);
    expect(config.listen.http?.text).toBe('127.0.0.1:9153');
  });
});
