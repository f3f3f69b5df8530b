/**
 * The cache stage over a real AnswerCache, with a fake `next` standing for the
 * upstream: what a miss stores, what a hit serves (and that the upstream is
 * then not asked), what is never stored, and which query bits key an entry.
 */
import { describe, expect, it } from 'vitest';

import { CacheStage } from '../../src/cache/cache.js';
import { AnswerCache } from '../../src/cache/store.js';
import { Query, type Fetched } from '../../src/pipeline/types.js';
import { RCODE } from '../../src/wire/constants.js';
import { walkResponse } from '../../src/wire/response.js';
import { CD, RD, mustDecode, question, queryBytes, responseBytes, type QueryOptions } from '../helpers/packets.js';
import { fakeNext } from '../helpers/fake-next.js';

/** Room enough that only max_entries bounds these tests. */
const MAX_BYTES = 1024 * 1024;

const NAME = 'www.example.com';

function forwarded(opts: Partial<QueryOptions> = {}): Query {
  return new Query(mustDecode(queryBytes({ name: NAME, edns: true, ...opts })), '10.20.0.11', 'udp', 0);
}

type Answered = Extract<Fetched, { kind: 'answer' }>;

/** An upstream answer for NAME, as the upstream stage returns it. */
function upstreamAnswer(rcode: number = RCODE.NOERROR): Answered {
  const answers = rcode === RCODE.NOERROR ? [{ name: NAME, type: 'A' as const, ttl: 300, data: '93.184.216.34' }] : [];
  const view = walkResponse(responseBytes({ name: NAME, rcode, answers }), question(NAME).length);
  return { kind: 'answer', view, ageS: 0, source: '127.0.0.1:5300' };
}

/** A next that records its calls and brings `fetched` each time. */
/** A cache on a clock the test moves. */
function setup() {
  const clock = { ms: 0 };
  const cache = new AnswerCache({ maxEntries: 100, maxBytes: MAX_BYTES, now: () => clock.ms });
  return { clock, cache, stage: new CacheStage(cache) };
}

describe('CacheStage', () => {
  it('a miss asks the upstream and keeps its NOERROR answer; the same query again is served from the cache', async () => {
    const { cache, stage } = setup();
    const fetched = upstreamAnswer();
    const next = fakeNext(fetched);
    const first = forwarded();
    expect(await stage.handle(first, next)).toBe(fetched);
    expect(next.calls).toEqual([first]);
    expect(cache.size).toBe(1);

    const second = await stage.handle(forwarded({ id: 0x4321 }), next);
    expect(second).toEqual({ kind: 'answer', view: fetched.view, ageS: 0, source: 'cache' });
    expect(next.calls).toHaveLength(1);
  });

  it('a hit carries the whole seconds the answer has spent in the cache', async () => {
    const { clock, stage } = setup();
    const next = fakeNext(upstreamAnswer());
    await stage.handle(forwarded(), next);
    clock.ms = 42_700;
    expect(await stage.handle(forwarded(), next)).toMatchObject({ kind: 'answer', ageS: 42, source: 'cache' });
    expect(next.calls).toHaveLength(1);
  });

  it('the same name in other letter case is the same entry', async () => {
    const { stage } = setup();
    const next = fakeNext(upstreamAnswer());
    await stage.handle(forwarded(), next);
    expect(await stage.handle(forwarded({ name: 'WWW.Example.COM' }), next)).toMatchObject({ source: 'cache' });
    expect(next.calls).toHaveLength(1);
  });

  it('an answer expired in the cache is asked for again', async () => {
    const { clock, stage } = setup();
    const next = fakeNext(upstreamAnswer());
    await stage.handle(forwarded(), next);
    clock.ms = 300_000;
    expect(await stage.handle(forwarded(), next)).toMatchObject({ source: '127.0.0.1:5300' });
    expect(next.calls).toHaveLength(2);
  });

  it('a failed fetch is not cached: the next query asks the upstream again', async () => {
    const { cache, stage } = setup();
    const failed: Fetched = { kind: 'failed', error: 'all upstreams failed' };
    const next = fakeNext(failed);
    expect(await stage.handle(forwarded(), next)).toBe(failed);
    expect(await stage.handle(forwarded(), next)).toBe(failed);
    expect(next.calls).toHaveLength(2);
    expect(cache.size).toBe(0);
  });

  it('an upstream SERVFAIL is passed on but not cached', async () => {
    const { cache, stage } = setup();
    const servfail = upstreamAnswer(RCODE.SERVFAIL);
    const next = fakeNext(servfail);
    expect(await stage.handle(forwarded(), next)).toBe(servfail);
    await stage.handle(forwarded(), next);
    expect(next.calls).toHaveLength(2);
    expect(cache.size).toBe(0);
  });

  it('the DO bit and the CD bit each make a different cache entry', async () => {
    const { cache, stage } = setup();
    const next = fakeNext(upstreamAnswer());
    const variants: Array<Partial<QueryOptions>> = [{}, { edns: { do: true } }, { flags: RD | CD }];
    for (const opts of variants) expect(await stage.handle(forwarded(opts), next)).toMatchObject({ source: '127.0.0.1:5300' });
    expect(next.calls).toHaveLength(3);
    expect(cache.size).toBe(3);
    for (const opts of variants) expect(await stage.handle(forwarded(opts), next)).toMatchObject({ source: 'cache' });
    expect(next.calls).toHaveLength(3);
  });
});
