import { describe, expect, it } from 'vitest';

import {
  covers,
  GrantStore,
  patternsFromNames,
  registrableDomain,
  scopePattern,
  type GrantPattern,
} from '../../src/grants/grants.js';
import type { GrantRef } from '../../src/pipeline/types.js';

const T0 = Date.UTC(2026, 10, 24, 10, 0);
const MIN = 60_000;

const ref = (id: string, expiresAt = T0 + 10 * MIN, command = `curl https://${id}.example.com/`): GrantRef =>
  ({ id, command, approvedBy: 'alice', expiresAt });
const name = (n: string): GrantPattern => ({ scope: 'name', name: n });
const domain = (n: string): GrantPattern => ({ scope: 'domain', name: n });
const subtree = (n: string): GrantPattern => ({ scope: 'subtree', name: n });

describe('GrantStore: scopes', () => {
  it('scope name opens exactly that name, for that agent only', () => {
    const store = new GrantStore();
    store.add('ci-1', [name('api.example.com')], ref('cmd_1'), T0);
    expect(store.find('ci-1', 'api.example.com', T0)?.id).toBe('cmd_1');
    expect(store.find('ci-1', 'example.com', T0)).toBeUndefined();
    expect(store.find('ci-1', 'x.api.example.com', T0)).toBeUndefined();
    expect(store.find('ci-2', 'api.example.com', T0)).toBeUndefined();
  });

  it('scope domain opens the apex and every name below it, not a sibling that merely ends alike', () => {
    const store = new GrantStore();
    store.add('ci-1', [domain('example.co.uk')], ref('h_1'), T0, 'hold');
    for (const n of ['example.co.uk', 'a.example.co.uk', 'a.b.c.example.co.uk']) expect(store.find('ci-1', n, T0)?.id).toBe('h_1');
    for (const n of ['co.uk', 'badexample.co.uk', 'example.co.uk.evil.org']) expect(store.find('ci-1', n, T0)).toBeUndefined();
  });

  it('scope subtree ("*.x" from a preset) opens names below x, never x itself', () => {
    const store = new GrantStore();
    store.add('ci-1', [subtree('github.com')], ref('cmd_1'), T0);
    expect(store.find('ci-1', 'api.github.com', T0)?.id).toBe('cmd_1');
    expect(store.find('ci-1', 'a.b.github.com', T0)?.id).toBe('cmd_1');
    expect(store.find('ci-1', 'github.com', T0)).toBeUndefined();
  });

  it('when several grants cover a name, find returns the one that lasts longest', () => {
    const store = new GrantStore();
    store.add('ci-1', [name('api.example.com')], ref('cmd_short', T0 + MIN), T0);
    store.add('ci-1', [domain('example.com')], ref('cmd_long', T0 + 5 * MIN), T0);
    store.add('ci-1', [subtree('example.com')], ref('cmd_mid', T0 + 3 * MIN), T0);
    expect(store.find('ci-1', 'api.example.com', T0)?.id).toBe('cmd_long');
  });
});

describe('GrantStore: expiry and revocation', () => {
  it('a grant ends at expiresAt (exclusive), checked against the injected now', () => {
    const store = new GrantStore();
    store.add('ci-1', [name('a.example.com')], ref('cmd_1', T0 + MIN), T0);
    expect(store.find('ci-1', 'a.example.com', T0 + MIN - 1)?.id).toBe('cmd_1');
    expect(store.find('ci-1', 'a.example.com', T0 + MIN)).toBeUndefined();
    expect(store.activeCount(T0 + MIN)).toBe(0);
    expect(store.stats.expired).toBe(1);
  });

  it('a ref already over at add time adds nothing', () => {
    const store = new GrantStore();
    expect(store.add('ci-1', [name('a.example.com')], ref('cmd_1', T0 - 1), T0)).toBe(0);
    expect(store.find('ci-1', 'a.example.com', T0)).toBeUndefined();
    expect(store.activeCount(T0)).toBe(0);
  });

  it('revoke ends every grant of that command at once, for every name, and nothing else', () => {
    const store = new GrantStore();
    store.add('ci-1', [name('a.example.com'), name('b.example.com'), subtree('example.net')], ref('cmd_1'), T0);
    store.add('ci-1', [name('a.example.com')], ref('cmd_2'), T0);
    expect(store.revoke('cmd_1')).toBe(3);
    expect(store.find('ci-1', 'b.example.com', T0)).toBeUndefined();
    expect(store.find('ci-1', 'x.example.net', T0)).toBeUndefined();
    expect(store.find('ci-1', 'a.example.com', T0)?.id).toBe('cmd_2');
    expect(store.revoke('cmd_1')).toBe(0);
    expect(store.stats.revoked).toBe(3);
  });

  it('the same approval id twice replaces its grants (replayed events count once)', () => {
    const store = new GrantStore();
    store.add('ci-1', [name('a.example.com')], ref('cmd_1'), T0);
    store.add('ci-1', [name('b.example.com')], ref('cmd_1'), T0);
    expect(store.activeCount(T0)).toBe(1);
    expect(store.find('ci-1', 'a.example.com', T0)).toBeUndefined();
    // A replay that has expired by now ends the old grants.
    store.add('ci-1', [name('b.example.com')], ref('cmd_1', T0 - 1), T0);
    expect(store.activeCount(T0)).toBe(0);
  });

  it('duplicate patterns in one approval become one entry', () => {
    const store = new GrantStore();
    expect(store.add('ci-1', [name('a.example.com'), name('a.example.com')], ref('cmd_1'), T0)).toBe(1);
  });
});

