/**
 * Fan-out before effect: a change of the grants or the quarantine goes to
 * every live worker, and the primary reports it done (its listings, its log
 * line, the admin API's answer) only once each worker has acknowledged it.
 * A worker that does not within ACK_TIMEOUT_MS is logged and killed: it is
 * restarted with a fresh snapshot, so no worker goes on serving without it.
 *
 * Grant changes come from the approval link (command.approved, revoked) and
 * from decided holds (the hold registry adds the grant, then answers its
 * waiters): both go through FannedGrantStore.add, which sends at once, so on
 * each worker's ordered channel the grant is ahead of the hold outcome that
 * depends on it.
 */
import type { Logger } from 'pino';
import { GrantStore, type GrantListing, type GrantPattern, type GrantSource, type GrantStoreOptions } from '../grants/grants.js';
import type { GrantRef } from '../pipeline/types.js';
import { Quarantine, type QuarantineChange, type QuarantineKind, type QuarantineList, type ServiceQuarantineDetail } from '../quarantine/quarantine.js';
import type { QuarantineState, ToWorker, Unversioned } from './messages.js';

/** How long every worker has to acknowledge a change. */
export const ACK_TIMEOUT_MS = 1_000;

/** A worker as the fan-out sees it. */
export interface FanOutTarget {
  readonly index: number;
  readonly pid: number | undefined;
  send(message: Unversioned<ToWorker>): void;
  /** Ends a worker that did not acknowledge in time (it is restarted with a fresh snapshot). */
  kill(): void;
}

interface Broadcast {
  readonly waiting: Set<number>;
  readonly done: () => void;
  readonly timer: NodeJS.Timeout;
}

export class FanOut {
  #seq = 0;
  readonly #open = new Map<number, Broadcast>();
  #last: Promise<void> = Promise.resolve();

  constructor(
    private readonly targets: () => Iterable<FanOutTarget>,
    private readonly log: Logger,
    private readonly ackTimeoutMs = ACK_TIMEOUT_MS,
  ) {}

  /** Sends to every live worker now; resolves once each has acknowledged it (or was killed for not doing so). */
  send(message: (seq: number) => Unversioned<ToWorker>): Promise<void> {
    const seq = ++this.#seq;
    const targets = [...this.targets()];
    const m = message(seq);
    for (const t of targets) t.send(m);
    if (targets.length === 0) return Promise.resolve();
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        const b = this.#open.get(seq);
        this.#open.delete(seq);
        for (const t of targets) {
          if (!b?.waiting.has(t.index)) continue;
          this.log.error({ worker: t.index, pid: t.pid, seq, timeout_ms: this.ackTimeoutMs }, 'worker did not acknowledge a grant or quarantine change in time; restarting it');
          t.kill();
        }
        resolve();
      }, this.ackTimeoutMs);
      this.#open.set(seq, { waiting: new Set(targets.map((t) => t.index)), done: resolve, timer });
    });
    // Every broadcast ends within ackTimeoutMs; the last one ending means all before it have (a channel is ordered).
    this.#last = Promise.all([this.#last, done]).then(() => {});
    return done;
  }

  /** Resolves once every change sent so far is acknowledged everywhere. */
  settled(): Promise<void> {
    return this.#last;
  }

  ack(index: number, seq: number): void {
    const b = this.#open.get(seq);
    if (b === undefined) return;
    b.waiting.delete(index);
    if (b.waiting.size === 0) this.#finish(seq, b);
  }

  /** A worker that exited acknowledges nothing more: no change waits for it. */
  forget(index: number): void {
    for (const [seq, b] of [...this.#open]) {
      b.waiting.delete(index);
      if (b.waiting.size === 0) this.#finish(seq, b);
    }
  }

  #finish(seq: number, b: Broadcast): void {
    this.#open.delete(seq);
    clearTimeout(b.timer);
    b.done();
  }
}

