import { describe, expect, it } from 'vitest';
import dnsPacket from 'dns-packet';
import { AnswerCache, entryBytes } from '../../src/cache/store.js';
import { questionKey as cacheKey } from '../../src/wire/question-key.js';
import { renderAnswer, type ReplyTo } from '../../src/wire/build.js';
import { RCODE } from '../../src/wire/constants.js';
import { encodeName } from '../../src/wire/names.js';
import { answersQuery, walkResponse, type ResponseView } from '../../src/wire/response.js';

/** Room enough that only max_entries bounds these tests. */
const MAX_BYTES = 1024 * 1024;

const Q = { name: 'example.org', type: 'A', class: 'IN' } as const;

function questionWire(name: string): Buffer {
  return Buffer.concat([encodeName(name), Buffer.from([0, 1, 0, 1])]);
}

/** An upstream answer as the wire code sees it: encoded by dns-packet, walked by ours. */
function view(packet: Partial<dnsPacket.Packet> & { rcode?: number; tc?: boolean }): ResponseView {
  const { rcode = 0, tc = false, ...rest } = packet;
  const buf = dnsPacket.encode({
    type: 'response', id: 7, questions: [Q],
    flags: dnsPacket.RECURSION_AVAILABLE | (tc ? dnsPacket.TRUNCATED_RESPONSE : 0) | rcode,
    ...rest,
  });
  const question = questionWire(Q.name);
  expect(answersQuery(buf, 7, question)).toBe(true);
  return walkResponse(buf, question.length);
}

const positive = (ttl: number): ResponseView => view({ answers: [{ name: Q.name, type: 'A', class: 'IN', ttl, data: '93.184.216.34' }] });
const soa = (ttl: number, minimum: number): dnsPacket.Answer => ({
  name: 'example.org', type: 'SOA', class: 'IN', ttl,
  data: { mname: 'ns1.example.org', rname: 'hostmaster.example.org', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum },
});

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

const KEY = cacheKey(questionWire('example.org'), false, false);

