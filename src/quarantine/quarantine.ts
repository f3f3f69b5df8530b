import { BlockList } from 'node:net';
import { parseCidr } from '../config/address.js';
import type { Cidr } from '../config/types.js';
import type { Agent } from '../pipeline/types.js';
import { QuarantineFullError, QuarantineTargetError } from './errors.js';

/** What one quarantine entry names: one agent, one `clients:` entry (every agent it produces), or an address range. */
export type QuarantineKind = 'agent' | 'client' | 'cidr';

export const QUARANTINE_KINDS: readonly QuarantineKind[] = ['agent', 'client', 'cidr'];

/**
 * The running config's names, as the quarantine needs them to canonicalise
 * what an operator typed: identify/clients.ts ClientTable.
 */
export interface AgentNames {
  agentNamed(spelled: string): { readonly name: string; readonly entry: string; readonly address: string | null } | null;
  entryNamed(spelled: string): string | null;
  overlaps(cidr: Cidr): boolean;
}

const NO_NAMES: AgentNames = { agentNamed: () => null, entryNamed: () => null, overlaps: () => false };

/** One entry, as the admin API shows it: `{ "agent": "ci-1" }`, `{ "client": "pool-{ip}" }`, `{ "cidr": "10.0.0.0/8" }`. */
export type QuarantineEntry = Readonly<Partial<Record<QuarantineKind, string>>>;

/**
 * Who set an agent's quarantine: the operator through the admin API, or the
 * approval service (`agent.quarantined`, approval-link.md v1.1). Both may hold
 * one agent at once; the service's release lifts only its own.
 */
export type QuarantineOrigin = 'admin' | 'service';

/** What the approval service said when it quarantined an agent. */
export interface ServiceQuarantineDetail {
  readonly reason?: string;
  /** The reviewer who did it, as the service names them. */
  readonly by?: string;
}

/** An agent the approval service quarantined, as `GET /v1/quarantine` lists it under `service`. */
export interface ServiceQuarantineEntry extends ServiceQuarantineDetail {
  readonly agent: string;
  /** RFC 3339: when this process applied it. */
  readonly since: string;
}

export interface QuarantineStatus {
  readonly kind: QuarantineKind;
  /** Canonical: the agent or entry name as the config spells it, the range as network/prefix. */
  readonly value: string;
  /** Whether the running config has an agent, an entry or a range that this names or reaches. */
  readonly known: boolean;
  /**
   * Whether it is cut off now. For an agent that counts the entries of the
   * other kinds that reach it too, listed in `coveredBy`.
   */
  readonly quarantined: boolean;
  readonly coveredBy: readonly QuarantineEntry[];
  /** For an agent's own entry: who set it (empty when it is not listed). */
  readonly setBy: readonly QuarantineOrigin[];
}

export interface QuarantineChange extends QuarantineStatus {
  /** False when the entry already was (or was not) there: a repeated POST or DELETE. */
  readonly changed: boolean;
}

export interface QuarantineList {
  readonly agents: readonly string[];
  readonly clients: readonly string[];
  readonly cidrs: readonly string[];
  /** Entries the running config cannot reach (a typo, a renamed or removed entry); kept all the same. */
  readonly unknown: readonly QuarantineEntry[];
  /** The agents among `agents` that the approval service quarantined, with what it said. */
  readonly service: readonly ServiceQuarantineEntry[];
}

/** Entries of all kinds together; far more than any operator types, few enough to keep and list. */
export const MAX_QUARANTINE_ENTRIES = 10_000;

/**
 * The operator's quarantine: agents, client entries and address ranges that
 * are cut off. The server keeps one for its whole life, outside the config,
 * so it survives reloads (not restarts); decide/ reads it on every query
 * (`match`), the admin API changes it, and the next query sees the change.
 *
 * `match` is on the query path, so it does the least it can: one Map lookup
 * per non-empty kind, by the agent's name and its entry's name as identify
 * set them (canonical by construction), and a BlockList check of the source
 * address only while ranges are listed. Canonicalising what an operator
 * typed happens on the admin side, once, against the running config.
 *
 * Entries are kept whether the config knows them or not: an operator who
 * quarantines a name before its client entry exists, or a reload that drops
 * and later restores an entry, must not find the cut-off silently gone. The
 * admin API says `known: false`, and a reload logs what the new config no
 * longer reaches (`useNames`).
 */
export class Quarantine {
  /** Canonical agent name → the rule text the decision log shows. */
  readonly #agents = new Map<string, string>();
  /** Canonical agent name → who set it; every key of #agents has an entry. */
  readonly #origins = new Map<string, Origins>();
  /** Entry name as written in `clients:` → rule text. */
  readonly #clients = new Map<string, string>();
  /** "network/prefix" → the range, its rule text, and a BlockList of it alone (to say which range matched). */
  readonly #cidrs = new Map<string, Range>();
  /** All ranges at once; null while there are none, so the query path skips the check. */
  #blocks: BlockList | null = null;
  #names: AgentNames;
  readonly #now: () => number;