describe('GrantStore: listing and context', () => {
  it('list shows each live grant in the /v1/grants shape', () => {
    const store = new GrantStore();
    store.add('ci-1', [name('api.example.com')], ref('cmd_1', T0 + MIN, 'curl https://api.example.com/'), T0);
    store.add('ci-1', [domain('gone.example')], ref('cmd_0', T0 + 1), T0);
    expect(store.list(T0 + 2)).toEqual([{
      agent: 'ci-1', scope: 'name', name: 'api.example.com', id: 'cmd_1', source: 'command',
      command: 'curl https://api.example.com/', approved_by: 'alice', expires_at: new Date(T0 + MIN).toISOString(),
    }]);
  });

  it('recentCommandIds lists live command ids, newest first, without hold grants', () => {
    const store = new GrantStore();
    store.add('ci-1', [name('a.example.com'), name('b.example.com')], ref('cmd_1'), T0);
    store.add('ci-1', [name('c.example.com')], ref('h_9'), T0, 'hold');
    store.add('ci-1', [name('d.example.com')], ref('cmd_2'), T0);
    store.add('ci-1', [name('e.example.com')], ref('cmd_3', T0 + 1), T0);
    store.add('ci-2', [name('f.example.com')], ref('cmd_4'), T0);
    expect(store.recentCommandIds('ci-1', T0 + 1)).toEqual(['cmd_2', 'cmd_1']);
    expect(store.recentCommandIds('nobody', T0)).toEqual([]);
  });
});

