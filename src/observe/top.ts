/**
 * What the console's "top" panels show: the names most often blocked and the
 * agents asking most, over the last hour. Fed by every decision (whatever
 * log.queries says), so it must cost a couple of map updates per query and
 * stay bounded however many names a flood (or a tunnel) makes up.
 *
 * Sixty one-minute buckets in a ring; each bucket keeps at most `maxKeys`
 * names and `maxKeys` agents, and counts what it could not attribute
 * (`other`), so a query is never lost from the totals, only from the lists.
 *
 * The counter itself stays in the process that answers queries. What leaves
 * it is a TopSnapshot, plain data, and mergeTop() adds snapshots together:
 * with several worker processes the primary asks each for a snapshot and
 * merges them, and http/ sees only a function that returns a snapshot.
 */

/** One name (a blocked query name, or an agent) and how often it was counted. */
export interface TopCount {
  readonly name: string;
  readonly count: number;
}

/** A blocked query name: how often, and how many of those for a reason `suggest` answers with an allow entry (the role did not cover it). */
export interface BlockedCount extends TopCount {
  readonly uncovered: number;
}

/** The counts of a time window, as plain data: what a worker would send its primary. */
export interface TopSnapshot {
  /** Start and end of the window (ms since the epoch): the oldest bucket counted, and when the snapshot was taken. */
  readonly since: number;
  readonly until: number;
  /** Every decision in the window. */
  readonly queries: number;
  /** Decisions with `blocked: true`: the agent did not get the upstream's answer. */
  readonly blocked: number;
  /** Blocked query names, most often first (ties by name), at most `listed` of them. */
  readonly names: readonly BlockedCount[];
  /** Agents by queries, most first (ties by name), at most `listed` of them. Queries of unknown sources have no agent. */
  readonly agents: readonly TopCount[];
  /** Counted but not in the lists above: cut at a bucket's key cap, or below the listed ones. */
  readonly other: { readonly names: number; readonly agents: number };
}

export interface TopLimits {
  /** Buckets of `bucketMs` each: the window is their product (an hour). */
  readonly buckets: number;
  readonly bucketMs: number;
  /** Distinct names (and, apart, agents) one bucket keeps; beyond, counted in `other`. */
  readonly maxKeys: number;
  /** Entries a snapshot lists of each kind. More than the console shows, so that merged snapshots still rank well. */
  readonly listed: number;
}

export const TOP_DEFAULTS: TopLimits = { buckets: 60, bucketMs: 60_000, maxKeys: 2_000, listed: 100 };

interface Bucket {
  /** Which bucketMs-long slot of time this is (Math.floor(ms / bucketMs)); -1: never used. */
  slot: number;
  queries: number;
  blocked: number;
  readonly names: Map<string, NameTally>;
  readonly agents: Map<string, number>;
  cutNames: number;
  cutAgents: number;
}

/**
 * What a decision was, for these counts: the agent got the upstream's answer
 * (`answered`), or not (`blocked`), or not because its role did not cover the
 * name (`uncovered`: unlisted and the like, what suggest answers with an allow entry).
 */
export type TopOutcome = 'answered' | 'blocked' | 'uncovered';

/** One blocked name's counts in one bucket. */
interface NameTally {
  count: number;
  uncovered: number;
}

export class TopCounter {
  readonly #limits: TopLimits;
  readonly #ring: Bucket[];

