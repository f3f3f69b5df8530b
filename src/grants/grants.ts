/**
 * The grant store: which names each agent may resolve because a reviewer
 * approved something (spec approval-link.md: `command.approved`, `hold.decided`
 * allow), until when, and on whose word.
 *
 * One approval becomes one entry per name pattern, all sharing the approval's
 * GrantRef (id, command, approver, end). Three scopes:
 *   - `name`:    exactly that name;
 *   - `domain`:  that name and every name below it (a registrable domain: the
 *                apex is included);
 *   - `subtree`: every name strictly below it ("*.x" from a preset), never x.
 *
 * Cost. `find` is a hash lookup for the name and two per label above it, per
 * agent, however many grants are live: each agent has one map per scope,
 * keyed by name, and each key's entries sit in a heap latest-ending first,
 * so the head is the answer. Every entry also sits in two heaps by end time,
 * one overall and one per agent, and knows its place in all three, so adding,
 * expiring, revoking and evicting an entry are O(log n) each, never a scan
 * of the agent's grants; and of one approval's names only the last
 * maxPerAgent are stored, since the others would lose to them at once.
 * Expiry pops the overall heap on every call that takes `now`, so every
 * entry left is live. Memory is bounded overall and per agent; at a bound
 * the entry that would end soonest goes first, the oldest of those that end
 * together.
 */
import { getDomain } from 'tldts';

import { parsePattern } from '../config/pattern.js';
import type { GrantLookup } from '../decide/policy.js';
import type { GrantRef } from '../pipeline/types.js';
import { isBelow, parentAt } from '../wire/names.js';

export type GrantScope = 'name' | 'domain' | 'subtree';

export interface GrantPattern {
  readonly scope: GrantScope;
  /** Lower-case, no trailing dot, no "*." prefix. */
  readonly name: string;
}

/** Where a grant came from: an approved command, or a reviewer allowing a held query. */
export type GrantSource = 'command' | 'hold';

/** One live grant as `GET /v1/grants` shows it (snake_case, RFC 3339 times). */
export interface GrantListing {
  readonly agent: string;
  readonly scope: GrantScope;
  readonly name: string;
  readonly id: string;
  readonly source: GrantSource;
  readonly command: string;
  readonly approved_by: string | null;
  readonly expires_at: string;
}

export interface GrantStoreOptions {
  /** Entries (one per agent and name pattern) overall. Default 100 000. */
  readonly maxGrants?: number;
  /** Entries per agent. Default 2 000. */
  readonly maxPerAgent?: number;
}

/** Counters for metrics (`grants_total` is `added`). */
export interface GrantStoreStats {
  readonly added: number;
  readonly expired: number;
  readonly revoked: number;
  readonly evicted: number;
}

export const DEFAULT_MAX_GRANTS = 100_000;
export const DEFAULT_MAX_GRANTS_PER_AGENT = 2_000;

/** How many command ids a hold POST carries as `recent_commands`. */
const RECENT_COMMANDS = 20;

interface Entry {
  readonly agent: string;
  readonly scope: GrantScope;
  readonly name: string;
  readonly ref: GrantRef;
  readonly source: GrantSource;
  /** Order of arrival over the whole store: among entries that end together, the older goes first. */
  readonly seq: number;
  /** Set once the entry left the store. */
  removed: boolean;
  /** Its place in each of the three heaps it sits in (EntryHeap keeps them), -1 once out. */
  atAll: number;
  atAgent: number;
  atKey: number;
}

/** Ends sooner; on a tie, arrived earlier. The order of eviction and expiry. */
const endsFirst = (a: Entry, b: Entry): boolean =>
  a.ref.expiresAt < b.ref.expiresAt || (a.ref.expiresAt === b.ref.expiresAt && a.seq < b.seq);

/** Ends later; on a tie, arrived earlier. The order `find` wants: the head is the best grant for a key. */
const lastsLongest = (a: Entry, b: Entry): boolean =>
  a.ref.expiresAt > b.ref.expiresAt || (a.ref.expiresAt === b.ref.expiresAt && a.seq < b.seq);