describe('AnswerCache', () => {
  it('misses, then hits with the age growing with the clock', () => {
    const c = clock();
    const cache = new AnswerCache({ maxEntries: 10, maxBytes: MAX_BYTES, now: c.now });
    expect(cache.get(KEY)).toBeUndefined();
    const v = positive(300);
    expect(cache.set(KEY, v)).toBe(true);
    expect(cache.get(KEY)).toEqual({ view: v, ageS: 0 });
    c.advance(999);
    expect(cache.get(KEY)?.ageS).toBe(0);
    c.advance(1);
    expect(cache.get(KEY)?.ageS).toBe(1);
    c.advance(41_500);
    expect(cache.get(KEY)?.ageS).toBe(42);
    expect(cache.get(KEY)?.view).toBe(v);
  });

  it('serves the remaining TTL through renderAnswer', () => {
    const c = clock();
    const cache = new AnswerCache({ maxEntries: 10, maxBytes: MAX_BYTES, now: c.now });
    cache.set(KEY, positive(300));
    c.advance(100_000);
    const hit = cache.get(KEY)!;
    const to: ReplyTo = { id: 99, recursionDesired: true, checkingDisabled: false, question: questionWire('example.org'), edns: null };
    const reply = dnsPacket.decode(renderAnswer(hit.view, to, hit.ageS, 3600));
    expect(reply.id).toBe(99);
    expect(reply.answers?.[0]?.type === 'A' && reply.answers[0].ttl).toBe(200);
  });

  it('expires an entry at its TTL', () => {
    const c = clock();
    const cache = new AnswerCache({ maxEntries: 10, maxBytes: MAX_BYTES, now: c.now });
    cache.set(KEY, positive(10));
    c.advance(9_999);
    expect(cache.get(KEY)?.ageS).toBe(9);
    c.advance(1);
    expect(cache.get(KEY)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keeps the lowest TTL of the answer', () => {
    const c = clock();
    const cache = new AnswerCache({ maxEntries: 10, maxBytes: MAX_BYTES, now: c.now });
    cache.set(KEY, view({
      answers: [
        { name: Q.name, type: 'CNAME', class: 'IN', ttl: 600, data: 'cdn.example.org' },
        { name: 'cdn.example.org', type: 'A', class: 'IN', ttl: 20, data: '10.1.2.3' },
      ],
    }));
    c.advance(19_999);
    expect(cache.get(KEY)).toBeDefined();
    c.advance(1);
    expect(cache.get(KEY)).toBeUndefined();
  });

  it.each([
    ['NXDOMAIN', RCODE.NXDOMAIN],
    ['NODATA', RCODE.NOERROR],
  ])('caches %s for the SOA-derived negative TTL (the lower of SOA TTL and minimum)', (_, rcode) => {
    const c = clock();
    const cache = new AnswerCache({ maxEntries: 10, maxBytes: MAX_BYTES, now: c.now });
    const v = view({ rcode, authorities: [soa(3600, 30)] });
    expect(v.cacheTtl).toBe(30);
    expect(cache.set(KEY, v)).toBe(true);
    c.advance(29_999);
    expect(cache.get(KEY)?.view.rcode).toBe(rcode);
    c.advance(1);
    expect(cache.get(KEY)).toBeUndefined();
  });

  it('caches NXDOMAIN at the end of a CNAME chain for the negative TTL, not the CNAME TTL', () => {
    const c = clock();
    const cache = new AnswerCache({ maxEntries: 10, maxBytes: MAX_BYTES, now: c.now });
    const v = view({
      rcode: RCODE.NXDOMAIN,
      answers: [{ name: Q.name, type: 'CNAME', class: 'IN', ttl: 600, data: 'gone.example.org' }],
      authorities: [soa(3600, 30)],
    });
    expect(v.cacheTtl).toBe(30);
    cache.set(KEY, v);
    c.advance(30_000);
    expect(cache.get(KEY)).toBeUndefined();
  });

  it.each([
    ['SERVFAIL', () => view({ rcode: RCODE.SERVFAIL })],
    ['REFUSED', () => view({ rcode: RCODE.REFUSED, authorities: [soa(300, 300)] })],
    ['a truncated answer', () => view({ tc: true, answers: [{ name: Q.name, type: 'A', class: 'IN', ttl: 300, data: '10.0.0.1' }] })],
    ['TTL 0', () => positive(0)],
    ['NODATA without an SOA', () => view({})],
  ])('does not cache %s', (_, make) => {
    const cache = new AnswerCache({ maxEntries: 10, maxBytes: MAX_BYTES });
    expect(cache.set(KEY, make())).toBe(false);
    expect(cache.size).toBe(0);
    expect(cache.get(KEY)).toBeUndefined();
  });

  it('caps how long anything is kept at maxTtlS', () => {
    const c = clock();
    const cache = new AnswerCache({ maxEntries: 10, maxBytes: MAX_BYTES, now: c.now, maxTtlS: 60 });
    cache.set(KEY, positive(86_400));
    c.advance(59_999);
    expect(cache.get(KEY)).toBeDefined();
    c.advance(1);
    expect(cache.get(KEY)).toBeUndefined();
  });

  it('caps at one day by default', () => {
    const c = clock();
    const cache = new AnswerCache({ maxEntries: 10, maxBytes: MAX_BYTES, now: c.now });
    cache.set(KEY, positive(7 * 86_400));
    c.advance(86_400_000);
    expect(cache.get(KEY)).toBeUndefined();
  });

  it('holds at most maxEntries, dropping the least recently used', () => {
    const cache = new AnswerCache({ maxEntries: 2, maxBytes: MAX_BYTES });
    const [ka, kb, kc] = ['a.example.org', 'b.example.org', 'c.example.org'].map((n) => cacheKey(questionWire(n), false, false)) as [string, string, string];
    cache.set(ka, positive(300));
    cache.set(kb, positive(300));
    expect(cache.get(ka)).toBeDefined();   // a is now the most recently used
    cache.set(kc, positive(300));
    expect(cache.size).toBe(2);
    expect(cache.get(kb)).toBeUndefined();
    expect(cache.get(ka)).toBeDefined();
    expect(cache.get(kc)).toBeDefined();
  });

  it('keys on the question bytes and the DO and CD bits', () => {
    const q = questionWire('example.org');
    const keys = [
      cacheKey(q, false, false), cacheKey(q, true, false), cacheKey(q, false, true), cacheKey(q, true, true),
      cacheKey(questionWire('example.com'), false, false),
      cacheKey(Buffer.concat([encodeName('example.org'), Buffer.from([0, 28, 0, 1])]), false, false),
    ];
    expect(new Set(keys).size).toBe(keys.length);
    expect(cacheKey(questionWire('example.org'), true, false)).toBe(keys[1]);
  });

  it('counts hits and misses', () => {
    const cache = new AnswerCache({ maxEntries: 10, maxBytes: MAX_BYTES });
    cache.get(KEY);
    cache.set(KEY, positive(300));
    cache.get(KEY);
    cache.get(KEY);
    expect([cache.hits, cache.misses]).toEqual([2, 1]);
  });

  it('rejects a maxEntries that is not a positive integer', () => {
    expect(() => new AnswerCache({ maxEntries: 0, maxBytes: MAX_BYTES })).toThrow(RangeError);
  });

  it('rejects a maxBytes that is not a positive integer', () => {
    for (const maxBytes of [0, -1, 1.5, Number.NaN]) expect(() => new AnswerCache({ maxEntries: 10, maxBytes })).toThrow(RangeError);
  });
});

describe('AnswerCache: bounded in bytes', () => {
  /** An answer of one TXT record of about `size` bytes for `name`. */
  const txt = (name: string, size: number): ResponseView => {
    const buf = dnsPacket.encode({
      type: 'response', id: 7, questions: [{ name, type: 'TXT', class: 'IN' }], flags: dnsPacket.RECURSION_AVAILABLE,
      answers: [{ name, type: 'TXT', class: 'IN', ttl: 300, data: Array.from({ length: Math.ceil(size / 256) }, () => Buffer.alloc(255, 0x61)) }],
    });
    return walkResponse(buf, questionWire(name).length);
  };
  const keyOf = (name: string): string => cacheKey(Buffer.concat([encodeName(name), Buffer.from([0, 16, 0, 1])]), false, false);

  it('counts each entry as its message plus what holds it, and nothing once it is gone', () => {
    const cache = new AnswerCache({ maxEntries: 10, maxBytes: MAX_BYTES });
    const v = txt('a.example.org', 5000);
    cache.set(keyOf('a.example.org'), v);
    expect(cache.bytes).toBe(entryBytes(keyOf('a.example.org'), v));
    expect(cache.bytes).toBeGreaterThan(v.wire.length);
    expect(cache.bytes).toBeLessThan(v.wire.length + 1024);
    cache.delete(keyOf('a.example.org'));
    expect(cache.bytes).toBe(0);
    cache.set(keyOf('a.example.org'), v);
    cache.clear();
    expect(cache.bytes).toBe(0);
  });

  it('pushes out the least recently used answers to stay within maxBytes', () => {
    const cache = new AnswerCache({ maxEntries: 1000, maxBytes: 100_000 });
    const names = Array.from({ length: 30 }, (_, i) => `n${i}.example.org`);
    for (const name of names) {
      cache.set(keyOf(name), txt(name, 10_000));
      expect(cache.bytes).toBeLessThanOrEqual(100_000);
    }
    // As many of the newest as fit (names 10–29 have keys of one length).
    expect(cache.size).toBe(Math.floor(100_000 / entryBytes(keyOf(names[29]!), txt(names[29]!, 10_000))));
    expect(cache.get(keyOf(names[29]!))).toBeDefined();
    expect(cache.get(keyOf(names[0]!))).toBeUndefined();
  });

  it('does not store an answer larger than the whole bound, and forgets the older answer for that question', () => {
    const cache = new AnswerCache({ maxEntries: 10, maxBytes: 20_000 });
    const key = keyOf('big.example.org');
    expect(cache.set(key, txt('big.example.org', 5000))).toBe(true);
    expect(cache.set(key, txt('big.example.org', 30_000))).toBe(false);
    expect(cache.get(key)).toBeUndefined();
    expect(cache.bytes).toBe(0);
  });
});
