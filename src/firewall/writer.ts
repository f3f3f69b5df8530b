import type { Logger } from 'pino';
import type { NftRunner } from './nft.js';

/** One address to be reachable until `expiresAt` (epoch ms). */
export interface SetElement {
  /** The set's name, as names.ts makes it ("coding_v4"). */
  readonly set: string;
  readonly family: 4 | 6;
  readonly address: string;
  readonly expiresAt: number;
  /**
   * Until when the agent may use the answer (its TTL, without grace). When the set already holds
   * the address at least that long, the longer expiry is still written, but nobody waits for it.
   */
  readonly neededUntil?: number;
  /** The grant (approval id) whose answer justified it, if one did: revoking the grant closes it. */
  readonly grant?: string;
}

/**
 * What the firewall stage needs of a writer: the SetWriter itself in one
 * process, a remote writer that asks the primary's over IPC in a worker.
 */
export interface SetWrites {
  /** Resolves once every element is in its set (ALREADY_WRITTEN when nothing had to be); rejects when nft failed. */
  write(elements: readonly SetElement[]): Promise<void>;
}

/** What write() returns when nothing needs waiting for: the stage skips its wait (and its timer) on it. */
export const ALREADY_WRITTEN: Promise<void> = Promise.resolve();

/** What one batch did, for metrics. */
export interface BatchReport {
  readonly ok: boolean;
  readonly elements: number;
  readonly seconds: number;
}

export interface SetWriterOptions {
  readonly table: string;
  readonly run: NftRunner;
  readonly now?: () => number;
  readonly onBatch?: (report: BatchReport) => void;
  /**
   * Addresses whose last written expiry is remembered (so none is shortened);
   * beyond it the soonest to expire are forgotten first. Default 1,000,000.
   */
  readonly maxRemembered?: number;
}

/**
 * An expiry this close to the one already written is not written again: a
 * cache hit's aged TTL lands within a second of the miss that filled it, and
 * rewriting it would cost a transaction per answer for nothing.
 */
const SAME_EXPIRY_MS = 1000;

/**
 * How far short of its own expiry the written one may fall before an element
 * is written again: half its grace (the part of the timeout past the answer's
 * use), at least SAME_EXPIRY_MS. With answers.max_ttl every answer moves the
 * expiry on by the time since the last one, so without this slack a busy
 * address cost a transaction per second; with it, one per grace/2. The set
 * still holds the address for the TTL plus at least half the grace.
 */
function slackMs(element: SetElement): number {
  if (element.neededUntil === undefined) return SAME_EXPIRY_MS;
  return Math.max(SAME_EXPIRY_MS, (element.expiresAt - element.neededUntil) / 2);
}

interface Batch {
  readonly elements: Map<string, SetElement>;
  /** Keys whose element is deleted and re-added: the only way to give it a shorter timeout. */
  readonly shorten: Set<string>;
  readonly sets: Set<string>;
  readonly done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Writes set elements to nftables in batches: every write that arrives while
 * a batch is being applied joins the next one, and each batch is one nft
 * transaction. An element's timeout is never shortened: `nft add element` on an
 * element already there replaces its timeout, so the expiry last written per
 * (set, address) is remembered and only a later one is written.
 *
 * Each batch is its own `nft -f -` run: nft reads a file to its end before it
 * applies it, so a long-lived `nft -f -` could never tell us that a batch is
 * in; one short run per batch gives a clean exit status and stderr per
 * transaction, and a dead nft is simply not there for the next batch.
 */
export class SetWriter implements SetWrites {
  readonly #table: string;
  readonly #run: NftRunner;
  readonly #now: () => number;
  readonly #onBatch: ((report: BatchReport) => void) | undefined;
  readonly #maxRemembered: number;
  /** (set, address) → the expiry written in a batch that succeeded. */
  readonly #written = new Map<string, number>();
  /** Sets created by a batch that succeeded (`add set` is idempotent, but not free). */
  readonly #sets = new Set<string>();
  /**
   * For an address some grant's answer opened: the expiry answers without a
   * grant justify (what was written before the first grant answer counts as
   * that), and each grant's. A revoke keeps the longest of the rest.
   */
  readonly #justified = new Map<string, { plain: number; grants: Map<string, number> }>();
  /** Grant id → the keys its answers opened, and the latest expiry among them. */
  readonly #byGrant = new Map<string, { until: number; keys: Set<string> }>();
  #pending: Batch | null = null;
  #running: Batch | null = null;
  #closed = false;

  constructor(opts: SetWriterOptions) {
    this.#table = opts.table;
    this.#run = opts.run;
    this.#now = opts.now ?? Date.now;
    this.#onBatch = opts.onBatch;
    this.#maxRemembered = opts.maxRemembered ?? 1_000_000;
  }