class AgentGrants {
  readonly name = new Map<string, EntryHeap>();
  readonly domain = new Map<string, EntryHeap>();
  readonly subtree = new Map<string, EntryHeap>();
  /** Insertion order: the last ones are the most recent approvals. */
  readonly entries = new Set<Entry>();
  /** This agent's entries, soonest end first: the per-agent bound evicts the head. */
  readonly byEnd = new EntryHeap('atAgent', endsFirst);

  map(scope: GrantScope): Map<string, EntryHeap> {
    return scope === 'name' ? this.name : scope === 'domain' ? this.domain : this.subtree;
  }
}

export class GrantStore implements GrantLookup {
  readonly #maxGrants: number;
  readonly #maxPerAgent: number;
  readonly #agents = new Map<string, AgentGrants>();
  /** Every entry of an approval id (command id, or hold id for hold grants). */
  readonly #byId = new Map<string, Set<Entry>>();
  /** Every entry, soonest end first: expiry pops it, the overall bound evicts its head. */
  readonly #byEnd = new EntryHeap('atAll', endsFirst);
  #seq = 0;
  #added = 0;
  #expired = 0;
  #revoked = 0;
  #evicted = 0;

  constructor(opts: GrantStoreOptions = {}) {
    this.#maxGrants = opts.maxGrants ?? DEFAULT_MAX_GRANTS;
    this.#maxPerAgent = opts.maxPerAgent ?? DEFAULT_MAX_GRANTS_PER_AGENT;
  }

