import { getDomain } from 'tldts';
import type { TunnelingConfig } from '../config/types.js';
import type { DomainBudgetLookup } from './domain-budgets.js';
import { Memo } from './memo.js';
import { nameSignal, type NameSignal } from './name-signals.js';

/**
 * The tunneling check of one query (roles.<name>.tunneling): the name's own
 * signals (name-signals.ts), then the agent's windowed budgets under the
 * name's registrable domain (domain-budgets.ts). The result is the rule text
 * of the spec, `<key> (<value> > <max>) under <registrable domain>`, or
 * undefined when nothing tripped.
 *
 * The budgets are spent even by a name its own signals trip: those are bytes
 * the agent tried to send all the same.
 */
export function tunnelingRule(
  agent: string, qname: string, limits: TunnelingConfig, budgets: DomainBudgetLookup, now: number,
  names?: NameFactsMemo,
): string | undefined {
  const { domain, below, own } = names ? names.of(qname, limits) : nameFacts(qname, limits);
  const spent = budgets.spend(agent, domain, qname, below, limits, now);
  const tripped = own ?? spent;
  if (tripped === undefined) return undefined;
  const value = tripped.key === 'max_label_entropy' ? tripped.value.toFixed(2) : String(tripped.value);
  const max = tripped.key === 'max_label_entropy' ? tripped.max.toFixed(2) : String(tripped.max);
  return `${tripped.key} (${value} > ${max}) under ${domain}`;
}

/** What a name carries whoever asks it and however often: its registrable domain, the characters below it, and its own signal under `limits`. */
interface NameFacts {
  readonly domain: string;
  readonly below: number;
  readonly own: NameSignal | undefined;
}

/** Names whose facts each role's limits remember per memo generation (memo.ts), as Role.lists does for the lists. */
const FACTS_MEMO_GENERATION = 8192;

/**
 * Per role (its limits object: one per role and config snapshot, never
 * changed; a reload makes new ones, and so new memos), the facts of the names
 * asked lately, so a name asked again costs a lookup instead of tldts' split
 * (about 1 µs) and the label scan. The serving chain keeps one per pipeline
 * (decide.ts); keyed by the limits rather than held by Role because
 * pipeline/'s RolePolicy, which decide() is given, cannot name decide/'s
 * types. The budgets are still spent for every query.
 */
export class NameFactsMemo {
  readonly #byRole = new WeakMap<TunnelingConfig, Memo<NameFacts>>();

  of(qname: string, limits: TunnelingConfig): NameFacts {
    let memo = this.#byRole.get(limits);
    if (memo === undefined) {
      memo = new Memo<NameFacts>(FACTS_MEMO_GENERATION);
      this.#byRole.set(limits, memo);
    }
    let facts = memo.get(qname);
    if (facts === undefined) memo.set(qname, (facts = nameFacts(qname, limits)));
    return facts;
  }
}

function nameFacts(qname: string, limits: TunnelingConfig): NameFacts {
  const { domain, below } = splitAtRegistrable(qname);
  return { domain, below, own: nameSignal(qname, qname.slice(0, below), limits) };
}

/**
 * The name is a DNS name, not a URL nor a hostname: tldts must not cut it at a
 * "/", "?", "@" or ":" (it takes "x/y.example.com" for the host "x"), nor give
 * up on a "+" (base64) — either would make every such name its own domain,
 * with a budget of its own, which is all a tunnel needs to go unseen.
 */
const PSL = { allowPrivateDomains: true, extractHostname: false, validateHostname: false } as const;

/**
 * The name's registrable domain as tldts computes it, private PSL section
 * included (spec), and how many characters lie below it ("a.b" of
 * "a.b.example.com": 3). A name with none — a public suffix itself ("com",
 * "co.uk", "github.io"), a single label ("localhost"), an IP literal — is its
 * own domain with nothing below: no one but the suffix's operator, the root
 * or the upstream answers it, so no tunnel can carry data in it, and each
 * such name counts as one name under itself.
 */
export function splitAtRegistrable(qname: string): { domain: string; below: number } {
  const domain = getDomain(qname, PSL);
  if (domain === null || domain === qname) return { domain: domain ?? qname, below: 0 };
  return { domain, below: qname.length - domain.length - 1 };
}
