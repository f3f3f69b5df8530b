import { describe, expect, it } from 'vitest';
import { parseName, parsePattern } from '../../src/config/pattern.js';

describe('parsePattern', () => {
  it.each([
    ['example.org', 'exact', 'example.org'],
    ['Example.ORG', 'exact', 'example.org'],
    ['example.org.', 'exact', 'example.org'],
    ['*.example.org', 'subtree', 'example.org'],
    ['*.EXAMPLE.org.', 'subtree', 'example.org'],
    ['_dmarc.example.org', 'exact', '_dmarc.example.org'],
    ['localhost', 'exact', 'localhost'],
    ['*.internal', 'subtree', 'internal'],
  ])('%s is %s %s', (text, kind, name) => {
    expect(parsePattern(text)).toEqual({ ok: true, value: { kind, name } });
  });

  const star = '"*" is only allowed as the whole first label, as in "*.example.org"';
  it.each([
    ['*', `"*": ${star}`],
    ['*.', '"*." needs a name after "*."'],
    ['*.exa mple.org', '"*.exa mple.org" may only contain letters, digits, "_", "-" and dots'],
    ['foo*.example.org', `"foo*.example.org": ${star}`],
    ['*.*.example.org', `"*.*.example.org": ${star}`],
    ['a.*.example.org', `"a.*.example.org": ${star}`],
    ['*example.org', `"*example.org": ${star}`],
    ['', '"" is empty'],
    ['.', '"." is empty'],
    ['a..example.org', '"a..example.org" has an empty label'],
    ['.example.org', '".example.org" has an empty label'],
    ['example.org..', '"example.org.." has an empty label'],
    [`${'a'.repeat(64)}.org`, `"${'a'.repeat(64)}.org" has a label longer than 63 characters`],
    ['exa mple.org', '"exa mple.org" may only contain letters, digits, "_", "-" and dots'],
    ['bücher.example', '"bücher.example" may only contain letters, digits, "_", "-" and dots'],
    ['@npm', '"@npm" may only contain letters, digits, "_", "-" and dots'],
  ])('rejects %j', (text, error) => {
    expect(parsePattern(text)).toEqual({ ok: false, error });
  });

  it('accepts 63-character labels and 253-character names, and no more', () => {
    const label = 'a'.repeat(63);
    expect(parseName(label).ok).toBe(true);
    const name253 = [label, label, label, 'a'.repeat(61)].join('.');
    expect(name253).toHaveLength(253);
    expect(parseName(name253).ok).toBe(true);
    expect(parseName(`${name253}.`).ok).toBe(true); // the trailing dot does not count
    expect(parseName(`a${name253}`)).toEqual({ ok: false, error: `"a${name253}" is longer than 253 characters` });
  });
});