  /**
   * Opens `patterns` for `agent` until `ref.expiresAt`. An id seen before
   * replaces that approval's entries (events replayed after a reconnect are
   * harmless). A ref already over at `now` adds nothing. Returns the number
   * of entries added. O(log n) per pattern, evictions included.
   */
  add(agent: string, patterns: readonly GrantPattern[], ref: GrantRef, now: number, source: GrantSource = 'command'): number {
    this.#expire(now);
    this.#removeId(ref.id, 'replaced');
    if (ref.expiresAt <= now) return 0;
    const fresh = distinct(patterns);
    // All of this approval's entries end together, so among themselves the older go first: only
    // the last maxPerAgent can outlive the per-agent bound. The others would be added and evicted
    // at once; they are counted so, without the work (one approval of 50 000 names adds 2 000).
    const doomed = Math.max(0, fresh.length - this.#maxPerAgent);
    this.#added += doomed;
    this.#evicted += doomed;
    let added = doomed;
    let grants = this.#agents.get(agent);
    for (let i = doomed; i < fresh.length; i++) {
      const p = fresh[i]!;
      if (grants === undefined) {
        grants = new AgentGrants();
        this.#agents.set(agent, grants);
      }
      const entry: Entry = {
        agent, scope: p.scope, name: p.name, ref, source, seq: this.#seq++, removed: false, atAll: -1, atAgent: -1, atKey: -1,
      };
      const map = grants.map(p.scope);
      let forKey = map.get(p.name);
      if (forKey === undefined) map.set(p.name, (forKey = new EntryHeap('atKey', lastsLongest)));
      forKey.push(entry);
      grants.entries.add(entry);
      grants.byEnd.push(entry);
      let ids = this.#byId.get(ref.id);
      if (ids === undefined) this.#byId.set(ref.id, (ids = new Set()));
      ids.add(entry);
      this.#byEnd.push(entry);
      added += 1;
      this.#added += 1;
      // Bounds: the entry that would end soonest goes, which may be the new one.
      if (grants.entries.size > this.#maxPerAgent) this.#evict(grants.byEnd.peek());
      if (this.#byEnd.size > this.#maxGrants) this.#evict(this.#byEnd.peek());
      // An eviction may have emptied and dropped this agent's record.
      grants = this.#agents.get(agent);
    }
    return added;
  }

  /** Ends every grant of an approval (command id, or hold id). Returns how many entries ended. */
  revoke(id: string): number {
    return this.#removeId(id, 'revoked');
  }

  /** The live grant that covers `qname` for `agent` and lasts longest, or undefined. */
  find(agent: string, qname: string, now: number): GrantRef | undefined {
    this.#expire(now);
    const grants = this.#agents.get(agent);
    if (grants === undefined) return undefined;
    let best = later(grants.name.get(qname)?.peek(), grants.domain.get(qname)?.peek());
    if (grants.domain.size > 0 || grants.subtree.size > 0) {
      for (let at = parentAt(qname, 0); at >= 0; at = parentAt(qname, at)) {
        const above = qname.slice(at);
        best = later(best, later(grants.domain.get(above)?.peek(), grants.subtree.get(above)?.peek()));
      }
    }
    return best?.ref;
  }

  /** Ids of the agent's live approved commands, most recent first, at most 20 (for `recent_commands`). */
  recentCommandIds(agent: string, now: number): string[] {
    this.#expire(now);
    const grants = this.#agents.get(agent);
    if (grants === undefined) return [];
    const ids: string[] = [];
    const entries = [...grants.entries];
    for (let i = entries.length - 1; i >= 0 && ids.length < RECENT_COMMANDS; i--) {
      const e = entries[i]!;
      if (e.source === 'command' && !ids.includes(e.ref.id)) ids.push(e.ref.id);
    }
    return ids;
  }

  /** Every live grant, per agent in the order they were added. */
  list(now: number): GrantListing[] {
    this.#expire(now);
    const out: GrantListing[] = [];
    for (const [agent, grants] of this.#agents) {
      for (const e of grants.entries) {
        out.push({
          agent, scope: e.scope, name: e.name, id: e.ref.id, source: e.source,
          command: e.ref.command, approved_by: e.ref.approvedBy, expires_at: new Date(e.ref.expiresAt).toISOString(),
        });
      }
    }
    return out;
  }

  /** Live entries (`grants_active`). */
  activeCount(now: number): number {
    this.#expire(now);
    return this.#byEnd.size;
  }

  get stats(): GrantStoreStats {
    return { added: this.#added, expired: this.#expired, revoked: this.#revoked, evicted: this.#evicted };
  }

  /** Removes every entry that has ended by `now`: O(1) when none has, O(log n) per entry that has. */
  #expire(now: number): void {
    for (let top = this.#byEnd.peek(); top !== undefined && top.ref.expiresAt <= now; top = this.#byEnd.peek()) {
      this.#remove(top);
      this.#expired += 1;
    }
  }

  #removeId(id: string, why: 'revoked' | 'replaced'): number {
    const entries = this.#byId.get(id);
    if (entries === undefined) return 0;
    const n = entries.size;
    for (const e of [...entries]) this.#remove(e);
    if (why === 'revoked') this.#revoked += n;
    return n;
  }

  #evict(e: Entry | undefined): void {
    if (e === undefined) return;
    this.#remove(e);
    this.#evicted += 1;
  }

  /** Takes an entry out of every structure: O(log n). */
  #remove(e: Entry): void {
    if (e.removed) return;
    e.removed = true;
    this.#byEnd.remove(e);
    const grants = this.#agents.get(e.agent);
    if (grants !== undefined) {
      const map = grants.map(e.scope);
      const forKey = map.get(e.name);
      if (forKey !== undefined) {
        forKey.remove(e);
        if (forKey.size === 0) map.delete(e.name);
      }
      grants.byEnd.remove(e);
      grants.entries.delete(e);
      if (grants.entries.size === 0) this.#agents.delete(e.agent);
    }
    const ids = this.#byId.get(e.ref.id);
    if (ids !== undefined) {
      ids.delete(e);
      if (ids.size === 0) this.#byId.delete(e.ref.id);
    }
  }
}