  /** Until `useNames` brings the first snapshot's names, no name is known. */
  constructor(names: AgentNames = NO_NAMES, now: () => number = Date.now) {
    this.#names = names;
    this.#now = now;
  }

  get size(): number {
    return this.#agents.size + this.#clients.size + this.#cidrs.size;
  }

  /**
   * What cuts this agent off: "agent ci-1", "client pool-{ip}" or
   * "cidr 10.20.1.0/24" (the decision log's `rule`), or undefined.
   */
  match(agent: Agent): string | undefined {
    if (this.#agents.size > 0) {
      const rule = this.#agents.get(agent.name);
      if (rule !== undefined) return rule;
    }
    if (this.#clients.size > 0) {
      const rule = this.#clients.get(agent.entry);
      if (rule !== undefined) return rule;
    }
    return this.#blocks === null ? undefined : this.#rangeRule(agent.address);
  }

  /**
   * Adds (`on`) or lifts one entry, given as an operator typed it.
   * @throws QuarantineTargetError for a range that does not parse,
   *   QuarantineFullError when adding would pass MAX_QUARANTINE_ENTRIES.
   */
  set(kind: QuarantineKind, spelled: string, on: boolean): QuarantineChange {
    const { value, known } = this.#canonical(kind, spelled);
    const listed = this.#has(kind, value);
    if (on && !listed && this.size >= MAX_QUARANTINE_ENTRIES) {
      throw new QuarantineFullError(MAX_QUARANTINE_ENTRIES);
    }
    if (on !== listed) {
      if (on) this.#add(kind, value);
      else this.#delete(kind, value);
    }
    // The operator's DELETE lifts the agent whoever set it; a POST makes it the operator's too.
    if (on && kind === 'agent') this.#origins.get(value)!.admin = true;
    return { ...this.#status(kind, spelled, value, known), changed: on !== listed };
  }

  /**
   * The approval service quarantines (`on`) or releases an agent
   * (`agent.quarantined` / `agent.released`). Its release lifts only its own
   * quarantine: an agent the operator also quarantined stays cut off until
   * the admin API lifts it.
   * @throws QuarantineFullError as `set`.
   */
  setByService(spelled: string, on: boolean, detail: ServiceQuarantineDetail = {}): QuarantineChange {
    const { value, known } = this.#canonical('agent', spelled);
    const origins = this.#origins.get(value);
    let changed = false;
    if (on) {
      if (origins === undefined) {
        if (this.size >= MAX_QUARANTINE_ENTRIES) throw new QuarantineFullError(MAX_QUARANTINE_ENTRIES);
        this.#add('agent', value);
      }
      const mine = this.#origins.get(value)!;
      changed = mine.service === null;
      mine.service = { ...detail, at: this.#now() };
    } else if (origins !== undefined && origins.service !== null) {
      changed = true;
      origins.service = null;
      if (!origins.admin) this.#delete('agent', value);
    }
    return { ...this.#status('agent', spelled, value, known), changed };
  }

  /** The entry as it stands, without changing it. @throws QuarantineTargetError as `set`. */
  status(kind: QuarantineKind, spelled: string): QuarantineStatus {
    const { value, known } = this.#canonical(kind, spelled);
    return this.#status(kind, spelled, value, known);
  }

  list(): QuarantineList {
    const unknown: QuarantineEntry[] = [];
    for (const [kind, value] of this.#entries()) {
      if (!this.#known(kind, value)) unknown.push({ [kind]: value });
    }
    const service: ServiceQuarantineEntry[] = [];
    for (const [agent, { service: set }] of this.#origins) {
      if (set === null) continue;
      service.push({
        agent, ...(set.reason !== undefined && { reason: set.reason }), ...(set.by !== undefined && { by: set.by }),
        since: new Date(set.at).toISOString(),
      });
    }
    return {
      agents: [...this.#agents.keys()].sort(),
      clients: [...this.#clients.keys()].sort(),
      cidrs: [...this.#cidrs.keys()].sort(),
      unknown,
      service: service.sort((a, b) => (a.agent < b.agent ? -1 : a.agent > b.agent ? 1 : 0)),
    };
  }

  /**
   * A reload brought new client entries. Names kept under another spelling
   * than the new config's (an entry renamed in case, an `{ip}` name that
   * only now can be produced) are re-spelled, so they keep matching.
   * Returns the entries the new config does not reach, for a warning.
   */
  useNames(names: AgentNames): QuarantineList['unknown'] {
    this.#names = names;
    for (const [kind, value] of this.#entries()) {
      if (kind === 'cidr') continue;
      const { value: canonical } = this.#canonical(kind, value);
      if (canonical === value || this.#has(kind, canonical)) continue;
      const origins = this.#origins.get(value);
      this.#delete(kind, value);
      this.#add(kind, canonical);
      if (origins !== undefined) this.#origins.set(canonical, origins);
    }
    return this.list().unknown;
  }

  #status(kind: QuarantineKind, spelled: string, value: string, known: boolean): QuarantineStatus {
    const listed = this.#has(kind, value);
    const coveredBy = kind === 'agent' ? this.#covering(spelled) : [];
    const origins = kind === 'agent' ? this.#origins.get(value) : undefined;
    const setBy: QuarantineOrigin[] = [];
    if (origins?.admin === true) setBy.push('admin');
    if (origins !== undefined && origins.service !== null) setBy.push('service');
    return { kind, value, known, quarantined: listed || coveredBy.length > 0, coveredBy, setBy };
  }

  /** The entries of other kinds that reach the agent an operator named. */
  #covering(spelled: string): QuarantineEntry[] {
    const agent = this.#names.agentNamed(spelled);
    if (agent === null) return [];
    const out: QuarantineEntry[] = [];
    if (this.#clients.has(agent.entry)) out.push({ client: agent.entry });
    if (agent.address !== null && this.#blocks !== null) {
      for (const [text, range] of this.#cidrs) if (range.contains(agent.address)) out.push({ cidr: text });
    }
    return out;
  }

  #canonical(kind: QuarantineKind, spelled: string): { value: string; known: boolean } {
    switch (kind) {
      case 'agent': {
        const agent = this.#names.agentNamed(spelled);
        return agent === null ? { value: spelled, known: false } : { value: agent.name, known: true };
      }
      case 'client': {
        const entry = this.#names.entryNamed(spelled);
        return entry === null ? { value: spelled, known: false } : { value: entry, known: true };
      }
      case 'cidr': {
        const parsed = parseCidr(spelled.trim());
        if (!parsed.ok) throw new QuarantineTargetError(`cidr: ${parsed.error}`);
        return { value: parsed.value.text, known: this.#names.overlaps(parsed.value) };
      }
    }
  }

  #known(kind: QuarantineKind, value: string): boolean {
    if (kind !== 'cidr') return this.#canonical(kind, value).known;
    const entry = this.#cidrs.get(value);
    return entry !== undefined && this.#names.overlaps(entry.cidr);
  }

  #has(kind: QuarantineKind, value: string): boolean {
    return kind === 'agent' ? this.#agents.has(value) : kind === 'client' ? this.#clients.has(value) : this.#cidrs.has(value);
  }

  #add(kind: QuarantineKind, value: string): void {
    if (kind === 'agent') {
      this.#agents.set(value, `agent ${value}`);
      this.#origins.set(value, { admin: false, service: null });
    } else if (kind === 'client') this.#clients.set(value, `client ${value}`);
    else {
      const parsed = parseCidr(value);
      if (!parsed.ok) throw new QuarantineTargetError(`cidr: ${parsed.error}`);   // canonical already: cannot happen
      this.#cidrs.set(value, new Range(parsed.value));
      this.#rebuildBlocks();
    }
  }

  #delete(kind: QuarantineKind, value: string): void {
    if (kind === 'agent') {
      this.#agents.delete(value);
      this.#origins.delete(value);
    } else if (kind === 'client') this.#clients.delete(value);
    else if (this.#cidrs.delete(value)) this.#rebuildBlocks();
  }

  /** A BlockList cannot lose a range, so a change builds it again; changes are rare, checks are per query. */
  #rebuildBlocks(): void {
    if (this.#cidrs.size === 0) {
      this.#blocks = null;
      return;
    }
    const blocks = new BlockList();
    for (const { cidr } of this.#cidrs.values()) blocks.addSubnet(cidr.network, cidr.prefix, cidr.family === 4 ? 'ipv4' : 'ipv6');
    this.#blocks = blocks;
  }

  #rangeRule(address: string): string | undefined {
    const kind = address.includes(':') ? 'ipv6' : 'ipv4';
    if (!this.#blocks!.check(address, kind)) return undefined;
    // Which range, for the log: only for a query that is cut off, and the list is short.
    for (const range of this.#cidrs.values()) if (range.contains(address)) return range.rule;
    return 'cidr';
  }

  /** A snapshot, so callers may change the maps while walking it. */
  #entries(): Array<[QuarantineKind, string]> {
    return [
      ...[...this.#agents.keys()].map((v): [QuarantineKind, string] => ['agent', v]),
      ...[...this.#clients.keys()].map((v): [QuarantineKind, string] => ['client', v]),
      ...[...this.#cidrs.keys()].map((v): [QuarantineKind, string] => ['cidr', v]),
    ];
  }
}

/** Who holds one agent's quarantine; the entry goes when neither does. */
interface Origins {
  admin: boolean;
  service: (ServiceQuarantineDetail & { readonly at: number }) | null;
}

/** One quarantined range. */
class Range {
  readonly rule: string;
  readonly #kind: 'ipv4' | 'ipv6';
  readonly #blocks = new BlockList();

  constructor(readonly cidr: Cidr) {
    this.rule = `cidr ${cidr.text}`;
    this.#kind = cidr.family === 4 ? 'ipv4' : 'ipv6';
    this.#blocks.addSubnet(cidr.network, cidr.prefix, this.#kind);
  }

  contains(address: string): boolean {
    return (address.includes(':') ? 'ipv6' : 'ipv4') === this.#kind && this.#blocks.check(address, this.#kind);
  }
}