/**
 * The primary's grant store: authoritative, and every change also goes to the
 * workers' replicas. A grant is listed (GET /v1/grants) once every worker has it.
 */
export class FannedGrantStore extends GrantStore {
  /** Approval ids with a change not yet acknowledged everywhere → how many such changes. */
  readonly #unpublished = new Map<string, number>();

  constructor(private readonly fanOut: FanOut, opts?: GrantStoreOptions) {
    super(opts);
  }

  override add(agent: string, patterns: readonly GrantPattern[], ref: GrantRef, now: number, source: GrantSource = 'command'): number {
    const added = super.add(agent, patterns, ref, now, source);
    this.#publish(ref.id, (seq) => ({ t: 'grant', seq, op: { kind: 'add', agent, patterns: [...patterns], ref: { ...ref }, now, source } }));
    return added;
  }

  override revoke(id: string): number {
    const ended = super.revoke(id);
    this.#publish(id, (seq) => ({ t: 'grant', seq, op: { kind: 'revoke', id } }));
    return ended;
  }

  /** Every live grant, acknowledged or not: the snapshot a starting worker gets (later changes follow it on the channel). */
  everything(now: number): GrantListing[] {
    return super.list(now);
  }

  override list(now: number): GrantListing[] {
    const all = super.list(now);
    return this.#unpublished.size === 0 ? all : all.filter((g) => !this.#unpublished.has(g.id));
  }

  #publish(id: string, message: (seq: number) => Unversioned<ToWorker>): void {
    this.#unpublished.set(id, (this.#unpublished.get(id) ?? 0) + 1);
    void this.fanOut.send(message).then(() => {
      const left = (this.#unpublished.get(id) ?? 1) - 1;
      if (left === 0) this.#unpublished.delete(id);
      else this.#unpublished.set(id, left);
    });
  }
}

/**
 * The primary's quarantine: every change sends the whole (small) list to the
 * workers; while one is on its way, GET /v1/quarantine shows the list as it
 * was before, and the admin API answers once it arrived (`published`).
 */
export class FannedQuarantine extends Quarantine {
  #inFlight = 0;
  #shown: QuarantineList | null = null;

  constructor(private readonly fanOut: FanOut) {
    super();
  }

  override set(kind: QuarantineKind, spelled: string, on: boolean): QuarantineChange {
    const before = this.#inFlight === 0 ? super.list() : null;
    const result = super.set(kind, spelled, on);
    if (result.changed) this.#publish(before);
    return result;
  }

  override setByService(spelled: string, on: boolean, detail?: ServiceQuarantineDetail): QuarantineChange {
    const before = this.#inFlight === 0 ? super.list() : null;
    const result = super.setByService(spelled, on, detail);
    if (result.changed) this.#publish(before);
    return result;
  }

  override list(): QuarantineList {
    return this.#inFlight > 0 && this.#shown !== null ? this.#shown : super.list();
  }

  /** What is listed now, acknowledged or not: the snapshot a starting worker gets. */
  state(): QuarantineState {
    const { agents, clients, cidrs } = super.list();
    return { agents, clients, cidrs };
  }

  /** Resolves once every change so far reached every worker (the admin API answers then). */
  readonly published = (): Promise<void> => this.fanOut.settled();

  /** Sends the list as it is now to every worker (after a change, or after a reload re-spelled names). */
  publish(): Promise<void> {
    return this.#publish(this.#inFlight === 0 ? super.list() : null);
  }

  #publish(before: QuarantineList | null): Promise<void> {
    if (before !== null) this.#shown = before;
    // As it is now, not as list() shows it while a change is on its way.
    const { agents, clients, cidrs } = super.list();
    const state = { agents, clients, cidrs };
    this.#inFlight += 1;
    return this.fanOut.send((seq) => ({ t: 'quarantine', seq, state })).then(() => {
      this.#inFlight -= 1;
      if (this.#inFlight === 0) this.#shown = null;
    });
  }
}