  constructor(limits: Partial<TopLimits> = {}) {
    this.#limits = { ...TOP_DEFAULTS, ...limits };
    this.#ring = Array.from({ length: this.#limits.buckets }, () => ({
      slot: -1, queries: 0, blocked: 0, names: new Map(), agents: new Map(), cutNames: 0, cutAgents: 0,
    }));
  }

  /** One decision: its agent (none for an unknown source), its query name (none when it was not decoded), and what it was. */
  record(agent: string | undefined, qname: string | undefined, outcome: TopOutcome, now: number = Date.now()): void {
    const bucket = this.#bucket(now);
    bucket.queries++;
    if (agent !== undefined) {
      if (!bump(bucket.agents, agent, this.#limits.maxKeys)) bucket.cutAgents++;
    }
    if (outcome === 'answered') return;
    bucket.blocked++;
    if (qname === undefined) {
      bucket.cutNames++;
      return;
    }
    let tally = bucket.names.get(qname);
    if (tally === undefined) {
      if (bucket.names.size >= this.#limits.maxKeys) {
        bucket.cutNames++;
        return;
      }
      bucket.names.set(qname, (tally = { count: 0, uncovered: 0 }));
    }
    tally.count++;
    if (outcome === 'uncovered') tally.uncovered++;
  }

  /** The last hour (the buckets still in the window at `now`), summed. */
  snapshot(now: number = Date.now()): TopSnapshot {
    const { bucketMs, buckets, listed } = this.#limits;
    const current = Math.floor(now / bucketMs);
    const oldest = current - buckets + 1;
    const sums = new Sums();
    for (const b of this.#ring) {
      if (b.slot < oldest || b.slot > current) continue;
      sums.add(b.queries, b.blocked, b.cutNames, b.cutAgents);
      for (const [name, t] of b.names) sums.addName(name, t.count, t.uncovered);
      for (const [agent, n] of b.agents) sums.addAgent(agent, n);
    }
    return sums.snapshot(oldest * bucketMs, now, listed);
  }

  #bucket(now: number): Bucket {
    const slot = Math.floor(now / this.#limits.bucketMs);
    const bucket = this.#ring[slot % this.#ring.length]!;
    if (bucket.slot !== slot) {
      // A slot an hour old (or never used) is reused for this minute.
      bucket.slot = slot;
      bucket.queries = bucket.blocked = bucket.cutNames = bucket.cutAgents = 0;
      bucket.names.clear();
      bucket.agents.clear();
    }
    return bucket;
  }
}

/**
 * Snapshots of several processes as one: totals added, lists merged by name
 * and ranked again, the window the widest of them. Pure: no clock, no state. Exact while each snapshot
 * lists every name it counted; otherwise a name that just missed each list
 * may be missing from the merged one too, and its count is in `other`.
 */
export function mergeTop(snapshots: readonly TopSnapshot[], listed: number = TOP_DEFAULTS.listed): TopSnapshot {
  const sums = new Sums();
  let since = Infinity;
  let until = -Infinity;
  for (const s of snapshots) {
    sums.add(s.queries, s.blocked, s.other.names, s.other.agents);
    since = Math.min(since, s.since);
    until = Math.max(until, s.until);
    for (const c of s.names) sums.addName(c.name, c.count, c.uncovered);
    for (const c of s.agents) sums.addAgent(c.name, c.count);
  }
  // No snapshot at all: an empty window at 0, so the function stays pure (no clock).
  return sums.snapshot(Number.isFinite(since) ? since : 0, Number.isFinite(until) ? until : 0, listed);
}

/** Counts added up (from a window's buckets, or from several snapshots), then ranked into one snapshot. */
class Sums {
  #queries = 0;
  #blocked = 0;
  #otherNames = 0;
  #otherAgents = 0;
  readonly #names = new Map<string, NameTally>();
  readonly #agents = new Map<string, number>();

  add(queries: number, blocked: number, otherNames: number, otherAgents: number): void {
    this.#queries += queries;
    this.#blocked += blocked;
    this.#otherNames += otherNames;
    this.#otherAgents += otherAgents;
  }

  addName(name: string, count: number, uncovered: number): void {
    const t = this.#names.get(name);
    if (t === undefined) this.#names.set(name, { count, uncovered });
    else {
      t.count += count;
      t.uncovered += uncovered;
    }
  }

  addAgent(agent: string, count: number): void {
    this.#agents.set(agent, (this.#agents.get(agent) ?? 0) + count);
  }

  snapshot(since: number, until: number, listed: number): TopSnapshot {
    const names = cut([...this.#names].map(([name, t]) => ({ name, count: t.count, uncovered: t.uncovered })), listed);
    const agents = cut([...this.#agents].map(([name, count]) => ({ name, count })), listed);
    return {
      since, until, queries: this.#queries, blocked: this.#blocked, names: names.list, agents: agents.list,
      other: { names: this.#otherNames + names.left, agents: this.#otherAgents + agents.left },
    };
  }
}

/** Adds one to `key` unless that would make the map hold more than `max` keys; false when it was not counted. */
function bump(map: Map<string, number>, key: string, max: number): boolean {
  const n = map.get(key);
  if (n !== undefined) map.set(key, n + 1);
  else if (map.size < max) map.set(key, 1);
  else return false;
  return true;
}

/** The `listed` largest counts, most first and ties by name (so the order is stable), and the sum of the rest. */
function cut<T extends TopCount>(all: T[], listed: number): { list: T[]; left: number } {
  all.sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const list = all.slice(0, listed);
  const left = all.slice(listed).reduce((n, c) => n + c.count, 0);
  return { list, left };
}
