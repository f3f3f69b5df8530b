/**
 * Each lint on small configs through the real loader: what it warns about,
 * what it must leave alone, and where it places the warning.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigLocations } from '../../src/config/locate.js';
import { shadowedClients } from '../../src/lint/clients.js';
import { holdWithoutApproval, longHoldTimeout } from '../../src/lint/holds.js';
import { deniedAllowRules, unreachablePrivateOk } from '../../src/lint/lists.js';
import { lintConfig, type Lint } from '../../src/lint/lint.js';
import { unusedRoles } from '../../src/lint/roles.js';
import { dedent } from '../helpers/proxy.js';

/** `lint`'s warnings for config text, as "LINE:COL message". */
function warnings(lint: Lint, yaml: string): string[] {
  const text = dedent(yaml);
  const config = parseConfig(text, 't.yaml', { readFile: () => 'nameserver 127.0.0.1\n' });
  return lint(config, ConfigLocations.parse(text, 't.yaml')).map((w) => `${w.line}:${w.col} ${w.message}`);
}

const clients = (entries: ReadonlyArray<readonly string[]>): string => `
  version: 1
  clients:
  ${entries.map((m, i) => `  - { name: c${i}, match: ${JSON.stringify(m)}, role: r }`).join('\n  ')}
  roles: { r: {} }
`;

describe('shadowedClients', () => {
  it('names the wider earlier entry that claims a later one', () => {
    expect(warnings(shadowedClients, clients([['10.0.0.0/8'], ['10.1.2.3']]))).toEqual([
      '4:5 clients[1] "c1" never matches: every address in it is claimed first by clients[0] "c0" (line 3)',
    ]);
  });

  it('finds a range claimed by several earlier entries together, in IPv6 too', () => {
    expect(warnings(shadowedClients, clients([['fd00::/65'], ['fd00::8000:0:0:0/65'], ['fd00::/64']]))).toEqual([
      '5:5 clients[2] "c2" never matches: every address in it is claimed first by clients[0] "c0" (line 3), clients[1] "c1" (line 4)',
    ]);
  });

  it('leaves alone an entry only partly covered, in either order', () => {
    expect(warnings(shadowedClients, clients([['10.0.0.7'], ['10.0.0.0/24']]))).toEqual([]);
    expect(warnings(shadowedClients, clients([['10.0.0.0/25'], ['10.0.0.0/24']]))).toEqual([]);
    expect(warnings(shadowedClients, clients([['10.0.0.0/24'], ['10.0.0.0/24', '10.0.1.0/24']]))).toEqual([
      '4:25 clients[1].match[0] 10.0.0.0/24 never matches: every address in it is claimed first by clients[0] "c0" (line 3)',
    ]);
  });

  it('does not mix IPv4 and IPv6 ranges, and keeps a later duplicate of an entry\'s own range alive', () => {
    expect(warnings(shadowedClients, clients([['0.0.0.0/0'], ['::/0']]))).toEqual([]);
    expect(warnings(shadowedClients, clients([['10.0.0.0/24', '10.0.0.0/25']]))).toEqual([]);
  });

  it('treats entries with the same name apart', () => {
    const yaml = `
      version: 1
      clients:
        - { name: same, match: ["10.0.0.0/24"], role: r }
        - { name: same, match: ["10.0.0.5"], role: r }
      roles: { r: {} }
    `;
    expect(warnings(shadowedClients, yaml)).toEqual(['4:5 clients[1] "same" never matches: every address in it is claimed first by clients[0] "same" (line 3)']);
  });
});

/** Role r (line 5) with `body` from line 5 col 6, `roles` more roles after it, `top` more top-level keys after those. */
const role = (body: string, more: { roles?: string; top?: string } = {}): string => [
  'version: 1',
  'clients: [{ name: a, match: ["127.0.0.1"], role: r }]',
  'roles:',
  '  r:',
  `    ${body}`,
  ...(more.roles ? [`  ${more.roles}`] : []),
  ...(more.top ? [more.top] : []),
  '',
].join('\n');