describe('GrantStore: bounds and cost', () => {
  it('per agent: beyond the bound the soonest-ending grant of that agent goes; other agents keep theirs', () => {
    const store = new GrantStore({ maxPerAgent: 3 });
    store.add('ci-2', [name('other.example.com')], ref('cmd_o', T0 + MIN), T0);
    for (let i = 1; i <= 4; i++) store.add('ci-1', [name(`n${i}.example.com`)], ref(`cmd_${i}`, T0 + (10 - i) * MIN), T0);
    // cmd_4 ends soonest (T0 + 6 min), so it was evicted as soon as it came in.
    expect(store.find('ci-1', 'n4.example.com', T0)).toBeUndefined();
    for (let i = 1; i <= 3; i++) expect(store.find('ci-1', `n${i}.example.com`, T0)?.id).toBe(`cmd_${i}`);
    expect(store.find('ci-2', 'other.example.com', T0)?.id).toBe('cmd_o');
    expect(store.stats.evicted).toBe(1);
  });

  it('overall: beyond the bound the soonest-ending grant of any agent goes', () => {
    const store = new GrantStore({ maxGrants: 3 });
    store.add('a', [name('a.example.com')], ref('cmd_a', T0 + 5 * MIN), T0);
    store.add('b', [name('b.example.com')], ref('cmd_b', T0 + 1 * MIN), T0);
    store.add('c', [name('c.example.com')], ref('cmd_c', T0 + 7 * MIN), T0);
    store.add('d', [name('d.example.com')], ref('cmd_d', T0 + 9 * MIN), T0);
    expect(store.activeCount(T0)).toBe(3);
    expect(store.find('b', 'b.example.com', T0)).toBeUndefined();
    expect(store.find('d', 'd.example.com', T0)?.id).toBe('cmd_d');
  });

  it('50 000 names for one agent in one add: the bounds hold and the soonest-ending, then oldest, entries went', () => {
    // The attack: one command.approved with 45 000 domains stalled DNS for 525 ms, since every
    // insert over the per-agent bound scanned the agent's grants for the soonest-ending one.
    const store = new GrantStore({ maxGrants: 5000, maxPerAgent: 2000 });
    store.add('ci-1', [name('late-1.example.com'), name('late-2.example.com')], ref('cmd_late', T0 + 60 * MIN), T0);
    store.add('ci-2', Array.from({ length: 1500 }, (_, i) => name(`o${i}.example.com`)), ref('cmd_other', T0 + 5 * MIN), T0);
    const many = Array.from({ length: 50_000 }, (_, i) => name(`h${i}.example.com`));
    expect(store.add('ci-1', many, ref('cmd_many', T0 + 10 * MIN), T0)).toBe(50_000);

    // Per agent: 2000. The two that end later stay; of the 50 000 (one end time) the newest 1998 stay.
    const mine = store.list(T0).filter((g) => g.agent === 'ci-1');
    expect(mine).toHaveLength(2000);
    expect(store.find('ci-1', 'late-1.example.com', T0)?.id).toBe('cmd_late');
    expect(store.find('ci-1', 'late-2.example.com', T0)?.id).toBe('cmd_late');
    expect(store.find('ci-1', 'h48001.example.com', T0)).toBeUndefined();
    expect(store.find('ci-1', 'h48002.example.com', T0)?.id).toBe('cmd_many');
    expect(store.find('ci-1', 'h49999.example.com', T0)?.id).toBe('cmd_many');
    expect(mine.filter((g) => g.id === 'cmd_many').map((g) => g.name)).toEqual(many.slice(48_002).map((p) => p.name));
    // Overall: 2000 + 1500 < 5000, so the other agent lost nothing; the evictions were all ci-1's.
    expect(store.activeCount(T0)).toBe(3500);
    expect(store.stats).toMatchObject({ added: 51_502, evicted: 48_002 });

    // Now the overall bound: 2000 more for a third agent, ending soonest of all, would make 5500.
    store.add('ci-3', Array.from({ length: 2000 }, (_, i) => name(`t${i}.example.com`)), ref('cmd_soon', T0 + 1 * MIN), T0);
    expect(store.activeCount(T0)).toBe(5000);
    // The 500 that went are ci-3's oldest (they end soonest of all); ci-1 and ci-2 are whole.
    expect(store.find('ci-3', 't499.example.com', T0)).toBeUndefined();
    expect(store.find('ci-3', 't500.example.com', T0)?.id).toBe('cmd_soon');
    expect(store.list(T0).filter((g) => g.agent === 'ci-2')).toHaveLength(1500);
    // Expiry still works from the bounded state.
    expect(store.activeCount(T0 + 10 * MIN)).toBe(2);
  });

  it.each([
    { maxGrants: 40, maxPerAgent: 15, batch: 6 },
    { maxGrants: 7, maxPerAgent: 3, batch: 9 },
    { maxGrants: 3, maxPerAgent: 3, batch: 5 },
  ])('agrees with a plain list model over 3000 random adds, revokes, evictions and expiries (%o)', ({ maxGrants, maxPerAgent, batch }) => {
    // The model: every live entry in one array, bounds applied by scanning for the soonest end
    // (the oldest on a tie); what the store did in O(log n) it does the slow, obvious way.
    type M = { agent: string; name: string; id: string; end: number; seq: number };
    let model: M[] = [];
    let seq = 0;
    const store = new GrantStore({ maxGrants, maxPerAgent });
    let rnd = 12345;
    const next = (n: number) => {
      rnd = (rnd * 1103515245 + 12345) % 2147483648;
      return rnd % n;
    };
    const evictFrom = (pool: M[]) => {
      const victim = pool.reduce((a, b) => (b.end < a.end || (b.end === a.end && b.seq < a.seq) ? b : a));
      model = model.filter((m) => m !== victim);
    };
    let now = T0;
    for (let step = 0; step < 3000; step++) {
      now += next(3) * MIN;
      model = model.filter((m) => m.end > now);
      const op = next(10);
      if (op < 7) {
        const agent = `a${next(4)}`;
        const id = `cmd_${next(60)}`;
        const end = now + (1 + next(20)) * MIN;
        const names = [...new Set(Array.from({ length: 1 + next(batch) }, () => `n${next(25)}.example`))];
        store.add(agent, names.map(name), ref(id, end), now);
        model = model.filter((m) => m.id !== id);
        for (const n of names) {
          model.push({ agent, name: n, id, end, seq: seq++ });
          const mine = model.filter((m) => m.agent === agent);
          if (mine.length > maxPerAgent) evictFrom(mine);
          if (model.length > maxGrants) evictFrom(model);
        }
      } else {
        const id = `cmd_${next(60)}`;
        store.revoke(id);
        model = model.filter((m) => m.id !== id);
      }
      const live = store.list(now).map((g) => `${g.agent} ${g.name} ${g.id}`).sort();
      expect(live, `step ${step}`).toEqual(model.map((m) => `${m.agent} ${m.name} ${m.id}`).sort());
      const probe = `n${next(25)}.example`;
      const agent = `a${next(4)}`;
      const best = model.filter((m) => m.agent === agent && m.name === probe).reduce<M | undefined>((a, b) => (a === undefined || b.end > a.end || (b.end === a.end && b.seq < a.seq) ? b : a), undefined);
      expect(store.find(agent, probe, now)?.id, `find at step ${step}`).toBe(best?.id);
    }
  });

  it('thousands of live grants: lookups stay correct and cheap, and memory is freed when they end', () => {
    const store = new GrantStore();
    const agents = 50;
    const perAgent = 1000;
    for (let a = 0; a < agents; a++) {
      for (let i = 0; i < perAgent; i++) {
        const scope = i % 3 === 0 ? domain(`d${i}.example`) : i % 3 === 1 ? subtree(`s${i}.example`) : name(`n${i}.example`);
        store.add(`agent-${a}`, [scope], ref(`cmd_${a}_${i}`, T0 + (1 + (i % 60)) * MIN), T0);
      }
    }
    expect(store.activeCount(T0)).toBe(agents * perAgent);

    const lookups = 200_000;
    const started = performance.now();
    let hits = 0;
    for (let k = 0; k < lookups; k++) {
      const i = k % perAgent;
      const qname = i % 3 === 0 ? `www.d${i}.example` : i % 3 === 1 ? `x.y.s${i}.example` : `n${i}.example`;
      if (store.find(`agent-${k % agents}`, qname, T0) !== undefined) hits++;
    }
    const perLookupUs = ((performance.now() - started) * 1000) / lookups;
    expect(hits).toBe(lookups);
    expect(store.find('agent-0', 'unrelated.a.b.c.d.example.org', T0)).toBeUndefined();
    // O(labels), not O(grants): a linear scan of 50 000 grants would take milliseconds per lookup.
    expect(perLookupUs).toBeLessThan(50);

    expect(store.activeCount(T0 + 61 * MIN)).toBe(0);
    expect(store.find('agent-1', 'n2.example', T0 + 61 * MIN)).toBeUndefined();
    expect(store.list(T0 + 61 * MIN)).toEqual([]);
  });

  it('many revocations leave nothing behind: expiry and lookups still work', () => {
    const store = new GrantStore();
    for (let i = 0; i < 5000; i++) {
      store.add('ci-1', [name(`n${i}.example`)], ref(`cmd_${i}`), T0);
      store.revoke(`cmd_${i}`);
    }
    expect(store.activeCount(T0)).toBe(0);
    store.add('ci-1', [name('still.example')], ref('cmd_x', T0 + MIN), T0);
    expect(store.find('ci-1', 'still.example', T0)?.id).toBe('cmd_x');
    expect(store.find('ci-1', 'still.example', T0 + MIN)).toBeUndefined();
  });
});

