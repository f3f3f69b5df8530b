import { describe, expect, it } from 'vitest';
import { allowItemFor } from '../../src/suggest/index.js';
import { cli } from '../helpers/cli.js';

/** A decision log line for one blocked query of role coding, as the proxy writes it. */
const line = (qname: string): string => JSON.stringify({
  level: 30, time: 0, msg: 'query', client: '127.0.0.1', transport: 'udp', agent: 'ci-1', role: 'coding',
  qname, qtype: 'A', action: 'sinkhole', reason: 'unlisted', blocked: true, rcode: 'NXDOMAIN', duration_ms: 0.2,
});

/** The allow item suggest prints for `qname` after reading `times` decision lines of it. */
async function suggested(qname: string, times: number): Promise<string> {
  const r = await cli(['suggest', '--log', '-'], {}, `${Array.from({ length: times }, () => line(qname)).join('\n')}\n`);
  expect(r.code, r.err).toBe(0);
  const item = r.out.split('\n').find((l) => l.trimStart().startsWith('- '));
  if (item === undefined) throw new Error(`suggest printed no allow item:\n${r.out}`);
  return item.trim();
}

describe('allowItemFor', () => {
  it('is the allow item intentdns suggest writes for the same name and count', async () => {
    for (const [name, times] of [['pkg.unlisted.test', 1], ['cdn.unlisted.test', 3]] as const) {
      expect(allowItemFor(name, times)).toBe(await suggested(name, times));
    }
    expect(allowItemFor('pkg.unlisted.test', 2)).toBe('- pkg.unlisted.test  # 2 queries');
  });

  it('writes a name with an underscore label as it is: a DNS name needs no YAML quoting', () => {
    expect(allowItemFor('_acme-challenge.example.com', 1)).toBe('- _acme-challenge.example.com  # 1 query');
  });
});