describe('deniedAllowRules', () => {
  it('warns about the same name in both lists, and an exact or subtree allow under a deny subtree', () => {
    expect(warnings(deniedAllowRules, role('{ allow: [a.test, x.b.test, "*.c.test", "*.d.test"], deny: [a.test, "*.b.test", "*.c.test", "*.test"] }'))).toEqual([
      '5:15 roles.r: "a.test" is allowed and denied: deny rule "a.test" (line 5) covers it, and deny wins',
      '5:23 roles.r: "x.b.test" is allowed and denied: deny rule "*.b.test" (line 5) covers it, and deny wins',
      '5:33 roles.r: "*.c.test" is allowed and denied: deny rule "*.c.test" (line 5) covers it, and deny wins',
      '5:45 roles.r: "*.d.test" is allowed and denied: deny rule "*.test" (line 5) covers it, and deny wins',
    ]);
  });

  it('leaves alone a deny carved out of a wider allow, and an apex next to its subtree', () => {
    expect(warnings(deniedAllowRules, role('{ allow: ["*.github.com", b.test], deny: [gist.github.com, "*.x.github.com", "*.b.test"] }'))).toEqual([]);
  });

  it('places each rule at its own list item, a preset\'s at the preset', () => {
    const yaml = role(['allow:', '      - github.com', '      - "@npm"', '    deny:', '      - "*.npmjs.org"'].join('\n'));
    expect(warnings(deniedAllowRules, yaml)).toEqual([
      '7:9 roles.r: "@npm:registry.npmjs.org" is allowed and denied: deny rule "*.npmjs.org" (line 9) covers it, and deny wins',
    ]);
  });
});

describe('unreachablePrivateOk', () => {
  const body = '{ allow: [db.corp.test, "*.svc.test"], private_ok: [db.corp.test, "*.corp.test", "*.x.svc.test", "*.svc.test", printer.test, "*.lab.test"], unlisted: sinkhole }';

  it('warns about entries that share no name with the allow list', () => {
    expect(warnings(unreachablePrivateOk, role(body)).map((w) => w.split(' never')[0])).toEqual([
      '5:116 roles.r.private_ok: "printer.test"',
      '5:130 roles.r.private_ok: "*.lab.test"',
    ]);
  });

  it('says nothing when another way forwards names: unlisted forward, or an approval section (grants, holds)', () => {
    expect(warnings(unreachablePrivateOk, role(body.replace('sinkhole', 'forward')))).toEqual([]);
    expect(warnings(unreachablePrivateOk, role(body, { top: 'approval: { url: "http://127.0.0.1:8080" }' }))).toEqual([]);
  });
});

describe('holds', () => {
  it('warns about a hold_timeout of 5 s or more, at its value', () => {
    const at = (t: string) => warnings(longHoldTimeout, role('{}', { top: `approval: { url: "http://127.0.0.1:8080", hold_timeout: ${t} }` }));
    expect(at('4999ms')).toEqual([]);
    expect(at('5s')).toEqual([expect.stringMatching(/^6:57 approval\.hold_timeout: 5 s is not under the 5 s/)]);
    expect(warnings(longHoldTimeout, role('{}'))).toEqual([]);
  });

  it('warns about unlisted: hold only without an approval section', () => {
    expect(warnings(holdWithoutApproval, role('{ unlisted: hold }'))).toEqual([
      '5:17 roles.r.unlisted: hold without an approval section acts as sinkhole (nobody can be asked)',
    ]);
    expect(warnings(holdWithoutApproval, role('{ unlisted: hold }', { top: 'approval: { url: "http://127.0.0.1:8080" }' }))).toEqual([]);
  });
});

describe('unusedRoles', () => {
  it('names each role no client uses, at its key', () => {
    expect(warnings(unusedRoles, role('{}', { roles: 'spare: {}' }))).toEqual(['6:3 roles.spare: no client entry uses this role']);
  });
});

describe('lintConfig', () => {
  it('returns every lint\'s warnings in file order', () => {
    const yaml = role('{ unlisted: hold }', { roles: 'spare: {}' });
    expect(warnings(lintConfig, yaml).map((w) => w.split(' ')[0])).toEqual(['5:17', '6:3']);
  });
});
