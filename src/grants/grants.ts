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
 * keyed by name, and each key's entries are kept latest-ending first, so the
 * head is the answer. Expiry: a min-heap by end time is popped on every call
 * that takes `now`, so every entry left in the maps is live (amortised
 * O(log n) per grant, once). Memory is bounded overall and per agent; at a
 * bound the entry that would end soonest goes first.
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

/** Stale heap slots (revoked or evicted entries) tolerated before the heap is rebuilt. */
const MIN_STALE_BEFORE_COMPACT = 1024;

interface Entry {
  readonly agent: string;
  readonly scope: GrantScope;
  readonly name: string;
  readonly ref: GrantRef;
  readonly source: GrantSource;
  /** Set once the entry left the maps; the heap drops it lazily. */
  removed: boolean;
}

class AgentGrants {
  readonly name = new Map<string, Entry[]>();
  readonly domain = new Map<string, Entry[]>();
  readonly subtree = new Map<string, Entry[]>();
  /** Insertion order: the last ones are the most recent approvals. */
  readonly entries = new Set<Entry>();

  map(scope: GrantScope): Map<string, Entry[]> {
    return scope === 'name' ? this.name : scope === 'domain' ? this.domain : this.subtree;
  }
}

export class GrantStore implements GrantLookup {
  readonly #maxGrants: number;
  readonly #maxPerAgent: number;
  readonly #agents = new Map<string, AgentGrants>();
  /** Every entry of an approval id (command id, or hold id for hold grants). */
  readonly #byId = new Map<string, Set<Entry>>();
  readonly #heap = new ExpiryHeap();
  #size = 0;
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
   * of entries added.
   */
  add(agent: string, patterns: readonly GrantPattern[], ref: GrantRef, now: number, source: GrantSource = 'command'): number {
    this.#expire(now);
    this.#removeId(ref.id, 'replaced');
    if (ref.expiresAt <= now) return 0;
    let grants = this.#agents.get(agent);
    const seen = new Set<string>();
    let added = 0;
    for (const p of patterns) {
      const key = `${p.scope} ${p.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (grants === undefined) {
        grants = new AgentGrants();
        this.#agents.set(agent, grants);
      }
      const entry: Entry = { agent, scope: p.scope, name: p.name, ref, source, removed: false };
      insertByEnd(grants.map(p.scope), p.name, entry);
      grants.entries.add(entry);
      let ids = this.#byId.get(ref.id);
      if (ids === undefined) this.#byId.set(ref.id, (ids = new Set()));
      ids.add(entry);
      this.#heap.push(entry);
      this.#size += 1;
      added += 1;
      this.#added += 1;
      // Bounds: the entry that would end soonest goes, which may be the new one.
      if (grants.entries.size > this.#maxPerAgent) this.#evictFromAgent(grants);
      if (this.#size > this.#maxGrants) this.#evictOldest();
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
    let best = later(grants.name.get(qname)?.[0], grants.domain.get(qname)?.[0]);
    if (grants.domain.size > 0 || grants.subtree.size > 0) {
      for (let at = parentAt(qname, 0); at >= 0; at = parentAt(qname, at)) {
        const above = qname.slice(at);
        best = later(best, later(grants.domain.get(above)?.[0], grants.subtree.get(above)?.[0]));
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
    return this.#size;
  }

  get stats(): GrantStoreStats {
    return { added: this.#added, expired: this.#expired, revoked: this.#revoked, evicted: this.#evicted };
  }

  /** Pops every entry that has ended by `now`: O(1) when none has. */
  #expire(now: number): void {
    for (let top = this.#heap.peek(); top !== undefined; top = this.#heap.peek()) {
      if (top.removed) {
        this.#heap.pop();
        continue;
      }
      if (top.ref.expiresAt > now) return;
      this.#heap.pop();
      this.#remove(top);
      this.#expired += 1;
    }
  }

  #removeId(id: string, why: 'revoked' | 'replaced'): number {
    const entries = this.#byId.get(id);
    if (entries === undefined) return 0;
    const n = entries.size;
    for (const e of [...entries]) this.#discard(e);
    if (why === 'revoked') this.#revoked += n;
    return n;
  }

  #evictFromAgent(grants: AgentGrants): void {
    let soonest: Entry | undefined;
    for (const e of grants.entries) if (soonest === undefined || e.ref.expiresAt < soonest.ref.expiresAt) soonest = e;
    if (soonest === undefined) return;
    this.#discard(soonest);
    this.#evicted += 1;
  }

  #evictOldest(): void {
    for (let top = this.#heap.pop(); top !== undefined; top = this.#heap.pop()) {
      if (top.removed) continue;
      this.#remove(top);
      this.#evicted += 1;
      return;
    }
  }

  /** Removes an entry that is still in the heap; the heap forgets it later. */
  #discard(e: Entry): void {
    this.#remove(e);
    this.#heap.markStale();
    if (this.#heap.stale > MIN_STALE_BEFORE_COMPACT && this.#heap.stale > this.#size) this.#heap.compact();
  }

  #remove(e: Entry): void {
    if (e.removed) return;
    e.removed = true;
    this.#size -= 1;
    const grants = this.#agents.get(e.agent);
    if (grants !== undefined) {
      const map = grants.map(e.scope);
      const list = map.get(e.name);
      if (list !== undefined) {
        const i = list.indexOf(e);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) map.delete(e.name);
      }
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

/** The one of two entries that ends later (the first on a tie: the more specific match). */
function later(a: Entry | undefined, b: Entry | undefined): Entry | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b.ref.expiresAt > a.ref.expiresAt ? b : a;
}

/** Keeps each key's list latest-ending first, so `[0]` is the best live grant. */
function insertByEnd(map: Map<string, Entry[]>, key: string, entry: Entry): void {
  const list = map.get(key);
  if (list === undefined) {
    map.set(key, [entry]);
    return;
  }
  let i = 0;
  while (i < list.length && list[i]!.ref.expiresAt >= entry.ref.expiresAt) i++;
  list.splice(i, 0, entry);
}

/** A binary min-heap of entries by end time, with lazy deletion (entries flagged `removed`). */
class ExpiryHeap {
  #items: Entry[] = [];
  stale = 0;

  peek(): Entry | undefined {
    return this.#items[0];
  }

  push(e: Entry): void {
    const items = this.#items;
    items.push(e);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.ref.expiresAt <= e.ref.expiresAt) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = e;
  }

  pop(): Entry | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined) return undefined;
    if (top.removed && this.stale > 0) this.stale -= 1;
    if (items.length > 0) {
      items[0] = last;
      this.#down(0);
    }
    return top;
  }

  markStale(): void {
    this.stale += 1;
  }

  /** Drops every removed entry and re-heapifies: O(n), run only when stale slots outnumber live ones. */
  compact(): void {
    this.#items = this.#items.filter((e) => !e.removed);
    this.stale = 0;
    for (let i = (this.#items.length >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  #down(start: number): void {
    const items = this.#items;
    const n = items.length;
    const e = items[start]!;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && items[r]!.ref.expiresAt < items[l]!.ref.expiresAt ? r : l;
      if (items[c]!.ref.expiresAt >= e.ref.expiresAt) break;
      items[i] = items[c]!;
      i = c;
    }
    items[i] = e;
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