  /** The script that creates the table and these sets if missing, leaving what is in them alone. */
  startScript(sets: readonly string[]): string {
    return [`add table inet ${this.#table}`, ...sets.map((s) => this.#addSet(s))].join('\n') + '\n';
  }

  /** Creates the table and the sets (idempotent). @throws NftError */
  async createTable(sets: readonly string[]): Promise<void> {
    await this.#run(this.startScript(sets));
    for (const s of sets) this.#sets.add(s);
  }

  /**
   * Resolves once every element is in its set with at least its expiry (at
   * once when that was already written, or when what was written already
   * covers the element's `neededUntil`: then the extension is written without
   * holding anyone up). Rejects with the batch's NftError.
   */
  write(elements: readonly SetElement[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('firewall writer closed'));
    const waits = new Set<Promise<void>>();
    for (const element of elements) {
      const key = `${element.set} ${element.address}`;
      this.#justify(key, element);
      const written = this.#written.get(key);
      const slack = slackMs(element);
      if (written !== undefined && element.expiresAt <= written + slack) continue;
      // A cache hit moves the expiry on with the clock; while the set already covers the answer's
      // use, its rewrite must not make the answer wait behind other agents' batches.
      const covered = written !== undefined && element.neededUntil !== undefined && written >= element.neededUntil;
      const running = this.#running?.elements.get(key);
      if (running !== undefined && element.expiresAt <= running.expiresAt + slack) {
        if (!covered) waits.add(this.#running!.done);
        continue;
      }
      const batch = this.#pendingBatch();
      const queued = batch.elements.get(key);
      if (queued === undefined || queued.expiresAt < element.expiresAt) batch.elements.set(key, element);
      if (!this.#sets.has(element.set)) batch.sets.add(element.set);
      if (!covered) waits.add(batch.done);
    }
    if (waits.size === 0) return ALREADY_WRITTEN;
    return waits.size === 1 ? [...waits][0]! : Promise.all(waits).then(() => undefined);
  }

  /**
   * A grant ended early (command.revoked): every address only its answers
   * justified gets `graceMs` from now, so none outlives the grant + grace. An
   * address an answer without a grant (or another live grant) also opened keeps
   * the longest of those. nft never shortens a timeout in place on every kernel,
   * so such an element is deleted and re-added in one transaction. Resolves once
   * that batch is in; rejects with its NftError.
   */
  revoke(grant: string, graceMs: number): Promise<void> {
    const opened = this.#byGrant.get(grant);
    if (opened === undefined) return Promise.resolve();
    this.#byGrant.delete(grant);
    const now = this.#now();
    let batch: Batch | null = null;
    for (const key of opened.keys) {
      const justified = this.#justified.get(key);
      if (justified === undefined || !justified.grants.delete(grant)) continue;
      let until = Math.max(now + graceMs, justified.plain);
      for (const other of justified.grants.values()) until = Math.max(until, other);
      if (justified.grants.size === 0) this.#justified.delete(key);
      const queued = this.#pending?.elements.get(key)?.expiresAt ?? 0;
      const running = this.#running?.elements.get(key)?.expiresAt ?? 0;
      const written = Math.max(this.#written.get(key) ?? 0, queued, running);
      if (written <= until) continue;
      const space = key.indexOf(' ');
      const set = key.slice(0, space);
      batch ??= this.#pendingBatch();
      batch.elements.set(key, { set, family: set.endsWith('_v6') ? 6 : 4, address: key.slice(space + 1), expiresAt: until });
      batch.shorten.add(key);
      // So that an answer arriving before the batch runs compares against what will be there.
      this.#written.delete(key);
      this.#written.set(key, until);
    }
    return batch?.done ?? Promise.resolve();
  }

  /**
   * What the sets already hold (read at start): remembered as written, so an
   * answer after a restart never shortens a timeout an earlier run wrote.
   */
  seed(elements: readonly SetElement[]): void {
    for (const e of elements) this.#remember(`${e.set} ${e.address}`, e.expiresAt);
  }

  /** The expiry last written for an address, if it is remembered (for tests and the admin view). */
  writtenExpiry(set: string, address: string): number | undefined {
    return this.#written.get(`${set} ${address}`);
  }

  /** Addresses per set whose last written expiry has not passed: what the sets hold, as far as this writer knows. */
  liveCounts(): Map<string, number> {
    const now = this.#now();
    const counts = new Map<string, number>();
    for (const [key, expiry] of this.#written) {
      if (expiry <= now) continue;
      const set = key.slice(0, key.indexOf(' '));
      counts.set(set, (counts.get(set) ?? 0) + 1);
    }
    return counts;
  }

  /** Batches already queued still run; new writes are refused. Entries are left to expire on their own. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([this.#running?.done, this.#pending?.done]);
  }

  #pendingBatch(): Batch {
    if (this.#pending) return this.#pending;
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
    // Nobody may be waiting any more (the answer went out at `wait`): never an unhandled rejection.
    done.catch(() => {});
    const batch: Batch = { elements: new Map(), shorten: new Set(), sets: new Set(), done, resolve, reject };
    this.#pending = batch;
    // setImmediate: every answer of this turn of the event loop joins the batch.
    if (!this.#running) setImmediate(() => this.#flush());
    return batch;
  }

  async #flush(): Promise<void> {
    const batch = this.#pending;
    if (!batch || this.#running) return;
    this.#pending = null;
    this.#running = batch;
    const started = performance.now();
    const now = this.#now();
    const expiries = new Map<string, number>();
    const lines = [...batch.sets].map((s) => this.#addSet(s));
    for (const [key, e] of batch.elements) {
      const seconds = Math.max(1, Math.ceil((e.expiresAt - now) / 1000));
      expiries.set(key, now + seconds * 1000);
      if (batch.shorten.has(key)) {
        // add first, so that the delete finds it even if it has just expired.
        const element = `inet ${this.#table} ${e.set} { ${e.address}`;
        lines.push(`add element ${element} timeout 1s }`, `delete element ${element} }`);
      }
      lines.push(`add element inet ${this.#table} ${e.set} { ${e.address} timeout ${seconds}s }`);
    }
    let ok = false;
    try {
      await this.#run(lines.join('\n') + '\n');
      ok = true;
      for (const s of batch.sets) this.#sets.add(s);
      for (const [key, expiry] of expiries) {
        if (batch.shorten.has(key)) this.#written.delete(key);
        this.#remember(key, expiry);
      }
      batch.resolve();
    } catch (err) {
      batch.reject(err);
    } finally {
      this.#onBatch?.({ ok, elements: batch.elements.size, seconds: (performance.now() - started) / 1000 });
      this.#running = null;
      if (this.#pending) void this.#flush();
    }
  }

  #remember(key: string, expiry: number): void {
    const before = this.#written.get(key);
    if (before === undefined || before < expiry) {
      this.#written.delete(key);    // re-inserted last: the map stays roughly in expiry order
      this.#written.set(key, expiry);
    }
    if (this.#written.size > this.#maxRemembered) this.#sweep();
  }

  /** Records why an address is open, for revoke. Bounded like #written: expired records go first. */
  #justify(key: string, element: SetElement): void {
    if (element.grant === undefined) {
      const justified = this.#justified.get(key);
      if (justified !== undefined) justified.plain = Math.max(justified.plain, element.expiresAt);
      return;
    }
    let justified = this.#justified.get(key);
    if (justified === undefined) {
      justified = { plain: this.#written.get(key) ?? 0, grants: new Map() };
      this.#justified.set(key, justified);
    }
    justified.grants.set(element.grant, Math.max(justified.grants.get(element.grant) ?? 0, element.expiresAt));
    let opened = this.#byGrant.get(element.grant);
    if (opened === undefined) {
      opened = { until: 0, keys: new Set() };
      this.#byGrant.set(element.grant, opened);
    }
    opened.keys.add(key);
    opened.until = Math.max(opened.until, element.expiresAt);
    if (this.#justified.size > this.#maxRemembered || this.#byGrant.size > this.#maxRemembered) this.#sweepJustified();
  }

  /** Forgets grants and records whose every expiry has passed (a revoke after that has nothing to close); then the oldest. */
  #sweepJustified(): void {
    const now = this.#now();
    for (const [grant, opened] of this.#byGrant) if (opened.until <= now) this.#byGrant.delete(grant);
    for (const [key, j] of this.#justified) {
      if (j.plain <= now && [...j.grants.values()].every((e) => e <= now)) this.#justified.delete(key);
    }
    const target = Math.floor(this.#maxRemembered * 0.9);
    for (const key of this.#justified.keys()) {
      if (this.#justified.size <= target) break;
      this.#justified.delete(key);
    }
    for (const grant of this.#byGrant.keys()) {
      if (this.#byGrant.size <= target) break;
      this.#byGrant.delete(grant);
    }
  }

  /** Drops what has expired; if that is not enough, the oldest writes (the map's insertion order). */
  #sweep(): void {
    const now = this.#now();
    for (const [key, expiry] of this.#written) if (expiry <= now) this.#written.delete(key);
    const target = Math.floor(this.#maxRemembered * 0.9);
    for (const key of this.#written.keys()) {
      if (this.#written.size <= target) break;
      this.#written.delete(key);
    }
  }

  #addSet(set: string): string {
    const type = set.endsWith('_v6') ? 'ipv6_addr' : 'ipv4_addr';
    return `add set inet ${this.#table} ${set} { type ${type}; flags timeout; }`;
  }
}

/**
 * command.revoked with firewall sync on: the revoked grant's addresses get
 * `graceMs` from now in the sets, so they never outlive the grant + grace;
 * the outcome is logged (a failure leaves them open until their own timeout).
 */
export function closeRevokedGrant(writer: SetWriter, id: string, graceMs: number, log: Logger): void {
  writer.revoke(id, graceMs).then(
    () => log.info({ command_id: id }, 'firewall: revoked grant\'s addresses closed after grace'),
    (err: unknown) => log.error({ command_id: id, err: err instanceof Error ? err.message : String(err) }, 'firewall: could not shorten a revoked grant\'s addresses; they stay open until their timeout'),
  );
}
