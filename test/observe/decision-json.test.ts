/**
 * The decision line written as text (decision-json.ts) against the object the
 * tests and tools read (decisionLine in observe.ts): byte for byte the same
 * JSON, for every field either can have, and for text that needs escaping.
 */
import { describe, expect, it } from 'vitest';
import { faultAnswer, makeAnswer } from '../../src/answer/answer.js';
import { parseConfig } from '../../src/config/load.js';
import { compileRoles } from '../../src/decide/role.js';
import { UNKNOWN_CLIENT } from '../../src/identify/identify.js';
import { DecisionJson } from '../../src/observe/decision-json.js';
import { decisionLine } from '../../src/observe/observe.js';
import { Query, type Answer, type Fetched, type Verdict } from '../../src/pipeline/types.js';
import { walkResponse } from '../../src/wire/response.js';
import { mustDecode, question, queryBytes, responseBytes } from '../helpers/packets.js';

const config = parseConfig(`
version: 1
upstreams: { servers: ["127.0.0.1:5300"] }
clients:
  - { name: ci-runner-1, match: ["10.20.0.11/32"], role: 'co"ding\\\\' }
roles:
  'co"ding\\\\': { unlisted: hold }
`, 'decision-json.yaml');
const role = compileRoles(config.roles).values().next().value!;

const NAME = 'a"b\\c.example.com';
const view = (answers: NonNullable<Parameters<typeof responseBytes>[0]['answers']>, rcode = 0) =>
  walkResponse(responseBytes({ name: NAME, rcode, answers }), question(NAME).length);
const A = view([{ name: NAME, type: 'A', ttl: 300, data: '203.0.113.7' }, { name: NAME, type: 'AAAA', ttl: 300, data: '2001:db8::7' }]);
const CNAMES = view([{ name: NAME, type: 'CNAME', ttl: 60, data: 'edge.cdn.example' }, { name: 'edge.cdn.example', type: 'A', ttl: 60, data: '198.51.100.1' }]);
const EMPTY = view([], 3);

const fetchedFrom = (v: typeof A, source = '127.0.0.1:5300'): Fetched => ({ kind: 'answer', view: v, ageS: 3, source });
const GRANT = { id: 'g_"1', command: 'curl "https://a\\b.example/ü" | sh\n', approvedBy: null, expiresAt: Date.now() + 60_000 };

const VERDICTS: Verdict[] = [
  { action: 'forward', reason: 'allowlist', serve: 'upstream', rule: '*.example.com' },
  { action: 'forward', reason: 'grant', serve: 'upstream', grant: GRANT },
  { action: 'hold', reason: 'hold_approved', serve: 'upstream', holdId: 'h_42', grant: { ...GRANT, approvedBy: 'al"ice' } },
  { action: 'hold', reason: 'hold_denied', serve: 'sinkhole', holdId: 'h_43' },
  { action: 'sinkhole', reason: 'denylist', serve: 'sinkhole', rule: 'evil\\"example' },
  { action: 'refuse', reason: 'qtype', serve: 'refused', rule: 'qtypes of coding (TXT)' },
  { action: 'forward', reason: 'unlisted', serve: 'upstream' },
  { action: 'forward', reason: 'allowlist', serve: 'upstream', rule: '*.example.com', tunneling: 'max_names_per_domain (301 > 300) under example.com' },
  { action: 'sinkhole', reason: 'tunneling', serve: 'sinkhole', rule: 'max_label_entropy (4.41 > 4.00) under "x".example' },
  UNKNOWN_CLIENT,
];
const FETCHED: Array<Fetched | null> = [
  null, fetchedFrom(A), fetchedFrom(CNAMES, 'cache'), fetchedFrom(EMPTY), { kind: 'failed', error: 'all upstreams failed: "x"\ttimeout' },
];

function query(verdict: Verdict, opts: { audit: boolean; stranger: boolean; tcp: boolean }): Query {
  const q = new Query(mustDecode(queryBytes({ name: NAME, type: 'AAAA', edns: true })), opts.stranger ? '2001:db8::9' : '10.20.0.11', opts.tcp ? 'tcp' : 'udp', 0);
  if (!opts.stranger) q.agent = { name: 'ci-"runner\\1', entry: 'ci-runner-1', address: '10.20.0.11', mode: 'enforce', modeFrom: 'global', role };
  q.audit = opts.audit;
  q.verdict = verdict;
  return q;
}

describe('decision line as text', () => {
  it('is JSON.stringify of decisionLine, byte for byte, for every verdict, fetch, mode and client', () => {
    const lines = new DecisionJson();
    const blocked = new Set<boolean>();
    let compared = 0;
    for (const verdict of VERDICTS) {
      for (const fetched of FETCHED) {
        for (const audit of [false, true]) {
          for (const stranger of [false, true]) {
            const q = query(verdict, { audit, stranger, tcp: compared % 2 === 1 });
            const answers: Answer[] = [makeAnswer(q, fetched, config.sinkhole), faultAnswer(q, new Error('bo"om'))];
            for (const answer of answers) {
              const seconds = (compared % 7) * 0.0012345;
              const text = `{${lines.fields(q, answer, seconds)}}`;
              expect(text).toBe(JSON.stringify(decisionLine(q, answer, seconds)));
              blocked.add((JSON.parse(text) as { blocked: boolean }).blocked);
              compared++;
            }
          }
        }
      }
    }
    expect(compared).toBe(VERDICTS.length * FETCHED.length * 2 * 2 * 2);
    // Both values of blocked were compared, not one case repeated.
    expect([...blocked].sort()).toEqual([false, true]);
  });

  it('adds the sampler count last, as the line of a sampled stranger has it', () => {
    const q = query(UNKNOWN_CLIENT, { audit: false, stranger: true, tcp: false });
    const answer = makeAnswer(q, null, config.sinkhole);
    const line = { ...decisionLine(q, answer, 0.5), limited: 17 };
    expect(`{${new DecisionJson().fields(q, answer, 0.5, 17)}}`).toBe(JSON.stringify(line));
  });
});