describe('patterns', () => {
  it('registrableDomain follows the public suffix list and internal suffixes', () => {
    expect(registrableDomain('a.b.example.co.uk')).toBe('example.co.uk');
    expect(registrableDomain('example.co.uk')).toBe('example.co.uk');
    expect(registrableDomain('co.uk')).toBeNull();
    // Private section: one GitHub Pages site, not all of github.io.
    expect(registrableDomain('docs.foo.github.io')).toBe('foo.github.io');
    expect(registrableDomain('a.b.corp.internal', ['corp.internal'])).toBe('b.corp.internal');
    expect(registrableDomain('corp.internal', ['corp.internal'])).toBeNull();
  });

  it('scopePattern: name is the name, domain the registrable domain (or the name when there is none)', () => {
    expect(scopePattern('a.b.example.co.uk', 'name')).toEqual(name('a.b.example.co.uk'));
    expect(scopePattern('a.b.example.co.uk', 'domain')).toEqual(domain('example.co.uk'));
    expect(scopePattern('co.uk', 'domain')).toEqual(name('co.uk'));
  });

  it('patternsFromNames takes names and "*." patterns, normalised, and reports the rest', () => {
    expect(patternsFromNames(['API.Example.com.', '*.github.com', 'not a name', '*', 'foo*.x.org'])).toEqual({
      patterns: [name('api.example.com'), subtree('github.com')],
      rejected: ['not a name', '*', 'foo*.x.org'],
    });
  });

  it('covers agrees with find', () => {
    expect(covers(domain('example.com'), 'example.com')).toBe(true);
    expect(covers(domain('example.com'), 'a.example.com')).toBe(true);
    expect(covers(subtree('example.com'), 'example.com')).toBe(false);
    expect(covers(name('example.com'), 'a.example.com')).toBe(false);
  });
});