/** The patterns without repeats (same scope and name), in first-seen order. */
function distinct(patterns: readonly GrantPattern[]): GrantPattern[] {
  const seen = new Set<string>();
  const out: GrantPattern[] = [];
  for (const p of patterns) {
    const key = `${p.scope} ${p.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out;
}

/** The one of two entries that ends later (the first on a tie: the more specific match). */
function later(a: Entry | undefined, b: Entry | undefined): Entry | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b.ref.expiresAt > a.ref.expiresAt ? b : a;
}

/**
 * A binary heap of entries whose entries know their place in it (the `slot`
 * field), so any entry can be removed in O(log n), not only the head. One
 * entry sits in three heaps at once (overall, its agent's, its key's), each
 * with its own slot field.
 */
class EntryHeap {
  readonly #items: Entry[] = [];
  readonly #slot: 'atAll' | 'atAgent' | 'atKey';
  readonly #before: (a: Entry, b: Entry) => boolean;

  constructor(slot: 'atAll' | 'atAgent' | 'atKey', before: (a: Entry, b: Entry) => boolean) {
    this.#slot = slot;
    this.#before = before;
  }

  get size(): number {
    return this.#items.length;
  }

  peek(): Entry | undefined {
    return this.#items[0];
  }

  push(e: Entry): void {
    this.#items.push(e);
    this.#up(this.#items.length - 1, e);
  }

  /** Removes `e` if it is here (its slot says where). */
  remove(e: Entry): void {
    const i = e[this.#slot];
    const items = this.#items;
    if (i < 0 || items[i] !== e) return;
    e[this.#slot] = -1;
    const last = items.pop()!;
    if (i === items.length) return;
    // The last entry fills the hole, then moves up or down to its place.
    if (i > 0 && this.#before(last, items[(i - 1) >> 1]!)) this.#up(i, last);
    else this.#down(i, last);
  }

  /** Puts `e` at `i` or above it. */
  #up(start: number, e: Entry): void {
    const items = this.#items;
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (!this.#before(e, p)) break;
      items[i] = p;
      p[this.#slot] = i;
      i = parent;
    }
    items[i] = e;
    e[this.#slot] = i;
  }

  /** Puts `e` at `i` or below it. */
  #down(start: number, e: Entry): void {
    const items = this.#items;
    const n = items.length;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.#before(items[r]!, items[l]!) ? r : l;
      const child = items[c]!;
      if (!this.#before(child, e)) break;
      items[i] = child;
      child[this.#slot] = i;
      i = c;
    }
    items[i] = e;
    e[this.#slot] = i;
  }
}

// ───────────────────────────── patterns ─────────────────────────────

/**
 * Names as the approval side writes them ("api.example.com", or "*.example.com"
 * from a preset) to grant patterns. Anything that is not a valid name pattern
 * is left out and returned in `rejected`, for the log.
 */
export function patternsFromNames(names: readonly string[]): { patterns: GrantPattern[]; rejected: string[] } {
  const patterns: GrantPattern[] = [];
  const rejected: string[] = [];
  for (const text of names) {
    const parsed = typeof text === 'string' ? parsePattern(text.trim()) : undefined;
    if (parsed?.ok) patterns.push({ scope: parsed.value.kind === 'exact' ? 'name' : 'subtree', name: parsed.value.name });
    else rejected.push(String(text));
  }
  return { patterns, rejected };
}

/**
 * The pattern a reviewer's `scope` means for a held name: `name` is the name;
 * `domain` is its registrable domain and everything below it
 * (`a.b.example.co.uk` → `example.co.uk`). The registrable domain follows the
 * whole Public Suffix List, private section included, so allowing
 * `x.github.io` with scope domain opens `x.github.io`, not every GitHub Pages
 * site. Under an operator's internal suffix it is the label just below the
 * suffix (`a.b.corp.internal` → `b.corp.internal`). A name with no registrable
 * domain (a public suffix itself) falls back to scope `name`.
 */
export function scopePattern(qname: string, scope: 'name' | 'domain', internalSuffixes: readonly string[] = []): GrantPattern {
  if (scope === 'name') return { scope: 'name', name: qname };
  const domain = registrableDomain(qname, internalSuffixes);
  return domain === null ? { scope: 'name', name: qname } : { scope: 'domain', name: domain };
}

export function registrableDomain(name: string, internalSuffixes: readonly string[] = []): string | null {
  for (const suffix of internalSuffixes) {
    if (name === suffix) return null;
    if (isBelow(name, suffix)) {
      const rest = name.slice(0, -suffix.length - 1);
      return `${rest.slice(rest.lastIndexOf('.') + 1)}.${suffix}`;
    }
  }
  return getDomain(name, { allowPrivateDomains: true, extractHostname: false }) ?? null;
}

/** Does `pattern` cover `qname`? (The same rule `find` applies, for one pattern.) */
export function covers(pattern: GrantPattern, qname: string): boolean {
  switch (pattern.scope) {
    case 'name':
      return qname === pattern.name;
    case 'domain':
      return qname === pattern.name || isBelow(qname, pattern.name);
    case 'subtree':
      return isBelow(qname, pattern.name);
  }
}
